"""One row per checkpoint of a study.sh run: the update, alpha and the validation losses from
the training log, and the paper's metrics of the greedy validation responses.

    python examples/dailydialog/trajectory.py WORK_DIR NAME [--vocab V] > WORK_DIR/study/NAME.tsv
"""
import argparse
import glob
import os
import re

from nd_eval.io import log_row, read_hypotheses, read_vocab
from nd_eval.metrics import evaluate
from preprocess.textio import read_lines

LOG_KEYS = ["alpha", "loss", "nll_loss", "loss_pred", "loss_hid", "loss_att"]
METRICS = ["dist-1", "dist-2", "dist-3", "lf", "kl-2", "bleu-4"]


def validation_rows(log_path):
    """{update: {key: value}} from the ``| valid |`` lines of a --log-format json log."""
    rows = {}
    with open(log_path, encoding="utf-8") as f:
        for line in f:
            row = log_row(line, "valid")
            if row is not None:
                values = {k: float(row[f"valid_{k}"]) for k in LOG_KEYS if f"valid_{k}" in row}
                rows[int(row["valid_num_updates"])] = values
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work")
    parser.add_argument("name")
    parser.add_argument("--vocab", help="vocabulary file for the metrics (default: the training tokens)")
    args = parser.parse_args()
    text = os.path.join(args.work, "data", "text")
    refs = [line.split() for line in read_lines(os.path.join(text, "valid.tgt"))]
    train = [line.split() for line in read_lines(os.path.join(text, "train.tgt"))]
    vocab = read_vocab(args.vocab) if args.vocab else None
    logged = validation_rows(os.path.join(args.work, "logs", f"{args.name}.log"))
    print("\t".join(["update"] + LOG_KEYS + METRICS + ["mean_len"]))
    decoded = glob.glob(os.path.join(args.work, "study", args.name, "valid.*.log"))
    for update in sorted(int(re.search(r"valid\.(\d+)\.log$", p).group(1)) for p in decoded):
        hyps = [h.split() for h in read_hypotheses(os.path.join(args.work, "study", args.name, f"valid.{update}.log"))]
        scores = evaluate(hyps, refs, train, vocab)
        log = logged.get(update, {})
        cells = [str(update)] + [f"{log[k]:.4f}" if k in log else "" for k in LOG_KEYS]
        cells += [f"{scores[k]:.4f}" for k in METRICS] + [f"{sum(map(len, hyps)) / len(hyps):.2f}"]
        print("\t".join(cells))


if __name__ == "__main__":
    main()
