"""preprocess/: pair building, source entropy, D_N selection, bad input."""
import math
import os
import subprocess
import sys

import pytest

from preprocess.dailydialog_pairs import normalise_turn
from preprocess.source_entropy import ngram_source_entropy, source_entropy, top_indices

from .helpers import load_script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SHARED = os.path.join(ROOT, "..", "shared", "data", "dailydialog")
ANALYSIS = os.path.join(ROOT, "examples", "dailydialog", "analysis", "compare_with_authors.py")


def script(name, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "preprocess", name), *map(str, args)],
                          capture_output=True, text=True)


def test_source_entropy_by_hand():
    pairs = [("q1", "r1"), ("q2", "r1"), ("q2", " r1 "), ("q3", "r2"), ("q4", "r3"), ("q4", "r3")]
    h_r1 = -(1 / 3 * math.log2(1 / 3) + 2 / 3 * math.log2(2 / 3))  # queries q1 once, q2 twice
    assert source_entropy(pairs) == pytest.approx([h_r1, h_r1, h_r1, 0.0, 0.0, 0.0])
    assert source_entropy(pairs, base=math.e)[0] == pytest.approx(h_r1 * math.log(2))
    four = [(f"q{i}", "i don't know .") for i in range(4)]
    assert source_entropy(four) == pytest.approx([2.0] * 4)


def test_ngram_source_entropy_by_hand():
    # bigrams: "x y" is shared by pairs 1, 2, 4 (one query each), so each has p = 1/3
    pairs = [("a", "x y z"), ("b", "x y"), ("a", "w"), ("c", "x  y")]
    assert ngram_source_entropy(pairs, n=2) == pytest.approx([math.log2(3), math.log2(3), 0.0, math.log2(3)])
    # a repeated pair counts twice in c(u) and c(q, u) but once in the sum: p = 1/4, 2/4, 1/4
    pairs.append(("b", "x y"))
    assert ngram_source_entropy(pairs, n=2) == pytest.approx([1.5, 1.5, 0.0, 1.5, 1.5])
    # p_j is the smallest share over the pair's n-grams: p_1 = min(c(a, xy)/c(xy), c(a, yz)/c(yz)) = min(1, 1/2);
    # p_2 = 1, p_3 = 1/2; "x y" links pairs 1 and 2 only
    three = [("a", "x y z"), ("a", "x y"), ("b", "y z")]
    assert ngram_source_entropy(three, n=2) == pytest.approx([1.0, 0.5, 1.0])
    # NLTK tokens: "don't" is two tokens, so this four-word response has a 5-gram
    assert ngram_source_entropy([("q1", "i don't know ."), ("q2", "i don't know .")]) == pytest.approx([1.0, 1.0])
    assert ngram_source_entropy([("q1", "thank you ."), ("q2", "thank you .")]) == [0.0, 0.0]


def test_ngram_unit_on_the_command_line(tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("a __eou__ i don't know .\nb __eou__ i don't know .\nc __eou__ yes .\n")
    out = script("source_entropy.py", pairs, "--unit", "ngram", "--scores", tmp_path / "s.txt")
    assert out.returncode == 0, out.stderr
    assert [float(x) for x in (tmp_path / "s.txt").read_text().split()] == pytest.approx([1.0, 1.0, 0.0])
    out = script("source_entropy.py", pairs, "--unit", "ngram", "--n", "0", "--scores", tmp_path / "t.txt")
    assert out.returncode != 0 and "--n must be >= 1" in out.stderr and not (tmp_path / "t.txt").exists()


def test_top_selection_is_stable_on_ties():
    scores = [0.0, 1.0, 0.0, 2.0, 1.0, 0.0]
    assert top_indices(scores, 0.5).tolist() == [1, 3, 4]
    assert top_indices(scores, 0.67).tolist() == [0, 1, 3, 4]  # 4.02 rounds to 4; first zero by file order


def test_negative_and_rest_files(tmp_path):
    pairs = tmp_path / "train_data.txt"
    pairs.write_text("a__eou__ok .\nb__eou__ok . \nc__eou__sure\nd__eou__ok .\ne__eou__yes\nf__eou__yes\n")
    out = script("source_entropy.py", pairs, "--scores", tmp_path / "s.txt", "--negative", tmp_path / "neg",
                 "--rest", tmp_path / "rest", "--all", tmp_path / "all")
    assert out.returncode == 0, out.stderr
    scores = [float(x) for x in (tmp_path / "s.txt").read_text().split()]
    assert scores == pytest.approx([math.log2(3), math.log2(3), 0, math.log2(3), 1, 1])
    assert (tmp_path / "neg.src").read_text() == "a\nb\nd\n"
    assert (tmp_path / "neg.tgt").read_text() == "ok .\nok .\nok .\n"
    assert (tmp_path / "rest.src").read_text() == "c\ne\nf\n"
    assert (tmp_path / "all.tgt").read_text().count("\n") == 6
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "neg.src").stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file's mode, not 0600
    first = (tmp_path / "neg.src").read_bytes()
    script("source_entropy.py", pairs, "--scores", tmp_path / "s.txt", "--negative", tmp_path / "neg")
    assert (tmp_path / "neg.src").read_bytes() == first


def test_parallel_input(tmp_path):
    (tmp_path / "t.src").write_text("a\nb\nc\n")
    (tmp_path / "t.tgt").write_text("ok\nok\nno\n")
    out = script("source_entropy.py", tmp_path / "t.src", "--tgt", tmp_path / "t.tgt", "--scores", tmp_path / "s")
    assert out.returncode == 0 and (tmp_path / "s").read_text().split() == ["1.000000", "1.000000", "0.000000"]


@pytest.mark.parametrize("content, message", [
    (b"a__eou__b\n\nc__eou__d\n", "train_data.txt:2: empty line"),
    (b"a__eou__b\nno separator here\n", "train_data.txt:2: no '__eou__'"),
    (b"a__eou__b\nc__eou__caf\xe9\n", "train_data.txt:2: not valid UTF-8"),
    (b"", "train_data.txt: file is empty"),
    (b"a__eou__b\n __eou__d\n", "train_data.txt:2: empty query"),
    (b"a__eou__b\nc__eou__ \n", "train_data.txt:2: empty response"),
    (b"a__eou__b\nc__eou__d__eou__e\n", "train_data.txt:2: 3 turns (expected one query__eou__response pair)"),
])
def test_bad_pair_files(tmp_path, content, message):
    bad = tmp_path / "train_data.txt"
    bad.write_bytes(content)
    out_dir = tmp_path / "out"
    out = script("source_entropy.py", bad, "--scores", out_dir / "s.txt", "--negative", out_dir / "neg")
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_mismatched_parallel_files(tmp_path):
    (tmp_path / "t.src").write_text("a\nb\n")
    (tmp_path / "t.tgt").write_text("a\n")
    out = script("source_entropy.py", tmp_path / "t.src", "--tgt", tmp_path / "t.tgt", "--scores", tmp_path / "s")
    assert out.returncode == 2 and "t.src has 2 lines but" in out.stderr and not (tmp_path / "s").exists()


def test_turn_normalisation():
    assert normalise_turn(" What's wrong with MSG ? It's fine . ") == "what 's wrong with msg ? it 's fine . "
    assert normalise_turn("I'm sure you'll like it, we've got it.") == "i'm sure you 'll like it, we 've got it . "
    assert normalise_turn(" ... well , 1.15 dollars") == " . . . well , 1 . 15 dollars"
    assert normalise_turn("Don't you think they're late ?") == "don't you think they 're late ?"


def test_pairs_and_heldout(tmp_path):
    original = tmp_path / "original"
    original.mkdir()
    (original / "dialogues_train.txt").write_text("Hi . __eou__ Hello ! __eou__ Bye . __eou__\nA __eou__ B __eou__\n")
    (original / "dialogues_validation.txt").write_text("C __eou__ D __eou__\n")
    (original / "dialogues_test.txt").write_text("E __eou__ F __eou__\n")
    out = script("dailydialog_pairs.py", original, tmp_path / "pairs")
    assert out.returncode == 0, out.stderr
    expected = "hi . __eou__hello !\nhello !__eou__bye . \na__eou__b\n"
    assert (tmp_path / "pairs" / "train_data.txt").read_text() == expected
    (tmp_path / "v.txt").write_text("hello !__eou__bye . \n")
    (tmp_path / "t.txt").write_text("e__eou__f\n")
    heldout = ["--heldout", tmp_path / "v.txt", tmp_path / "t.txt"]
    out = script("dailydialog_pairs.py", original, tmp_path / "pooled", *heldout)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "pooled" / "train_data.txt").read_text() == "hi . __eou__hello !\na__eou__b\nc__eou__d\n"
    assert (tmp_path / "pooled" / "test_data.txt").read_text() == "e__eou__f\n"
    (original / "dialogues_test.txt").write_text("E __eou__ F __eou__\nno turns at all\n")
    out = script("dailydialog_pairs.py", original, tmp_path / "bad")
    assert out.returncode == 2 and "dialogues_test.txt:2: no '__eou__'" in out.stderr
    assert not (tmp_path / "bad").exists() or os.listdir(tmp_path / "bad") == []


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="needs ../shared/data/dailydialog")
def test_reproduces_the_authors_valid_and_test_pairs(tmp_path):
    out = script("dailydialog_pairs.py", os.path.join(SHARED, "original"), tmp_path)
    assert out.returncode == 0, out.stderr
    ours = set()
    for split in ("train", "valid", "test"):
        ours.update((tmp_path / f"{split}_data.txt").read_text(encoding="utf-8").splitlines())
    for name, exact_expected in (("valid_data.txt", 6816), ("test_data.txt", 6837)):
        theirs = open(os.path.join(SHARED, name), encoding="utf-8").read().splitlines()
        assert sum(line in ours for line in theirs) == exact_expected
        collapsed = {" ".join(x.split()) for x in ours}
        assert all(" ".join(line.split()) in collapsed for line in theirs)


def test_specificity_is_mean_nidf_by_hand():
    specificity_function = load_script(ANALYSIS).specificity_function

    # three responses: idf(a) = log 3/3 = 0, idf(b) = log 3/2, idf(c) = log 3 (max); NIDF = idf / log 3
    specificity = specificity_function(["a b", "a b c", "a"])
    assert specificity("a b") == pytest.approx((0 + math.log(1.5) / math.log(3)) / 2)
    assert specificity("c") == pytest.approx(1.0) and specificity("a") == 0.0


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="needs ../shared/data/dailydialog")
def test_comparison_with_the_authors_scores(tmp_path):
    out = script("dailydialog_pairs.py", os.path.join(SHARED, "original"), tmp_path, "--heldout",
                 os.path.join(SHARED, "valid_data.txt"), os.path.join(SHARED, "test_data.txt"))
    assert out.returncode == 0, out.stderr
    out = subprocess.run([sys.executable, ANALYSIS, tmp_path / "train_data.txt", SHARED],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "'thank you .': theirs 0.1235, ours 0.1250" in out.stdout
    assert "47727; Eq. 4 gives 0 there; theirs is 0 at 44.6%, ours at 100.0%" in out.stdout
    assert "| `thank you .` | 274 | 298 | -0.000 | 7.817 |" in out.stdout


def test_dailydialog_tokenizer_gives_the_pairs_form():
    from nd_fairseq.tokenizer import DailyDialogTokenizer

    tokenizer = DailyDialogTokenizer()
    assert tokenizer.encode("How are you?") == "how are you ?"
    assert tokenizer.encode("You’re late, it's 5.30!") == "you ’ re late , it 's 5 . 30 !"
    assert tokenizer.encode("I don't know (really)...") == "i don't know ( really ) . . ."
    assert tokenizer.decode("how are you ? i 'm fine , it 's ok .") == "how are you? i 'm fine, it's ok."
