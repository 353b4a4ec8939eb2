"""Seconds to score 10,000 responses with every metric of nd_eval.

    python -m examples.benchmarks.eval_speed [N]

Hypotheses and references are N DailyDialog-like responses built from the bundled sample
(responses of the sample's training pairs, cycled and shifted so that hypothesis and
reference differ); the training side is the sample's 6,000 responses. Imports are not timed.
"""
import os
import sys
import time

from nd_eval.metrics import evaluate

TARGET_S = 3.0
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sample_responses(lines, shift):
    """(the bundled sample's training responses, ``lines`` of them cycled as references, the same
    cycled with stride ``shift`` as hypotheses): token lists."""
    with open(os.path.join(ROOT, "examples", "sample", "train_data.txt"), encoding="utf-8") as f:
        responses = [line.split("__eou__", 1)[1].split() for line in f]
    refs = [responses[i % len(responses)] for i in range(lines)]
    return responses, refs, [responses[(i * shift + 3) % len(responses)] for i in range(lines)]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    responses, refs, hyps = sample_responses(n, 7)
    start = time.perf_counter()
    evaluate(hyps, refs, responses)
    elapsed = time.perf_counter() - start
    print(f"{n} responses scored (Dist-1/2/3, Ent-1..4, LF, KL-1/2 and exact, BLEU-3/4, sacreBLEU, Self-BLEU-4, "
          f"length, distinct responses) in {elapsed:.2f} s; target {TARGET_S:.0f} s: "
          f"{elapsed / TARGET_S:.2f}x the target")


if __name__ == "__main__":
    main()
