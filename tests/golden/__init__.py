"""Golden files of the before/after refactoring guard (see tests/test_golden.py)."""
