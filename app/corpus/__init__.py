"""Verification of the generated corpus: every planted issue proven by a check that is not the
generator (compile(), the base module's own tests, Bandit, or a shipped exploit)."""
