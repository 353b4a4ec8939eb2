"""Examples and benchmarks: a package so that the benchmarks import each other (python -m examples.benchmarks.X)."""
