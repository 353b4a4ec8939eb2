"""Score dialogue responses with the paper's metrics.

    python -m nd_eval --hyp H [H ...] --ref R --train T [--vocab V] [--json]
    python -m nd_eval --hyp A [A2 ...] --baseline B --bootstrap 1000 [--seed S] --ref R --train T ...

Dist-1/2/3, LF, KL-1/2 and BLEU-3/4 computed as the paper's evaluation code does (see
nd_eval/metrics.py), the textbook KL on the same support (kl-n-exact), and
sacreBLEU's corpus BLEU with its signature. All scores are fractions (not x100). With
--baseline and --bootstrap N, each --hyp also gets, for every metric, its ratio to the
baseline and the 95% interval of that ratio over N paired resamples of the queries.
"""
import argparse
import json
from collections import Counter

from preprocess.textio import InputError, read_lines, run_cli

from .bootstrap import BOOTSTRAPPED, SystemStatistics, paired_bootstrap
from .io import read_hypotheses, read_vocab
from .metrics import evaluate

METRICS = """metrics (whitespace tokens; Dist, Ent, LF: higher is more diverse; KL: lower is closer to the references):
  dist-1/2/3   CORPUS-level Dist-n: the distinct n-grams of all the responses together / all their n-grams
               (not the mean of each response's own ratio, which rewards short responses)
  ent-1..4     Ent-n (Zhang et al. 2018): the entropy in nats of the n-gram distribution of all the responses
  lf           share of response tokens seen 1..99 times in the training responses (AdaLabel's LF)
  kl-1/2       KL between the reference and response n-gram distributions on their shared n-grams, in bits,
               as dialog-eval computes it (lower: closer to human word use); kl-n-exact is the textbook KL
  bleu-3/4     mean sentence BLEU (nltk, smoothing method 4) against the one reference; sacrebleu: corpus BLEU
  self-bleu-4  Self-BLEU (Texygen): on a fixed random sample of 1,000 responses, each one's BLEU-4 (nltk,
               smoothing method 1) with the other 999 as references, averaged; higher: the responses look alike
  mean-length  tokens per response; at-limit: the share of responses of --length-limit tokens or more (cut by
               the generation's limit: long rambling raises Dist-n)
  distinct-responses  how many different responses; top10-share: the share of the ten commonest
With --vocab, tokens outside the vocabulary count as <unk> in Dist, Ent and KL (as the paper's evaluation).
--bootstrap: Dist-n, LF and mean length are recomputed on each resample as corpus-level metrics, BLEU as
the mean of the resampled lines' sentence scores; the others have a point ratio only. Dist-n's interval runs
low when the two systems differ much in how often they repeat responses (sampling against greedy): read the
full-set ratio then (nd_eval/bootstrap.py)."""

KEYS = ["dist-1", "dist-2", "dist-3", "ent-4", "lf", "kl-1", "kl-2", "bleu-3", "bleu-4", "kl-1-exact", "kl-2-exact",
        "self-bleu-4", "mean-length", "at-limit", "distinct-responses", "top10-share", "sacrebleu"]
RATIO_KEYS = [k for k in KEYS if k != "sacrebleu"]


def read_aligned(hyp_path, refs):
    """The responses of ``hyp_path`` as token lists, checked to align with ``refs`` (path, lines)."""
    hyps = read_hypotheses(hyp_path)
    if len(hyps) != len(refs[1]):
        raise InputError(
            f"{hyp_path} has {len(hyps)} responses but {refs[0]} has {len(refs[1])}: they must align line by line"
        )
    return [h.split() for h in hyps]


def score_file(hyp_path, refs, train, vocab, length_limit=50):
    hyps = read_aligned(hyp_path, refs)
    scores = evaluate(hyps, [r.split() for r in refs[1]], train, vocab, length_limit=length_limit)
    scores["lines"] = len(hyps)
    scores["tokens"] = sum(len(h) for h in hyps)
    scores["empty_lines"] = sum(1 for h in hyps if not h)
    return scores


def bootstrap_rows(hyp_paths, baseline_path, rows, refs, train, vocab, resamples, seed):
    """{hyp: {metric: {ratio, low, high}}}: the ratio of the plain scores of ``rows`` (every
    metric, so that it equals them exactly) and, for BOOTSTRAPPED, its paired interval."""
    ref_tokens = [r.split() for r in refs[1]]
    train_counts = Counter(t for line in train for t in line)
    vocab = set(train_counts) if vocab is None else vocab

    def stats(path):
        return SystemStatistics(read_aligned(path, refs), ref_tokens, train_counts, vocab)

    intervals = paired_bootstrap([stats(h) for h in hyp_paths], stats(baseline_path), resamples, seed)
    base = rows[baseline_path]
    out = {}
    for hyp, interval in zip(hyp_paths, intervals):
        out[hyp] = {}
        for key in RATIO_KEYS:
            ratio = rows[hyp][key] / base[key] if base[key] else float("nan")
            out[hyp][key] = {"ratio": ratio, **({"low": interval[key]["low"], "high": interval[key]["high"]}
                                                 if key in BOOTSTRAPPED else {})}
    return out


def ratio_markdown(ratios, baseline, resamples):
    keys = list(next(iter(ratios.values())))
    interval = f" [95% paired bootstrap interval, {resamples} resamples]" if resamples else ""
    lines = [f"ratio to {baseline}{interval}", "",
             "| system | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
    for name, row in ratios.items():
        cells = [f"{v['ratio']:.2f} [{v['low']:.2f}, {v['high']:.2f}]" if "low" in v else f"{v['ratio']:.2f}"
                 for v in row.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(rows):
    header = "| system | " + " | ".join(KEYS) + " |"
    lines = [header, "|" + "---|" * (len(KEYS) + 1)]
    for name, scores in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{scores[k]:.4f}" if isinstance(scores[k], float) else str(scores[k])
                                                   for k in KEYS) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nd_eval", description=__doc__.split("\n\n")[0], epilog=METRICS,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hyp", nargs="+", required=True,
                        help="responses, one a line, or fairseq-generate logs (H- lines); several give one row each")
    parser.add_argument("--ref", required=True, help="reference responses, one a line, aligned with --hyp")
    parser.add_argument("--train", required=True,
                        help="training responses, one a line (LF counts; the vocabulary unless --vocab)")
    parser.add_argument("--vocab", help="vocabulary, one token a line (e.g. the authors' vocab.txt); "
                        "tokens outside it count as <unk> in Dist and KL")
    parser.add_argument("--baseline", help="responses of the system the --hyp are compared with (ratios)")
    parser.add_argument("--bootstrap", type=int, metavar="N",
                        help="with --baseline: N paired resamples of the queries for 95%% intervals of the ratios")
    parser.add_argument("--seed", type=int, default=1, help="seed of the resampling (default 1)")
    parser.add_argument("--length-limit", type=int, default=50,
                        help="the generation's length limit in tokens, for at-limit (default 50, run.sh's --max-len-b)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.bootstrap is not None and not args.baseline:
        raise InputError("--bootstrap needs --baseline (the system the ratios are taken to)")
    if args.bootstrap is not None and args.bootstrap < 1:
        raise InputError(f"--bootstrap must be >= 1, got {args.bootstrap}")
    refs = (args.ref, read_lines(args.ref))
    train = [line.split() for line in read_lines(args.train)]
    vocab = read_vocab(args.vocab) if args.vocab else None
    paths = args.hyp + ([args.baseline] if args.baseline and args.baseline not in args.hyp else [])
    rows = {h: score_file(h, refs, train, vocab, args.length_limit) for h in paths}
    ratios = None
    if args.baseline:
        if args.bootstrap:
            ratios = bootstrap_rows(args.hyp, args.baseline, rows, refs, train, vocab, args.bootstrap, args.seed)
        else:
            base = rows[args.baseline]
            ratios = {h: {k: {"ratio": rows[h][k] / base[k] if base[k] else float("nan")}
                          for k in RATIO_KEYS} for h in args.hyp}
    if args.json:
        scores = rows[args.hyp[0]] if len(rows) == 1 else rows
        print(json.dumps(scores if ratios is None else {"scores": scores, "ratios": ratios}, indent=1))
    else:
        print(markdown(rows))
        print(f"\nsacreBLEU signature: {next(iter(rows.values()))['sacrebleu_signature']}")
        if ratios is not None:
            print("\n" + ratio_markdown(ratios, args.baseline, args.bootstrap or 0))


if __name__ == "__main__":
    run_cli(main)
