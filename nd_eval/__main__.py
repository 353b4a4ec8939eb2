"""Score dialogue responses with the paper's metrics.

    python -m nd_eval --hyp H [H ...] --ref R --train T [--vocab V] [--json]

Dist-1/2/3, LF, KL-1/2 and BLEU-3/4 computed as the paper's evaluation code does (see
nd_eval/metrics.py), the textbook KL on the same support (kl-n-exact), and
sacreBLEU's corpus BLEU with its signature. All scores are fractions (not x100).
"""
import argparse
import json

from preprocess.textio import InputError, read_lines, run_cli

from .io import read_hypotheses, read_vocab
from .metrics import evaluate

METRICS = """metrics (on whitespace tokens; Dist and LF: higher is more diverse, KL: lower is closer to the references):
  dist-1/2/3   distinct n-grams / all n-grams over all responses (corpus level)
  lf           share of response tokens seen 1..99 times in the training responses (AdaLabel's LF)
  kl-1/2       KL between the reference and response n-gram distributions on their shared n-grams, in bits,
               as dialog-eval computes it (lower: closer to human word use); kl-n-exact is the textbook KL
  bleu-3/4     mean sentence BLEU (nltk, smoothing method 4) against the one reference; sacrebleu: corpus BLEU
With --vocab, tokens outside the vocabulary count as <unk> in Dist and KL (as the paper's evaluation)."""

KEYS = ["dist-1", "dist-2", "dist-3", "lf", "kl-1", "kl-2", "bleu-3", "bleu-4", "kl-1-exact", "kl-2-exact", "sacrebleu"]


def score_file(hyp_path, refs, train, vocab):
    hyps = read_hypotheses(hyp_path)
    if len(hyps) != len(refs[1]):
        raise InputError(
            f"{hyp_path} has {len(hyps)} responses but {refs[0]} has {len(refs[1])}: they must align line by line"
        )
    scores = evaluate([h.split() for h in hyps], [r.split() for r in refs[1]], train, vocab)
    scores["lines"] = len(hyps)
    scores["tokens"] = sum(len(h.split()) for h in hyps)
    scores["empty_lines"] = sum(1 for h in hyps if not h.split())
    return scores


def markdown(rows):
    header = "| system | " + " | ".join(KEYS) + " |"
    lines = [header, "|" + "---|" * (len(KEYS) + 1)]
    for name, scores in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{scores[k]:.4f}" for k in KEYS) + " |")
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
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    refs = (args.ref, read_lines(args.ref))
    train = [line.split() for line in read_lines(args.train)]
    vocab = read_vocab(args.vocab) if args.vocab else None
    rows = {h: score_file(h, refs, train, vocab) for h in args.hyp}
    if args.json:
        print(json.dumps(rows[args.hyp[0]] if len(rows) == 1 else rows, indent=1))
    else:
        print(markdown(rows))
        print(f"\nsacreBLEU signature: {next(iter(rows.values()))['sacrebleu_signature']}")


if __name__ == "__main__":
    run_cli(main)
