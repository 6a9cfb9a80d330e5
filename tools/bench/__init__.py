"""Micro-benchmarks of pure domain code; each module has `run()` and a `__main__` table."""
