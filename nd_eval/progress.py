"""A line per epoch from a fairseq-train log (``--log-format json``) read on stdin, and the
one-line cause when training stops with an error.

    fairseq-train ... --log-format json 2>&1 | tee train.log | python -m nd_eval.progress
"""
import re
import sys

from .io import log_row

SHOWN = [("loss", "loss"), ("nll_loss", "nll"), ("alpha", "alpha"), ("loss_pred", "pred"), ("loss_hid", "hid"),
         ("loss_att", "att")]
_ERROR = re.compile(r"^[\w.]*(Error|Exception): ")


def summary(line):
    """The compact form of an epoch's ``| train |`` or ``| valid |`` line; None for other lines."""
    for tag in ("train", "valid"):
        row = log_row(line, tag)
        if row is not None:
            values = " ".join(f"{short} {row[f'{tag}_{key}']}" for key, short in SHOWN if f"{tag}_{key}" in row)
            return f"epoch {row.get('epoch', '?')} {tag}: {values} (update {row.get(f'{tag}_num_updates', '?')})"
    return None


def main():
    for line in sys.stdin:
        shown = summary(line) or (line.rstrip() if _ERROR.match(line) else None)
        if shown:
            print("   " + shown, flush=True)


if __name__ == "__main__":
    main()
