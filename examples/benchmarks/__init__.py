"""Benchmarks, run from the repository root as python -m examples.benchmarks.NAME (BENCHMARKS.md)."""
