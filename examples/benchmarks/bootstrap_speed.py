"""Seconds for the paired bootstrap of nd_eval: 1,000 resamples of 6,841 queries, three systems
against a baseline (the size of the DailyDialog test set), against the 60 s target.

    python -m examples.benchmarks.bootstrap_speed [RESAMPLES] [LINES]

The systems' responses are DailyDialog-like responses of the bundled sample, cycled with
different shifts; building the per-line statistics (sentence BLEU included) is timed, the
plain scores of ``python -m nd_eval`` are not.
"""
import sys
import time
from collections import Counter

from examples.benchmarks.eval_speed import sample_responses
from nd_eval.bootstrap import SystemStatistics, paired_bootstrap

TARGET_S = 60.0


def main():
    resamples = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    lines = int(sys.argv[2]) if len(sys.argv) > 2 else 6841
    responses, refs, _ = sample_responses(lines, 7)
    train_counts = Counter(t for line in responses for t in line)
    vocab = set(train_counts)
    systems = [sample_responses(lines, shift)[2] for shift in (7, 11, 13, 17)]
    start = time.perf_counter()
    stats = [SystemStatistics(hyps, refs, train_counts, vocab) for hyps in systems]
    built = time.perf_counter() - start
    paired_bootstrap(stats[:3], stats[3], resamples)
    elapsed = time.perf_counter() - start
    print(f"paired bootstrap, {resamples} resamples x {lines} lines, 3 systems + baseline: {elapsed:.1f} s "
          f"(statistics {built:.1f} s, resampling {elapsed - built:.1f} s); target {TARGET_S:.0f} s: "
          f"{elapsed / TARGET_S:.2f}x the target")


if __name__ == "__main__":
    main()
