"""The tables of ABLATIONS.md from results.json, each beside the paper's (Tables 5-9, greedy).

    python examples/dailydialog/ablation_tables.py examples/dailydialog/results.json

Our rows come from results.json (a system not there yet prints as 'not run'); the paper's are
copied from its Tables 5-9. Each of our rows also gives its Dist-2 and BLEU-4 relative to our
Standard's, and each of the paper's rows relative to the paper's Standard.
"""
import argparse
import json

PAPER_STANDARD = {"dist-2": 0.0313, "bleu-4": 0.395}  # the paper's Table 3 (greedy)
# (title, columns, rows of (label, our system, the paper's values in the columns' order))
TABLES = [
    ("Table 5: the ND terms", ["dist-2", "dist-3", "lf", "kl-2", "bleu-4"], [
        ("ND", "nd", [0.0678, 0.1447, 0.158, 0.26, 0.388]),
        ("w/o L_pred", "nd-wo-pred", [0.0529, 0.1084, 0.145, 0.39, 0.397]),
        ("w/o L_att", "nd-wo-att", [0.0517, 0.1032, 0.138, 0.26, 0.392]),
        ("w/o L_hid", "nd-wo-hid", [0.0365, 0.0677, 0.109, 0.62, 0.380]),
        ("w/o L_neg (Standard)", "standard", [0.0313, 0.0576, 0.102, 0.53, 0.395]),
    ]),
    ("Table 6: the teachers (N_t: top 50% by source entropy; N_b: bottom 50%)", ["dist-1", "dist-2", "dist-3", "lf"], [
        ("N_t", "teacher", [0.0024, 0.0078, 0.0134, 0.0331]),
        ("N_b", "teacher-bottom", [0.0040, 0.0121, 0.0215, 0.0444]),
    ]),
    ("Table 7: their students", ["dist-2", "dist-3", "lf", "kl-2", "bleu-4"], [
        ("S_t (ND)", "nd", [0.0678, 0.1447, 0.158, 0.26, 0.388]),
        ("S_b", "nd-teacher-bottom", [0.0409, 0.0844, 0.097, 0.40, 0.386]),
    ]),
    ("Table 8: progressive vs fixed alpha", ["dist-2", "dist-3", "lf", "kl-2", "bleu-4"], [
        ("Standard", "standard", [0.0313, 0.0576, 0.102, 0.53, 0.395]),
        ("ND (fixed alpha)", "nd-fixed-alpha", [0.0392, 0.0793, 0.123, 0.42, 0.386]),
        ("ND", "nd", [0.0678, 0.1447, 0.158, 0.26, 0.388]),
    ]),
    ("Table 9: soft, hard and random targets", ["dist-1", "dist-2", "dist-3", "lf"], [
        ("ND (random target)", "nd-random", [0.0040, 0.0109, 0.0170, 0.053]),
        ("ND (hard target)", "nd-hard", [0.0136, 0.0620, 0.1344, 0.139]),
        ("ND (soft target)", "nd", [0.0145, 0.0678, 0.1447, 0.158]),
    ]),
]


def table(results, title, columns, rows, decoding="greedy"):
    standard = results.get("standard", {}).get(decoding)
    header = ["system", "source", *columns, "dist-2 / Standard", "bleu-4 / Standard"]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for label, system, _ in rows:
        ours = results.get(system, {}).get(decoding)
        if ours is None:
            lines.append(f"| {label} (`{system}`) | ours | " + " | ".join("not run" for _ in columns) + " | | |")
        else:
            ratios = ["", ""]
            if standard:
                ratios = [f"{ours[m] / standard[m]:.2f}x" for m in ("dist-2", "bleu-4")]
            lines.append(f"| {label} (`{system}`) | ours | " + " | ".join(f"{ours[c]:.4f}" for c in columns)
                         + f" | {ratios[0]} | {ratios[1]} |")
    for label, _, paper in rows:
        values = dict(zip(columns, paper))
        ratios = [f"{values[m] / PAPER_STANDARD[m]:.2f}x" if m in values else "" for m in ("dist-2", "bleu-4")]
        lines.append(f"| {label} | paper | " + " | ".join(f"{v:g}" for v in paper) + f" | {ratios[0]} | {ratios[1]} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="results.json of run.sh (nd_eval.results)")
    parser.add_argument("--decoding", default="greedy", help="which decoding's numbers (default: greedy)")
    args = parser.parse_args()
    with open(args.results) as f:
        results = json.load(f)
    print("\n\n".join(table(results, *spec, decoding=args.decoding) for spec in TABLES))


if __name__ == "__main__":
    main()
