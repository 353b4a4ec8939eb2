"""Score every ``<system>.<decoding>.txt`` of a folder into one results.json.

    python -m nd_eval.results --outputs DIR --ref R --train T [--vocab V] --json-out F

F gets ``{system: {decoding: {metric: value}}}`` with the paper's eight metrics (fractions) and
EXTRA_KEYS (entropy, Self-BLEU, length, distinct responses); a Markdown table of the paper's
metrics, length and distinct responses is printed.
"""
import argparse
import glob
import json
import os

from preprocess.textio import InputError, atomic_outputs, read_lines, run_cli

from .__main__ import score_file
from .io import read_vocab

PAPER_KEYS = ["dist-1", "dist-2", "dist-3", "lf", "kl-1", "kl-2", "bleu-3", "bleu-4"]
# beside the paper's: what tells long rambling or a few stock answers from real diversity
EXTRA_KEYS = ["ent-4", "self-bleu-4", "mean-length", "at-limit", "distinct-responses", "top10-share"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nd_eval.results", description=__doc__.split("\n\n")[0])
    parser.add_argument("--outputs", required=True, help="folder of <system>.<decoding>.txt files")
    parser.add_argument("--ref", required=True, help="reference responses, one a line")
    parser.add_argument("--train", required=True, help="training responses, one a line")
    parser.add_argument("--vocab", help="vocabulary file, one token a line")
    parser.add_argument("--json-out", required=True, help="where to write results.json")
    args = parser.parse_args(argv)
    refs = (args.ref, read_lines(args.ref))
    train = [line.split() for line in read_lines(args.train)]
    vocab = read_vocab(args.vocab) if args.vocab else None
    results = {}
    for path in sorted(glob.glob(os.path.join(args.outputs, "*.*.txt"))):
        system, decoding = os.path.basename(path)[: -len(".txt")].split(".", 1)
        scores = score_file(path, refs, train, vocab)
        results.setdefault(system, {})[decoding] = {k: scores[k] for k in PAPER_KEYS + EXTRA_KEYS}
    if not results:
        raise InputError(f"no <system>.<decoding>.txt files in {args.outputs}")
    with atomic_outputs(args.json_out) as (out,):
        json.dump(results, out, indent=1)
    shown = PAPER_KEYS + ["mean-length", "distinct-responses"]
    print("| system | decoding | " + " | ".join(shown) + " |")
    print("|" + "---|" * (len(shown) + 2))
    for system, decodings in results.items():
        for decoding, scores in decodings.items():
            print(f"| {system} | {decoding} | " + " | ".join(f"{scores[k]:.4f}" if isinstance(scores[k], float)
                                                              else str(scores[k]) for k in shown) + " |")


if __name__ == "__main__":
    run_cli(main)
