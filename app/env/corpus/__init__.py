"""Generated corpus: base modules, bug operators and the seeded episode generator."""
