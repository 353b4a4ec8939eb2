"""Pairs per second of preprocess/source_entropy.py's scoring and D_N selection.

    OMP_NUM_THREADS=1 python -m examples.benchmarks.source_entropy_speed [N]

N synthetic pairs (default 1,000,000) with a Zipf-like response distribution, so that
many responses repeat as in real dialogue data.
"""
import random
import sys
import time

from preprocess.source_entropy import source_entropy, top_indices


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(0)
    responses = [f"response number {i} ." for i in range(50_000)]
    weights = [1 / (i + 1) for i in range(len(responses))]
    pairs = [(f"query {rng.randrange(200_000)} here", r) for r in rng.choices(responses, weights, k=n)]
    start = time.perf_counter()
    scores = source_entropy(pairs)
    top_indices(scores, 0.5)
    elapsed = time.perf_counter() - start
    print(f"{n} pairs in {elapsed:.2f} s: {n / elapsed:,.0f} pairs/s (scoring + top-50% selection, one core)")


if __name__ == "__main__":
    main()
