"""The tables of ABLATIONS.md (the paper's Tables 5-9, greedy) and of RESULTS.md's baselines
(Tables 3, 10 and 12, greedy and beam 5) from results.json, each beside the paper's.

    python examples/dailydialog/paper_tables.py examples/dailydialog/results.json [--set ablations|baselines]
    python examples/dailydialog/paper_tables.py examples/dailydialog/results.json --frontier OUT.png

Our rows come from results.json (a system not there yet prints as 'not run'); the paper's are
copied from its tables (DailyDialog). Each of our rows also gives its Dist-2 and BLEU-4 relative
to our Standard's with the same decoding, and each of the paper's rows relative to the paper's
Standard. --frontier draws every system of results.json instead: Dist-2 against BLEU-4, both
relative to our Standard's, in three panels: greedy, beam 5, and nucleus sampling beside greedy.
"""
import argparse
import json
import re

PAPER_STANDARD = {"greedy": {"dist-2": 0.0313, "bleu-4": 0.395},  # the paper's Table 3
                  "beam5": {"dist-2": 0.0238, "bleu-4": 0.372}}  # its Table 10
METRICS = ["dist-1", "dist-2", "dist-3", "lf", "kl-1", "kl-2", "bleu-3", "bleu-4"]
# the decoding-only alternative a user tries first: sampling (run.sh DECODINGS="topp9 topp9-seed2")
SAMPLED = [("Standard", "standard"), ("AdaLabel", "adalabel"), ("ND", "nd")]
# set -> [(title, decoding, columns, rows of (label, our system, the paper's values in the columns' order,
# or None for our controls, which the paper has not))]
TABLES = {"ablations": [
    ("Table 5: the ND terms", "greedy", ["dist-2", "dist-3", "lf", "kl-2", "bleu-4"], [
        ("ND", "nd", [0.0678, 0.1447, 0.158, 0.26, 0.388]),
        ("w/o L_pred", "nd-wo-pred", [0.0529, 0.1084, 0.145, 0.39, 0.397]),
        ("w/o L_att", "nd-wo-att", [0.0517, 0.1032, 0.138, 0.26, 0.392]),
        ("w/o L_hid", "nd-wo-hid", [0.0365, 0.0677, 0.109, 0.62, 0.380]),
        ("ND, feature terms per token (--nd-feature-norm token)", "nd-token", None),
        ("w/o L_neg (Standard)", "standard", [0.0313, 0.0576, 0.102, 0.53, 0.395]),
    ]),
    ("Table 6: the teachers (N_t: top 50% by source entropy; N_b: bottom 50%)", "greedy",
     ["dist-1", "dist-2", "dist-3", "lf"], [
        ("N_t", "teacher", [0.0024, 0.0078, 0.0134, 0.0331]),
        ("N_b", "teacher-bottom", [0.0040, 0.0121, 0.0215, 0.0444]),
    ]),
    ("Table 7: their students", "greedy", ["dist-2", "dist-3", "lf", "kl-2", "bleu-4"], [
        ("S_t (ND)", "nd", [0.0678, 0.1447, 0.158, 0.26, 0.388]),
        ("S_b", "nd-teacher-bottom", [0.0409, 0.0844, 0.097, 0.40, 0.386]),
    ]),
    ("Table 8: progressive vs fixed alpha", "greedy", ["dist-2", "dist-3", "lf", "kl-2", "bleu-4"], [
        ("Standard", "standard", [0.0313, 0.0576, 0.102, 0.53, 0.395]),
        ("ND (fixed alpha)", "nd-fixed-alpha", [0.0392, 0.0793, 0.123, 0.42, 0.386]),
        ("ND", "nd", [0.0678, 0.1447, 0.158, 0.26, 0.388]),
    ]),
    ("Table 9: soft, hard and random targets", "greedy", ["dist-1", "dist-2", "dist-3", "lf"], [
        ("ND (random target)", "nd-random", [0.0040, 0.0109, 0.0170, 0.053]),
        ("ND (hard target)", "nd-hard", [0.0136, 0.0620, 0.1344, 0.139]),
        ("ND (soft target)", "nd", [0.0145, 0.0678, 0.1447, 0.158]),
    ]),
], "baselines": [
    ("Greedy search (the paper's Table 3; AdaLabel: its Table 12)", "greedy", METRICS, [
        ("Standard", "standard", [0.0089, 0.0313, 0.0576, 0.102, 0.96, 0.53, 0.384, 0.395]),
        ("NT", "nt", [0.0059, 0.0293, 0.0760, 0.070, 1.05, 1.84, 0.226, 0.183]),
        ("UL", "ul", [0.0062, 0.0319, 0.0882, 0.075, 1.07, 1.88, 0.228, 0.187]),
        ("UL, logdiff beta (not the paper's)", "ul-logdiff", None),
        ("Standard + 1 epoch of MLE", "standard-refined", None),
        ("CVAE", "cvae", [0.0024, 0.0201, 0.0821, 0.029, 1.54, 2.02, 0.144, 0.087]),
        ("FACE", "face", [0.0113, 0.0412, 0.0763, 0.127, 0.83, 0.57, 0.099, 0.063]),
        ("FACE, EOS counted (not the reference's)", "face-count-eos", None),
        ("AdaLabel", "adalabel", [0.0100, 0.0397, 0.0757, 0.105, 0.89, 0.59, 0.097, 0.061]),
        ("ND", "nd", [0.0145, 0.0678, 0.1447, 0.158, 0.65, 0.26, 0.381, 0.388]),
    ]),
    ("Beam search, size 5 (the paper's Table 10; AdaLabel: its Table 12)", "beam5", METRICS, [
        ("Standard", "standard", [0.0060, 0.0238, 0.0455, 0.068, 0.92, 0.62, 0.375, 0.372]),
        ("NT", "nt", [0.0077, 0.0326, 0.0640, 0.083, 0.76, 0.70, 0.349, 0.334]),
        ("UL", "ul", [0.0059, 0.0270, 0.0570, 0.075, 0.82, 0.95, 0.321, 0.294]),
        ("UL, logdiff beta (not the paper's)", "ul-logdiff", None),
        ("Standard + 1 epoch of MLE", "standard-refined", None),
        ("CVAE", "cvae", [0.0022, 0.0152, 0.0579, 0.026, 1.60, 1.94, 0.144, 0.087]),
        ("FACE", "face", [0.0074, 0.0305, 0.0591, 0.086, 0.73, 0.64, 0.123, 0.077]),
        ("FACE, EOS counted (not the reference's)", "face-count-eos", None),
        ("AdaLabel", "adalabel", [0.0065, 0.0259, 0.0476, 0.064, 1.11, 0.83, 0.109, 0.069]),
        ("ND", "nd", [0.0108, 0.0427, 0.0799, 0.120, 0.72, 0.05, 0.386, 0.404]),
    ]),
] + [(f"Nucleus sampling, p = 0.9, one sample a query, {sample} (not in the paper; ratios to Standard's own "
      "sample)", decoding, METRICS, [(label, system, None) for label, system in SAMPLED])
     for decoding, sample in (("topp9", "seed 1"), ("topp9-seed2", "seed 2"))]}


# what the responses look like (ours only): long rambling and a few stock answers both move Dist-n
RESPONSE_COLUMNS = {"mean-length": "{:.1f}", "at-limit": "{:.3f}", "distinct-responses": "{:d}"}


def table(results, title, decoding, columns, rows, reference="standard"):
    standard = results.get(reference, {}).get(decoding)
    header = ["system", "source", *columns, f"dist-2 / {reference}", f"bleu-4 / {reference}", *RESPONSE_COLUMNS]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for label, system, _ in rows:
        ours = results.get(system, {}).get(decoding)
        if ours is None:
            lines.append(f"| {label} (`{system}`) | ours | " + " | ".join(["not run"] * len(columns)
                                                                         + [""] * (2 + len(RESPONSE_COLUMNS))) + " |")
        else:
            ratios = ["", ""]
            if standard:
                ratios = [f"{ours[m] / standard[m]:.2f}x" for m in ("dist-2", "bleu-4")]
            # results.json written before these metrics existed has none of them
            responses = [RESPONSE_COLUMNS[c].format(ours[c]) if c in ours else "" for c in RESPONSE_COLUMNS]
            lines.append(f"| {label} (`{system}`) | ours | " + " | ".join(f"{ours[c]:.4f}" for c in columns)
                         + f" | {ratios[0]} | {ratios[1]} | " + " | ".join(responses) + " |")
    for label, _, paper in rows:
        if paper is None:
            continue
        values = dict(zip(columns, paper))
        paper_standard = PAPER_STANDARD[decoding]
        ratios = [f"{values[m] / paper_standard[m]:.2f}x" if m in values else "" for m in ("dist-2", "bleu-4")]
        lines.append(f"| {label} | paper | " + " | ".join([f"{v:g}" for v in paper] + ratios
                                                       + [""] * len(RESPONSE_COLUMNS)) + " |")
    return "\n".join(lines)


def frontier(results, out, reference="standard"):
    """Dist-2 against BLEU-4, both relative to the reference's greedy (or beam-5) row: greedy, beam 5,
    and nucleus sampling (triangles, with the greedy circles of the same systems) in a panel of its
    own, whose points lie ~40x above the others (log scale there)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("greedy", ("greedy",)), ("beam5", ("beam5",)), ("greedy", ("greedy", "topp9", "topp9-seed2")))
    fig, axes = plt.subplots(1, 3, figsize=(19, 5.8))
    for ax, (base, shown) in zip(axes, panels):
        standard = results[reference][base]
        sampled = len(shown) > 1
        for system, decodings in sorted(results.items()):
            if sampled and "topp9" not in decodings:
                continue
            for each in shown:
                if each not in decodings:
                    continue
                x = decodings[each]["bleu-4"] / standard["bleu-4"]
                y = decodings[each]["dist-2"] / standard["dist-2"]
                family = re.sub(r"-(ep|seed)\d+", "", system)  # standard-ep6, standard-seed2: Standard's rows
                kind = ("k" if family == "standard" else "tab:gray" if system.startswith("teacher")
                        else "tab:blue" if system.startswith("nd") else "tab:orange")
                ax.scatter(x, y, color=kind, s=25, marker="o" if each == base else "^")
                label = system if each == base else f"{system} {each}"
                ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(1, color="k", lw=0.5)
        ax.axvline(1, color="k", lw=0.5)
        if sampled:
            ax.set_yscale("log")
        title = (f"nucleus sampling (p = 0.9, triangles) and greedy (circles),\nrelative to {reference}'s greedy"
                 if sampled else f"{base}, relative to {reference}'s {base}:\nblue ND and its ablations, orange "
                 "the baselines,\ngrey the teachers, black Standard (-ep<E>: E epochs; -seed<N>)")
        ax.set(title=title, xlabel=f"BLEU-4 / {reference}'s", ylabel=f"Dist-2 / {reference}'s")
        ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="results.json of run.sh (nd_eval.results)")
    parser.add_argument("--set", choices=sorted(TABLES), default="ablations",
                        help="the ablations' tables (ABLATIONS.md; default) or the baselines' (RESULTS.md)")
    parser.add_argument("--frontier", metavar="OUT.png", help="draw the systems' Dist-2 against BLEU-4 instead")
    parser.add_argument("--standard", default="standard",
                        help="the row our ratios are taken to (default standard; e.g. standard-ep3, the current "
                        "code's 3-epoch Standard)")
    args = parser.parse_args()
    with open(args.results) as f:
        results = json.load(f)
    if args.standard not in results:
        parser.error(f"{args.results} has no '{args.standard}' system to compare with")
    if args.frontier:
        return frontier(results, args.frontier, args.standard)
    print("\n\n".join(table(results, *spec, reference=args.standard) for spec in TABLES[args.set]))


if __name__ == "__main__":
    main()
