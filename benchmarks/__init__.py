"""Benchmark suite: `python -m benchmarks` (or `make bench`)."""
