"""Benchmarks of the running service (``codereview bench server``)."""
