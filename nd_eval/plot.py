"""Plot alpha and the ND loss terms over training from a ``--log-format json`` log.

    python -m nd_eval.plot TRAIN_LOG OUT.png
"""
import sys

from .io import log_row

TERMS = ["loss_mle", "loss_pred", "loss_hid", "loss_att"]


def read_log(path):
    """The train_inner rows of the log; for a run too short to log any, its epoch summaries
    (``| train |``, keys without their ``train_`` prefix)."""
    inner, epochs = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = log_row(line, "train_inner")
            if row is not None:
                inner.append(row)
            elif (row := log_row(line, "train")) is not None:
                epochs.append({k.removeprefix("train_"): v for k, v in row.items()})
    return inner or epochs


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.exit("usage: python -m nd_eval.plot TRAIN_LOG OUT.png")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(argv[0])
    if not rows:
        sys.exit(f"error: {argv[0]} has no train_inner or train lines in --log-format json")
    steps = [int(r["num_updates"]) for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(steps, [float(r["alpha"]) for r in rows], color="k")
    top.set_ylabel("alpha (Eq. 15)")
    for term in TERMS:
        if term in rows[0]:
            bottom.plot(steps, [float(r.get(term, "nan")) for r in rows], label=term)
    bottom.set_yscale("log")
    bottom.set_ylabel("per target token (base 2)")
    bottom.set_xlabel("update")
    bottom.legend()
    fig.suptitle("ND training: alpha and the loss terms (train_inner averages)")
    fig.tight_layout()
    fig.savefig(argv[1], dpi=110)
    print(f"wrote {argv[1]}")


if __name__ == "__main__":
    main()
