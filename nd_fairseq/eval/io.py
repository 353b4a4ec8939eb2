"""Reading hypothesis, reference, training and vocabulary files with errors that name the
file (and line) at fault."""
import re
from typing import List

_HYPOTHESIS = re.compile(r"^H-(\d+)\t[^\t]*\t?(.*)$")


class EvalInputError(ValueError):
    pass


def read_text(path) -> List[str]:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise EvalInputError(f"{path}: cannot read ({e.strerror})") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise EvalInputError(f"{path}:{line}: not valid UTF-8 (byte {e.start})") from e
    if not text.strip():
        raise EvalInputError(f"{path}: file is empty")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def is_generate_log(lines) -> bool:
    return any(_HYPOTHESIS.match(line) for line in lines[:2000])


def read_hypotheses(path) -> List[str]:
    """Responses, one a line, from a plain file or a fairseq-generate log (its H- lines,
    restored to example-id order)."""
    lines = read_text(path)
    if not is_generate_log(lines):
        return lines
    by_id = {}
    for line in lines:
        m = _HYPOTHESIS.match(line)
        if m and int(m.group(1)) not in by_id:  # with --nbest > 1 keep the best
            by_id[int(m.group(1))] = m.group(2)
    missing = sorted(set(range(max(by_id) + 1)) - set(by_id))
    if missing:
        raise EvalInputError(
            f"{path}: fairseq-generate log lacks hypotheses for {len(missing)} ids "
            f"(first {missing[:5]}); rerun generation (e.g. --required-batch-size-multiple 1)"
        )
    return [by_id[i] for i in range(len(by_id))]


def read_vocab(path) -> set:
    """One token per line (a count or other columns after the token are ignored)."""
    return {line.split()[0] for line in read_text(path) if line.strip()}
