"""Turn the DailyDialog release into (query, response) pairs in the authors' format.

    python preprocess/dailydialog_pairs.py ORIGINAL_DIR OUT_DIR

ORIGINAL_DIR holds ``dialogues_{train,validation,test}.txt`` (one dialogue a line, turns
separated by ``__eou__``); OUT_DIR receives ``{train,valid,test}_data.txt`` with one pair a
line, ``query__eou__response``: every two consecutive turns of a dialogue. Each turn is
normalised the way the authors' files of Li et al. (2022) are (measured on their valid/test
files; see preprocess/README.md): lowercased; every "." a token of its own ("1.15" ->
"1 . 15", "..." -> ". . ."); the clitics 's 'll 've 're split off ("it's" -> "it 's"),
while n't 'm 'd stay attached; whitespace collapsed; a turn that starts or ends with "."
keeps one space there.
"""
import argparse
import collections
import os
import re

from preprocess.textio import InputError, atomic_outputs, read_lines, read_pair_lines, run_cli

SPLITS = {"train": "dialogues_train.txt", "valid": "dialogues_validation.txt", "test": "dialogues_test.txt"}
_SPACES = re.compile(" +")
_CLITIC = re.compile(r"(?<=\w)('s|'ll|'ve|'re)")


def normalise_turn(turn: str) -> str:
    text = " ".join(_CLITIC.sub(r" \1", turn.lower()).split())
    # the authors padded every "." with spaces after stripping the turn and then collapsed
    # runs of spaces without stripping again: a "." at either end leaves one space there
    return _SPACES.sub(" ", text.replace(".", " . "))


def dialogue_pairs(line: str, path: str, number: int):
    """The consecutive-turn pairs of one dialogue line of the release."""
    if "__eou__" not in line:
        raise InputError(f"{path}:{number}: no '__eou__' turn separator in this dialogue line")
    turns = [normalise_turn(t) for t in line.split("__eou__")]
    turns = [t for t in turns if t.strip()]
    return [(q, r) for q, r in zip(turns, turns[1:])]


def _norm(pair_line: str) -> str:
    return " ".join(pair_line.split())


def build(original_dir: str, out_dir: str, max_tokens: int = 44, heldout=None):
    """Write OUT_DIR/{train,valid,test}_data.txt; returns {split: number of pairs}.

    Pairs with a turn longer than ``max_tokens`` tokens are dropped (the authors' files have
    none over 44). With ``heldout = (valid_file, test_file)``, those files become the valid
    and test sets as they are, and the training set is every pair of the whole release (all
    three splits, as the authors re-split the pooled data pair by pair) minus one occurrence
    of each held-out pair.
    """
    pairs = {}
    for split, name in SPLITS.items():
        path = os.path.join(original_dir, name)
        pairs[split] = []
        for number, line in enumerate(read_lines(path), 1):
            if not line.strip():
                raise InputError(f"{path}:{number}: empty line (expected one dialogue a line)")
            pairs[split].extend(
                f"{q}__eou__{r}"
                for q, r in dialogue_pairs(line, path, number)
                if len(q.split()) <= max_tokens and len(r.split()) <= max_tokens
            )
    if heldout:
        held = {"valid": read_pair_lines(heldout[0]), "test": read_pair_lines(heldout[1])}
        remaining = collections.Counter(_norm(p) for lines in held.values() for p in lines)
        train = []
        for pair in pairs["train"] + pairs["valid"] + pairs["test"]:
            if remaining[_norm(pair)] > 0:
                remaining[_norm(pair)] -= 1
            else:
                train.append(pair)
        pairs = {"train": train, **held}
    outputs = [os.path.join(out_dir, f"{split}_data.txt") for split in SPLITS]
    with atomic_outputs(*outputs) as files:
        for split, f in zip(SPLITS, files):
            f.writelines(pair + "\n" for pair in pairs[split])
    return {split: len(p) for split, p in pairs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("original_dir", help="folder with dialogues_{train,validation,test}.txt")
    parser.add_argument("out_dir", help="folder for {train,valid,test}_data.txt")
    parser.add_argument("--max-tokens", type=int, default=44,
                        help="drop pairs with a turn of more tokens (default 44, the longest "
                        "turn in the authors' files)")
    parser.add_argument("--heldout", nargs=2, metavar=("VALID", "TEST"),
                        help="use these pair files (e.g. the authors' valid_data.txt and "
                        "test_data.txt) as valid/test and train on the rest of the release")
    args = parser.parse_args()
    counts = build(args.original_dir, args.out_dir, args.max_tokens, args.heldout)
    print(" ".join(f"{split}={n}" for split, n in counts.items()), "pairs written to", args.out_dir)


if __name__ == "__main__":
    run_cli(main)
