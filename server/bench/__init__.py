"""Benchmarks: ``python -m server.bench``.  Not tests: they print figures, assert nothing."""
