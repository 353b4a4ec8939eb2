"""Validation metrics against the update, one line per system, from study.sh's tables.

    python examples/dailydialog/plot_trajectories.py OUT.png NAME=TABLE.tsv [NAME=TABLE.tsv ...]
    python examples/dailydialog/plot_trajectories.py --frontier OUT.png [--averages AVG.tsv] NAME=TABLE.tsv [...]

Panels: greedy Dist-2, greedy BLEU-4, validation NLL (base 2), mean length and alpha. A marker
rings the checkpoint each system's rule kept when the table name is followed by @UPDATE. With
--frontier: one panel, Dist-2 against BLEU-4, a point per checkpoint from update 1,500 on (where
alpha starts to matter), labelled with its update; AVG.tsv's rows (system, n, dist-2, bleu-4: a
system's average of its last n checkpoints) are drawn as stars in that system's colour.
"""
import csv
import logging
import sys

PANELS = [("dist-2", "valid Dist-2 (greedy)"), ("bleu-4", "valid BLEU-4 (greedy)"),
          ("nll_loss", "valid NLL (base 2)"), ("mean_len", "mean response length (tokens)"), ("alpha", "alpha")]


def read_table(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def systems(specs):
    """(name, rows, kept update or None) for each NAME=TABLE.tsv[@UPDATE]."""
    for spec in specs:
        name, path = spec.split("=", 1)
        kept = None
        if "@" in path:
            path, kept = path.rsplit("@", 1)
            kept = int(kept)
        yield name, read_table(path), kept


def frontier(plt, out, specs, averages=None, start=1500):
    fig, ax = plt.subplots(figsize=(7, 5))
    averaged = read_table(averages) if averages else []
    for name, rows, kept in systems(specs):
        rows = [r for r in rows if int(r["update"]) >= start]
        x, y = [float(r["bleu-4"]) for r in rows], [float(r["dist-2"]) for r in rows]
        line, = ax.plot(x, y, marker="o", ls=":", label=name)
        for r, xi, yi in zip(rows, x, y):
            ax.annotate(r["update"], (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
            if int(r["update"]) == kept:
                ax.plot([xi], [yi], "o", mfc="none", ms=13, color=line.get_color())
        for r in (r for r in averaged if r["system"] == name):
            xi, yi = float(r["bleu-4"]), float(r["dist-2"])
            ax.plot([xi], [yi], "*", ms=12, color=line.get_color())
            ax.annotate(f"avg{r['n']}", (xi, yi), fontsize=7, xytext=(4, -8), textcoords="offset points")
    ax.set_xlabel("valid BLEU-4 (greedy)")
    ax.set_ylabel("valid Dist-2 (greedy)")
    ax.legend(fontsize=8)
    ax.set_title(f"Diversity against BLEU, every checkpoint from update {start} (stars: averages)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    frontier_plot = argv[:1] == ["--frontier"]
    averages = None
    if frontier_plot:
        argv = argv[1:]
        if argv[1:2] == ["--averages"]:
            averages, argv = argv[2], argv[:1] + argv[3:]
    if len(argv) < 2 or not all("=" in a for a in argv[1:]):
        sys.exit(__doc__.split("\n\n")[1].strip())
    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if frontier_plot:
        frontier(plt, argv[0], argv[1:], averages)
        print(f"wrote {argv[0]}")
        return
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(7, 2.2 * len(PANELS)), sharex=True)
    for name, rows, kept in systems(argv[1:]):
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
