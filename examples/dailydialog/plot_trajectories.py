"""Validation metrics against the update, one line per system, from study.sh's tables.

    python examples/dailydialog/plot_trajectories.py OUT.png NAME=TABLE.tsv [NAME=TABLE.tsv ...]

Panels: greedy Dist-2, greedy BLEU-4, validation NLL (base 2) and alpha. A marker rings the
checkpoint each system's rule kept when the table name is followed by @UPDATE.
"""
import csv
import logging
import sys

PANELS = [("dist-2", "valid Dist-2 (greedy)"), ("bleu-4", "valid BLEU-4 (greedy)"),
          ("nll_loss", "valid NLL (base 2)"), ("mean_len", "mean response length (tokens)"), ("alpha", "alpha")]


def read_table(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or not all("=" in a for a in argv[1:]):
        sys.exit(__doc__.split("\n\n")[1].strip())
    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(PANELS), 1, figsize=(7, 2.2 * len(PANELS)), sharex=True)
    for spec in argv[1:]:
        name, path = spec.split("=", 1)
        kept = None
        if "@" in path:
            path, kept = path.rsplit("@", 1)
            kept = int(kept)
        rows = read_table(path)
        steps = [int(r["update"]) for r in rows]
        for ax, (key, label) in zip(axes, PANELS):
            values = [float(r[key]) if r.get(key) else float("nan") for r in rows]
            line, = ax.plot(steps, values, marker=".", label=name)
            if kept in steps:
                ax.plot([kept], [values[steps.index(kept)]], "o", mfc="none", ms=11, color=line.get_color())
            ax.set_ylabel(label, fontsize=8)
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("update")
    fig.suptitle("DailyDialog validation set along training (rings: the checkpoint kept)", fontsize=10)
    fig.tight_layout()
    fig.savefig(argv[0], dpi=100)
    print(f"wrote {argv[0]}")


if __name__ == "__main__":
    main()
