"""Dist-2 and BLEU-4 against training epochs, each system's Dist-2 ratio to Standard at equal
epochs, and Dist-2 against BLEU-4 (each point labelled with its epochs: does a system reach a
diversity Standard does not reach at any length, and at what BLEU?), from a results.json of
run.sh (the validation set's: RESULTS_DIR/valid/results.json).

    python examples/dailydialog/epochs_figure.py RESULTS.json OUT.png [--systems standard nd adalabel]
        [--default-epochs 3] [--decoding greedy]

A row named <system>-ep<E> is that system after E epochs (standard-ep<E>: the long Standard run's
average at the end of epoch E); a row named <system> is the default budget (--default-epochs),
unless <system>-ep<that> exists too. The table behind the figure is printed.
"""
import argparse
import json
import re

from preprocess.textio import InputError, run_cli

_EPOCHS = re.compile(r"^(?P<system>.+)-ep(?P<epochs>\d+)$")


def trajectories(results, systems, default_epochs, decoding):
    """{system: {epochs: metrics}} from results.json rows (seed 1 only: names without -seed)."""
    out = {system: {} for system in systems}
    for name, decodings in results.items():
        m = _EPOCHS.match(name)
        system, epochs = (m["system"], int(m["epochs"])) if m else (name, default_epochs)
        if system in out and decoding in decodings and (m or epochs not in out[system]):
            out[system][epochs] = decodings[decoding]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="results.json (nd_eval.results)")
    parser.add_argument("out", help="the figure (.png)")
    parser.add_argument("--systems", nargs="+", default=["standard", "nd", "adalabel"],
                        help="systems drawn; the ratios are to the first (default standard nd adalabel)")
    parser.add_argument("--default-epochs", type=int, default=3, help="the epochs of a row without -ep<E> (default 3)")
    parser.add_argument("--decoding", default="greedy", help="decoding (default greedy)")
    args = parser.parse_args(argv)
    with open(args.results, encoding="utf-8") as f:
        results = json.load(f)
    series = trajectories(results, args.systems, args.default_epochs, args.decoding)
    base = series[args.systems[0]]
    if not base:
        raise InputError(f"{args.results}: no {args.systems[0]} rows for {args.decoding}")
    print("| system | epochs | dist-2 | bleu-4 | dist-2 / " + args.systems[0] + " |\n|---|---|---|---|---|")
    for system, points in series.items():
        for epochs in sorted(points):
            ratio = points[epochs]["dist-2"] / base[epochs]["dist-2"] if epochs in base else None
            print(f"| {system} | {epochs} | {points[epochs]['dist-2']:.4f} | {points[epochs]['bleu-4']:.4f} | "
                  + (f"{ratio:.2f}x |" if ratio else "|"))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    for i, (system, points) in enumerate(series.items()):
        epochs = sorted(points)
        if not epochs:
            continue
        style = {"marker": "o", "label": system, "color": f"C{i}"}  # a system's colour, the same in every panel
        for ax, metric in zip(axes, ("dist-2", "bleu-4")):
            ax.plot(epochs, [points[e][metric] for e in epochs], **style)
        shared = [e for e in epochs if e in base]
        if system != args.systems[0] and shared:
            axes[2].plot(shared, [points[e]["dist-2"] / base[e]["dist-2"] for e in shared], **style)
        axes[3].plot([points[e]["bleu-4"] for e in epochs], [points[e]["dist-2"] for e in epochs], **style)
        for e in epochs:
            axes[3].annotate(str(e), (points[e]["bleu-4"], points[e]["dist-2"]), fontsize=7,
                             textcoords="offset points", xytext=(3, 3))
    titles = ("Dist-2", "BLEU-4", f"Dist-2 / {args.systems[0]}'s at equal epochs",
              "Dist-2 against BLEU-4 (labels: epochs)")
    for ax, title in zip(axes, titles):
        ax.set(title=f"{title} ({args.decoding}, {args.results})" if ax is axes[0] else title,
               xlabel="BLEU-4" if ax is axes[3] else "epochs")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=8)
    axes[2].axhline(1, color="k", lw=0.5)
    axes[3].set_ylabel("Dist-2")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    run_cli(main)
