"""nd_eval: hand-computed metrics, agreement with dialog-eval, input errors, no torch."""
import json
import math
import os
import subprocess
import sys

import pytest

from nd_eval.metrics import bleu, distinct, evaluate, kl_dialog_eval, kl_exact, low_frequency_ratio

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "dialog_eval")


def tok(lines):
    return [line.split() for line in lines]


def test_distinct_by_hand():
    hyps = tok(["a b a", "a b", "", "c"])
    # unigrams: a b a a b c -> 3 distinct / 6; bigrams: (a b)(b a)(a b) -> 2 / 3; trigrams: 1 / 1
    assert distinct(hyps, 1) == pytest.approx(3 / 6)
    assert distinct(hyps, 2) == pytest.approx(2 / 3)
    assert distinct(hyps, 3) == pytest.approx(1.0)
    # n-grams never cross lines, and a line shorter than n contributes none
    assert distinct(tok(["a", "b"]), 2) == 0.0
    # out-of-vocabulary tokens collapse to <unk>
    assert distinct(tok(["x y", "z"]), 1, vocab={"a"}) == pytest.approx(1 / 3)


def test_low_frequency_ratio_by_hand():
    from collections import Counter

    train = Counter({"the": 150, "cat": 3, "dog": 99, "rare": 1})
    hyps = tok(["the cat", "dog never", ""])
    # cat (3) and dog (99) are in [1, 100); the (150) is not; never (0) is not
    assert low_frequency_ratio(hyps, train) == pytest.approx(2 / 4)


def test_kl_by_hand():
    refs = tok(["a b", "a c"])
    hyps = tok(["a a b", "d"])
    vocab = {"a", "b", "c", "d"}
    # support {a, b}: P_ref = (2/3, 1/3), P_hyp = (2/3, 1/3) -> 0
    assert kl_dialog_eval(hyps, refs, 1, vocab) == pytest.approx(0.0)
    hyps = tok(["a b b b"])
    # P_ref = (a 2/3, b 1/3), P_hyp = (a 1/4, b 3/4)
    la, lb = math.log2((2 / 3) / (1 / 4)), math.log2((1 / 3) / (3 / 4))
    assert kl_dialog_eval(hyps, refs, 1, vocab) == pytest.approx(((la + lb) / 2 + la) / 2)
    assert kl_exact(hyps, refs, 1, vocab) == pytest.approx(2 / 3 * la + 1 / 3 * lb)
    # bigrams: support {(a b)} only -> log2(1/1) = 0 on the one line that has it
    assert kl_dialog_eval(hyps, refs, 2, vocab) == pytest.approx(0.0)


def test_bleu_edge_cases():
    same = tok(["i am fine , thank you ."])
    assert bleu(same, same)["bleu-4"] == pytest.approx(1.0)
    assert bleu(same, same)["bleu-3"] == pytest.approx(math.exp(0.99 * 0), abs=1e-9)
    # an empty or a one-token hypothesis does not crash and scores below a perfect match
    for hyp in (["ok"], []):
        scores = bleu([hyp], same)
        assert 0.0 <= scores["bleu-4"] < 1.0 and 0.0 <= scores["bleu-3"] < 1.0


def test_identical_hypothesis_and_reference():
    # (lines of 4+ tokens: nltk's method-4 smoothing scores shorter exact matches below 1)
    lines = tok(["hello there , jim", "how are you ?", "fine , thank you ."])
    scores = evaluate(lines, lines, lines)
    assert scores["kl-1"] == pytest.approx(0.0) and scores["kl-2"] == pytest.approx(0.0)
    assert scores["kl-1-exact"] == pytest.approx(0.0) and scores["bleu-4"] == pytest.approx(1.0, abs=1e-6)


def read_dialog_eval(path):
    header, row = open(path).read().split("\n")[:2]
    names = header.split()[1:]
    return {name: float(value.split(",")[0]) for name, value in zip(names, row.split()[1:])}


@pytest.mark.parametrize("vocab, expected", [(None, "dialog_eval_no_vocab.txt"),
                                             ("vocab400.txt", "dialog_eval_vocab400.txt")])
def test_agrees_with_dialog_eval(vocab, expected):
    cmd = [sys.executable, "-m", "nd_eval", "--hyp", os.path.join(FIXTURE, "hyp.txt"),
           "--ref", os.path.join(FIXTURE, "ref.txt"), "--train", os.path.join(FIXTURE, "train.txt"), "--json"]
    if vocab:
        cmd += ["--vocab", os.path.join(FIXTURE, vocab)]
    ours = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    theirs = read_dialog_eval(os.path.join(FIXTURE, expected))
    for our_key, their_key in [("dist-1", "distinct-1"), ("dist-2", "distinct-2"), ("kl-1", "unigram-kl-div"),
                               ("kl-2", "bigram-kl-div"), ("bleu-3", "bleu-3"), ("bleu-4", "bleu-4")]:
        assert ours[our_key] == pytest.approx(theirs[their_key], abs=1e-6), our_key


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "nd_eval", *args], capture_output=True, text=True)


def test_generate_log_is_restored_to_id_order(tmp_path):
    log = tmp_path / "gen.out"
    log.write_text("S-1\tq1\nH-1\t-0.5\tsecond\nS-0\tq0\nH-0\t-0.2\tfirst one\nP-0\t-0.1 -0.1\n")
    ref = tmp_path / "ref.txt"
    ref.write_text("first one\nsecond\n")
    out = run_cli("--hyp", str(log), "--ref", str(ref), "--train", str(ref), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["bleu-4"] > 0.5  # aligned: both lines match their reference
    log.write_text("H-0\t-0.2\tfirst one\nH-2\t-0.5\tthird\n")
    out = run_cli("--hyp", str(log), "--ref", str(ref), "--train", str(ref))
    assert out.returncode == 2 and "gen.out" in out.stderr and "lacks hypotheses" in out.stderr


def test_bad_inputs_name_the_file(tmp_path):
    good = tmp_path / "ref.txt"
    good.write_text("a b\nc d\n")
    short = tmp_path / "short.txt"
    short.write_text("a b\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"ok\ncaf\xe9\n")
    for hyp, message in [(short, "short.txt has 1 responses but"), (empty, "empty.txt: file is empty"),
                         (latin, "latin.txt:2: not valid UTF-8")]:
        out = run_cli("--hyp", str(hyp), "--ref", str(good), "--train", str(good))
        assert out.returncode == 2 and message in out.stderr, out.stderr


def test_several_systems_make_one_table(tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text("a b\nc d\n")
    other = tmp_path / "other.txt"
    other.write_text("a a\na a\n")
    out = run_cli("--hyp", str(ref), str(other), "--ref", str(ref), "--train", str(ref))
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == 3 and "dist-1" in rows[0]
    assert [row.split("|")[2].strip() for row in rows[1:]] == ["1.0000", "0.2500"]  # dist-1


def test_parallel_scores_equal_sequential():
    lines = [line.split() for line in open(os.path.join(FIXTURE, "ref.txt")).read().splitlines()]
    hyps = [line.split() for line in open(os.path.join(FIXTURE, "hyp.txt")).read().splitlines()]
    sequential = bleu(hyps, lines)
    parallel = bleu(hyps, lines, parallel_from=1)
    for key in sequential:
        assert parallel[key] == pytest.approx(sequential[key], rel=1e-12)
    sequential = evaluate(hyps, lines, lines, parallel_from=10**9)
    parallel = evaluate(hyps, lines, lines, parallel_from=1)
    assert parallel.keys() == sequential.keys() and parallel["sacrebleu_signature"] == sequential["sacrebleu_signature"]
    for key in sequential.keys() - {"sacrebleu_signature"}:
        assert parallel[key] == pytest.approx(sequential[key], rel=1e-12), key


def test_responses_of_a_generate_log(tmp_path):
    log = tmp_path / "generate.log"
    log.write_text("S-1\tq1\nH-1\t-0.5\tsecond .\nS-0\tq0\nH-0\t-0.2\tfirst one .\nGenerate test with beam=1\n")
    refs = tmp_path / "refs.txt"
    refs.write_text("a\nb\n")
    out = tmp_path / "out.txt"
    cmd = [sys.executable, "-m", "nd_eval.responses", str(log), "--out", str(out), "--expect", str(refs)]
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    assert out.read_text() == "first one .\nsecond .\n"
    refs.write_text("a\nb\nc\n")
    out.unlink()
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 2 and "has 2 hypotheses for the 3 lines of" in done.stderr and not out.exists()


def test_scoring_imports_neither_torch_nor_fairseq():
    # nd_eval is a package of its own so that scoring skips the plugin's seconds of torch/fairseq imports
    code = ("import sys, nd_eval.__main__, nd_eval.results, nd_eval.responses, nd_eval.plot; "
            "print(sorted(m for m in ('torch', 'fairseq', 'nd_fairseq') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_progress_prints_a_line_per_epoch_and_the_error():
    log = ('2026-01-01 | INFO | train_inner | {"epoch": 1, "update": 0.5, "loss": "9.1"}\n'
           '2026-01-01 | INFO | valid | {"epoch": 1, "valid_loss": "8.1", "valid_nll_loss": "8.0", '
           '"valid_alpha": "0.07", "valid_num_updates": "82"}\n'
           '2026-01-01 | INFO | train | {"epoch": 1, "train_loss": "10.6", "train_alpha": "0.03", '
           '"train_loss_pred": "0.009", "train_num_updates": "82"}\n'
           'Traceback (most recent call last):\n  File "x.py", line 1\n'
           'nd_fairseq.teacher.TeacherError: teacher t.pt: cannot read\n')
    out = subprocess.run([sys.executable, "-m", "nd_eval.progress"], input=log, capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == ["   epoch 1 valid: loss 8.1 nll 8.0 alpha 0.07 (update 82)",
                                "   epoch 1 train: loss 10.6 alpha 0.03 pred 0.009 (update 82)",
                                "   nd_fairseq.teacher.TeacherError: teacher t.pt: cannot read"]


def test_blank_responses_are_scored_not_refused(tmp_path):
    (tmp_path / "hyp.txt").write_text("\n\n")
    (tmp_path / "ref.txt").write_text("a b\nc d\n")
    out = run_cli("--hyp", str(tmp_path / "hyp.txt"), "--ref", str(tmp_path / "ref.txt"),
                  "--train", str(tmp_path / "ref.txt"), "--json")
    assert out.returncode == 0, out.stderr
    scores = json.loads(out.stdout)
    assert scores["empty_lines"] == 2 and scores["dist-1"] == 0.0



def test_study_trajectory_table(tmp_path):
    """examples/dailydialog/trajectory.py: a row per decoded checkpoint, losses from the log, metrics by hand."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "data" / "text").mkdir(parents=True)
    (tmp_path / "data" / "text" / "valid.tgt").write_text("a b\nc d\n")
    (tmp_path / "data" / "text" / "train.tgt").write_text("a b\nc d\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "run.log").write_text(
        '2026 | INFO | valid | {"epoch": 1, "valid_loss": "3.5", "valid_nll_loss": "3.25", "valid_alpha": "0.5", '
        '"valid_num_updates": "150"}\n')
    (tmp_path / "study" / "run").mkdir(parents=True)
    (tmp_path / "study" / "run" / "valid.150.log").write_text("H-1\t-0.1\ta b\nH-0\t-0.2\ta b\n")
    out = subprocess.run([sys.executable, os.path.join(root, "examples", "dailydialog", "trajectory.py"),
                          str(tmp_path), "run"], capture_output=True, text=True, check=True).stdout
    header, row = out.splitlines()
    values = dict(zip(header.split("\t"), row.split("\t")))
    # two responses "a b": 2 distinct unigrams of 4, 1 distinct bigram of 2
    assert values["update"] == "150" and values["loss"] == "3.5000" and values["alpha"] == "0.5000"
    assert values["dist-1"] == "0.5000" and values["dist-2"] == "0.5000" and values["mean_len"] == "2.00"


SELF_BLEU_LINES = ["i am fine thank you", "i am fine", "i am fine", "yes", "", "what about you ?",
                   "you are fine thank you very much", "a b c d e f g", "i do not know", "no i am not fine"]


def test_self_bleu_equals_nltk_with_every_other_response_as_references():
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    from nd_eval.self_bleu import self_bleu

    lines = [line.split() for line in SELF_BLEU_LINES]
    expected = []
    for i, hyp in enumerate(lines):
        others = lines[:i] + lines[i + 1:]
        expected.append(sentence_bleu(others, hyp, smoothing_function=SmoothingFunction().method1))
    assert self_bleu(lines) == pytest.approx(sum(expected) / len(expected), abs=1e-12)
    assert self_bleu(lines[:1]) == 0.0
    # more responses than the sample: the fixed sample only, each against the rest of the sample
    import random

    from nd_eval.self_bleu import sampled

    assert sampled(lines, 4) == [lines[i] for i in sorted(random.Random(0).sample(range(len(lines)), 4))]
    assert self_bleu(lines, sample=4) == pytest.approx(self_bleu(sampled(lines, 4)), abs=1e-15)
    assert self_bleu(lines, sample=4) != pytest.approx(self_bleu(lines), abs=1e-3)
    assert self_bleu([["a", "b"], ["a", "b"]]) == pytest.approx(  # identical: every precision 1, except 3-, 4-grams
        math.exp((math.log(1) + math.log(1) + math.log(0.1) + math.log(0.1)) / 4))


def test_entropy_and_response_statistics_by_hand():
    from collections import Counter

    from nd_eval.metrics import entropy, response_statistics

    # unigrams a a a b: p = 3/4, 1/4
    assert entropy(Counter({("a",): 3, ("b",): 1})) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert entropy(Counter()) == 0.0
    lines = [r.split() for r in ["i know", "i know", "x " * 50, "no", "yes", "i know"]]
    stats = response_statistics(lines, length_limit=50)
    assert stats == {"mean-length": (2 * 3 + 50 + 1 + 1) / 6, "at-limit": 1 / 6, "distinct-responses": 4,
                     "top10-share": 1.0}
    many = [[str(i)] for i in range(11)] + [["0"]]  # "0" twice, ten others once: the ten commonest cover 11
    assert response_statistics(many)["top10-share"] == 11 / 12
