"""nd_eval's paired bootstrap against a brute-force loop that rebuilds each resample's responses
and scores them with the plain metrics."""
import json
import math
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from nd_eval.bootstrap import BOOTSTRAPPED, SystemStatistics, paired_bootstrap, resample_weights
from nd_eval.metrics import bleu, distinct, low_frequency_ratio

HYPS_A = ["i am fine thank you", "yes", "what about you", "i do not know", "see you tomorrow then", "",
          "i am fine", "a b c d e f"]
HYPS_B = ["i do not know", "i do not know", "yes", "i am fine", "i do not know", "yes yes", "ok", "i am fine"]
REFS = ["i am fine thanks", "yes please", "what about me", "no idea", "see you", "hello", "i am good", "a b c"]
TRAIN = ["i am fine", "yes", "see you tomorrow", "what about you", "i do not know", "a b", "hello there"]


def tokens(lines):
    return [line.split() for line in lines]


def brute_force(hyps, refs, train, weights):
    """Each metric of the resample that draws line i weights[i] times, by the plain functions."""
    drawn = [i for i, count in enumerate(weights) for _ in range(int(count))]
    h, r = [hyps[i] for i in drawn], [refs[i] for i in drawn]
    train_counts = Counter(t for line in train for t in line)
    vocab = set(train_counts)
    out = {f"dist-{n}": distinct(h, n, vocab) for n in (1, 2, 3)}
    out["lf"] = low_frequency_ratio(h, train_counts)
    out.update(bleu(h, r, parallel_from=10**9))
    out["mean-length"] = sum(len(x) for x in h) / len(h)
    return out


def stats(hyps):
    train = tokens(TRAIN)
    counts = Counter(t for line in train for t in line)
    return SystemStatistics(tokens(hyps), tokens(REFS), counts, set(counts))


def test_resample_weights_draw_every_line_count_times():
    weights = resample_weights(8, 50, seed=3)
    assert weights.shape == (50, 8) and (weights.sum(axis=1) == 8).all()
    assert (weights == resample_weights(8, 50, seed=3)).all()
    assert not (weights == resample_weights(8, 50, seed=4)).all()


def test_each_resample_matches_the_plain_metrics_on_the_resampled_lines():
    weights = resample_weights(len(REFS), 40, seed=1)
    for hyps in (HYPS_A, HYPS_B):
        values = stats(hyps).values(weights)
        for row, w in enumerate(weights):
            expected = brute_force(tokens(hyps), tokens(REFS), tokens(TRAIN), w)
            for key in BOOTSTRAPPED:
                assert values[key][row] == pytest.approx(expected[key], abs=1e-12), (key, row)


def test_intervals_are_the_percentiles_of_the_brute_force_ratios():
    resamples = 60
    result = paired_bootstrap([stats(HYPS_A)], stats(HYPS_B), resamples, seed=7, chunk=16)[0]
    weights = resample_weights(len(REFS), resamples, seed=7)
    ratios = {k: [] for k in BOOTSTRAPPED}
    for w in weights:
        a = brute_force(tokens(HYPS_A), tokens(REFS), tokens(TRAIN), w)
        b = brute_force(tokens(HYPS_B), tokens(REFS), tokens(TRAIN), w)
        for k in BOOTSTRAPPED:
            ratios[k].append(a[k] / b[k] if b[k] else 0.0)
    full_a = brute_force(tokens(HYPS_A), tokens(REFS), tokens(TRAIN), np.ones(len(REFS)))
    full_b = brute_force(tokens(HYPS_B), tokens(REFS), tokens(TRAIN), np.ones(len(REFS)))
    for k in BOOTSTRAPPED:
        low, high = np.percentile(ratios[k], [2.5, 97.5])
        assert result[k]["low"] == pytest.approx(low, abs=1e-12), k
        assert result[k]["high"] == pytest.approx(high, abs=1e-12), k
        assert result[k]["ratio"] == pytest.approx(full_a[k] / full_b[k], abs=1e-12), k


def test_a_hand_computed_resample():
    # lines 0 and 1 drawn twice each: A's responses "i am fine thank you" x2, "yes" x2
    w = np.array([[2, 2, 0, 0, 0, 0, 0, 0]], dtype=float)
    values = stats(HYPS_A).values(w)
    assert values["dist-1"][0] == 6 / 12  # i am fine thank you yes / 12 tokens
    assert values["dist-2"][0] == 4 / 8  # 4 distinct bigrams, 4 in each long line
    assert values["mean-length"][0] == 12 / 8
    # LF: train counts i:1 am:1 fine:1 yes:1 (1 <= c < 100), thank, you: "you" seen once, "thank" never
    assert values["lf"][0] == (2 * 4 + 2 * 1) / 12


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def test_the_cli_ratios_equal_the_plain_scores_exactly(tmp_path):
    a, b = write(tmp_path / "a.txt", HYPS_A), write(tmp_path / "b.txt", HYPS_B)
    ref, train = write(tmp_path / "ref.txt", REFS), write(tmp_path / "train.txt", TRAIN)
    out = subprocess.run([sys.executable, "-m", "nd_eval", "--hyp", a, "--baseline", b, "--ref", ref,
                          "--train", train, "--bootstrap", "30", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key, value in data["ratios"][a].items():
        base = data["scores"][b][key]
        if base:
            assert value["ratio"] == data["scores"][a][key] / base, key
        else:  # e.g. no response at the length limit: no ratio
            assert math.isnan(value["ratio"]), key
        if key in BOOTSTRAPPED:
            assert value["low"] <= value["high"]
    table = subprocess.run([sys.executable, "-m", "nd_eval", "--hyp", a, "--baseline", b, "--ref", ref,
                            "--train", train, "--bootstrap", "30"], capture_output=True, text=True)
    assert f"ratio to {b} [95% paired bootstrap interval, 30 resamples]" in table.stdout


def test_bootstrap_needs_a_baseline(tmp_path):
    a, ref = write(tmp_path / "a.txt", HYPS_A), write(tmp_path / "ref.txt", REFS)
    out = subprocess.run([sys.executable, "-m", "nd_eval", "--hyp", a, "--ref", ref, "--train", ref,
                          "--bootstrap", "10"], capture_output=True, text=True)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].endswith("--bootstrap needs --baseline (the system the ratios are "
                                                        "taken to)")


def test_the_seeds_table_reports_each_seed_and_the_mean_and_sd(tmp_path):
    import statistics

    from nd_eval.metrics import distinct

    out_dir = tmp_path / "outputs"
    out_dir.mkdir()
    shifted = HYPS_A[1:] + HYPS_A[:1]
    files = {"standard": HYPS_B, "standard-seed2": HYPS_B[::-1], "nd": HYPS_A, "nd-seed2": shifted}
    for name, lines in files.items():
        write(out_dir / f"{name}.greedy.txt", lines)
    ref, train = write(tmp_path / "ref.txt", REFS), write(tmp_path / "train.txt", TRAIN)
    script = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples", "dailydialog", "seeds.py")
    out = subprocess.run([sys.executable, script, str(out_dir), "--ref", ref, "--train", train, "--systems", "nd",
                          "--seeds", "1", "2", "3", "--bootstrap", "20", "--json", str(tmp_path / "s.json")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = {tuple(c.strip() for c in line.split("|")[1:3]): line for line in out.stdout.splitlines()
            if line.startswith("| nd") or line.startswith("| standard")}
    vocab = set(t for line in TRAIN for t in line.split())
    d2 = [distinct(tokens(lines), 2, vocab) for lines in (HYPS_A, shifted)]
    assert f"| {statistics.mean(d2):.4g} ± {statistics.stdev(d2):.2g} |" in rows["nd", "mean ± sd (2)"]
    assert f"| {d2[0]:.4f} |" in rows["nd", "1"]
    assert "not decoded yet: standard-seed3.greedy.txt, nd-seed3.greedy.txt" in out.stdout
    # --json: each seed's metrics, and its ratios to the Standard of the same seed, by hand
    saved = json.loads((tmp_path / "s.json").read_text())
    assert (saved["baseline"], saved["resamples"], sorted(saved["systems"])) == ("standard", 20, ["nd", "standard"])
    base_d2 = [distinct(tokens(lines), 2, vocab) for lines in (HYPS_B, HYPS_B[::-1])]
    for seed in (1, 2):
        entry = saved["systems"]["nd"][str(seed)]
        assert entry["metrics"]["dist-2"] == d2[seed - 1]
        ratio = entry["ratios"]["dist-2"]
        assert ratio["ratio"] == d2[seed - 1] / base_d2[seed - 1] and ratio["low"] <= ratio["high"]
        assert "ratios" not in saved["systems"]["standard"][str(seed)]


