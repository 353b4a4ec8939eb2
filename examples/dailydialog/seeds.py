"""Systems over seeds against the Standard of the same seed: each seed's metrics, their mean and
standard deviation, and each seed's ratio to its Standard with a paired-bootstrap interval.

    python examples/dailydialog/seeds.py OUTPUTS --ref REF --train TRAIN [--vocab V] \
        --systems nd adalabel [--baseline standard] [--seeds 1 2 3] [--decoding greedy] [--bootstrap 1000] \
        [--json SEEDS.json]

A system's response file for seed N is OUTPUTS/<system><-seedN>.<decoding>.txt, run.sh's naming
(no suffix for seed 1); its baseline is OUTPUTS/<baseline><-seedN>.<decoding>.txt. Seeds whose
files are missing are reported as missing, not skipped silently. Prints Markdown; --json also writes
the per-seed metrics and ratios (the input of targets_figure.py).
"""
import argparse
import json
import os
import statistics

from nd_eval.__main__ import bootstrap_rows, score_file
from nd_eval.io import read_vocab
from preprocess.textio import InputError, atomic_outputs, read_lines, run_cli

SHOWN = ["dist-2", "bleu-4", "mean-length", "distinct-responses"]
RATIOS = ["dist-2", "bleu-4"]


def response_file(outputs, system, seed, decoding):
    return os.path.join(outputs, f"{system}{'' if seed == 1 else f'-seed{seed}'}.{decoding}.txt")


def mean_sd(values):
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", help="folder of <system>[-seedN].<decoding>.txt (run.sh's outputs/)")
    parser.add_argument("--ref", required=True, help="reference responses of the decoded split")
    parser.add_argument("--train", required=True, help="training responses (LF; the vocabulary unless --vocab)")
    parser.add_argument("--vocab", help="vocabulary file (the authors' vocab.txt)")
    parser.add_argument("--systems", nargs="+", required=True, help="systems compared with the baseline")
    parser.add_argument("--baseline", default="standard", help="the system of the ratios (default standard)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="seeds (default 1 2 3)")
    parser.add_argument("--decoding", default="greedy", help="decoding (default greedy)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="paired resamples per ratio (default 1000)")
    parser.add_argument("--json", help="also write {baseline, decoding, resamples, systems: {system: {seed: "
                                       "{metrics, ratios}}}} here (for targets_figure.py)")
    args = parser.parse_args(argv)
    refs = (args.ref, read_lines(args.ref))
    train = [line.split() for line in read_lines(args.train)]
    vocab = read_vocab(args.vocab) if args.vocab else None
    scores, ratios, missing = {}, {}, []
    for system in [args.baseline, *args.systems]:
        for seed in args.seeds:
            path = response_file(args.outputs, system, seed, args.decoding)
            if os.path.exists(path):
                scores[system, seed] = score_file(path, refs, train, vocab)
            else:
                missing.append(os.path.basename(path))
    if not any(key[0] != args.baseline for key in scores):
        raise InputError(f"{args.outputs}: no response files of {' '.join(args.systems)} for seeds {args.seeds}")
    for (system, seed), row in scores.items():
        if system != args.baseline and (args.baseline, seed) in scores:
            hyp = response_file(args.outputs, system, seed, args.decoding)
            base = response_file(args.outputs, args.baseline, seed, args.decoding)
            ratios[system, seed] = bootstrap_rows([hyp], base, {hyp: row, base: scores[args.baseline, seed]}, refs,
                                                  train, vocab, args.bootstrap, seed)[hyp]
    print(f"### {args.decoding}: each seed, and the mean ± sd over seeds; ratios to {args.baseline} of the same seed "
          f"[95% paired bootstrap, {args.bootstrap} resamples]\n")
    header = ["system", "seed", *SHOWN, *(f"{k} / {args.baseline}" for k in RATIOS)]
    print("| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
    for system in [args.baseline, *args.systems]:
        seeds = [s for s in args.seeds if (system, s) in scores]
        for seed in seeds:
            row = scores[system, seed]
            cells = [f"{row[k]:.4f}" if isinstance(row[k], float) else str(row[k]) for k in SHOWN]
            r = ratios.get((system, seed))
            cells += [f"{r[k]['ratio']:.2f} [{r[k]['low']:.2f}, {r[k]['high']:.2f}]" if r else "" for k in RATIOS]
            print(f"| {system} | {seed} | " + " | ".join(cells) + " |")
        if len(seeds) > 1:
            cells = [mean_sd([scores[system, s][k] for s in seeds]) for k in SHOWN]
            cells += [mean_sd([ratios[system, s][k]["ratio"] for s in seeds if (system, s) in ratios]) for k in RATIOS]
            print(f"| {system} | mean ± sd ({len(seeds)}) | " + " | ".join(cells) + " |")
    if missing:
        print(f"\nnot decoded yet: {', '.join(missing)}")
    if args.json:
        systems = {}
        for (system, seed), row in scores.items():
            entry = {"metrics": {k: row[k] for k in SHOWN}}
            if (system, seed) in ratios:
                entry["ratios"] = {k: ratios[system, seed][k] for k in RATIOS}
            systems.setdefault(system, {})[str(seed)] = entry
        with atomic_outputs(args.json) as (out,):
            json.dump({"baseline": args.baseline, "decoding": args.decoding, "resamples": args.bootstrap,
                       "systems": systems}, out, indent=1)


if __name__ == "__main__":
    run_cli(main)
