"""Each seed's Dist-2 ratio against its BLEU-4 ratio to the Standard of the same seed, with their
paired-bootstrap intervals, beside the targets of the headline (Dist-2 >= 1.5x as the mean over
three seeds, every seed's lower bound >= 1.2x, at BLEU-4 >= 0.95x), from seeds.py --json files
(one per budget: nd and adalabel against standard, nd-ep10 against standard-ep10, ...).

    python examples/dailydialog/targets_figure.py OUT.png SEEDS.json [SEEDS.json ...] \
        [--dist2 1.5] [--lower-bound 1.2] [--bleu4 0.95] [--seeds-needed 3]

Prints the table behind the figure and, per system, which targets it meets.
"""
import argparse
import json
import statistics

from preprocess.textio import InputError, run_cli


def load_series(paths):
    """[(label, [(seed, ratios)])]: every system with ratios in each file, its seeds in order."""
    series = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            baseline, systems = data["baseline"], data["systems"]
        except (OSError, ValueError, KeyError) as e:
            raise InputError(f"{path}: not a seeds.py --json file ({e})")
        for system, seeds in systems.items():
            points = sorted((int(seed), entry["ratios"]) for seed, entry in seeds.items() if "ratios" in entry)
            if points:
                series.append((f"{system} / {baseline}", points))
    if not series:
        raise InputError(f"{' '.join(paths)}: no ratios (was seeds.py run with the baseline's files?)")
    return series


def verdict(points, dist2, lower_bound, bleu4, seeds_needed):
    """(mean Dist-2 ratio, mean BLEU-4 ratio, [the targets missed]) over the seeds of one system."""
    d = statistics.mean(r["dist-2"]["ratio"] for _, r in points)
    b = statistics.mean(r["bleu-4"]["ratio"] for _, r in points)
    missed = []
    if len(points) < seeds_needed:
        missed.append(f"{len(points)} of {seeds_needed} seeds")
    if d < dist2:
        missed.append(f"mean Dist-2 {d:.3f}x < {dist2}x")
    low = min(r["dist-2"]["low"] for _, r in points)
    if low < lower_bound:
        missed.append(f"a lower bound {low:.3f}x < {lower_bound}x")
    if b < bleu4:
        missed.append(f"mean BLEU-4 {b:.3f}x < {bleu4}x")
    return d, b, missed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the figure (.png)")
    parser.add_argument("seeds", nargs="+", help="seeds.py --json files")
    parser.add_argument("--dist2", type=float, default=1.5, help="target of the mean Dist-2 ratio (default 1.5)")
    parser.add_argument("--lower-bound", type=float, default=1.2,
                        help="target of every seed's Dist-2 interval's lower end (default 1.2)")
    parser.add_argument("--bleu4", type=float, default=0.95, help="target of the mean BLEU-4 ratio (default 0.95)")
    parser.add_argument("--seeds-needed", type=int, default=3, help="seeds the mean is taken over (default 3)")
    args = parser.parse_args(argv)
    series = [(label, points, verdict(points, args.dist2, args.lower_bound, args.bleu4, args.seeds_needed))
              for label, points in load_series(args.seeds)]

    print("| system | seed | dist-2 ratio [95%] | bleu-4 ratio [95%] |\n|---|---|---|---|")
    for label, points, (d, b, _) in series:
        for seed, r in points:
            cells = [f"{r[k]['ratio']:.2f} [{r[k]['low']:.2f}, {r[k]['high']:.2f}]" for k in ("dist-2", "bleu-4")]
            print(f"| {label} | {seed} | " + " | ".join(cells) + " |")
        print(f"| {label} | mean ({len(points)}) | {d:.2f} | {b:.2f} |")
    print()
    for label, _, (_, _, missed) in series:
        print(f"{label}: " + ("meets the targets" if not missed else "not met: " + "; ".join(missed)))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    for i, (label, points, (d, b, _)) in enumerate(series):
        color = f"C{i}"
        for seed, r in points:
            x, y = r["bleu-4"], r["dist-2"]
            ax.errorbar(x["ratio"], y["ratio"], xerr=[[x["ratio"] - x["low"]], [x["high"] - x["ratio"]]],
                        yerr=[[y["ratio"] - y["low"]], [y["high"] - y["ratio"]]], fmt="o", color=color, ms=4,
                        lw=0.8, label=label if seed == points[0][0] else None)
            ax.annotate(f"s{seed}", (x["ratio"], y["ratio"]), fontsize=7, textcoords="offset points", xytext=(4, 3))
        ax.plot(b, d, marker="D", ms=10, mfc="none", color=color)
    top = max(ax.get_ylim()[1], args.dist2 * 1.1)
    right = max(ax.get_xlim()[1], 1.05)
    ax.fill_between([args.bleu4, right], args.dist2, top, color="g", alpha=0.08,
                    label=f"target: Dist-2 >= {args.dist2}x at BLEU-4 >= {args.bleu4}x")
    ax.axhline(1, color="k", lw=0.5)
    ax.axvline(1, color="k", lw=0.5)
    ax.set(xlim=(ax.get_xlim()[0], right), ylim=(min(ax.get_ylim()[0], 0.95), top),
           xlabel="BLEU-4 / baseline's (same seed)", ylabel="Dist-2 / baseline's (same seed)",
           title="each seed with its 95% paired-bootstrap intervals; diamonds: the mean over seeds")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    run_cli(main)
