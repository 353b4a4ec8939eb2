"""Reading hypothesis and vocabulary files; plain text files are read by preprocess.textio, the
one reader of the project, so that every error names the file (and line) at fault."""
import json
import re
from typing import List, Optional

from preprocess.textio import InputError, read_lines

_HYPOTHESIS = re.compile(r"^H-(\d+)\t[^\t]*\t?(.*)$")


def is_generate_log(lines) -> bool:
    return any(_HYPOTHESIS.match(line) for line in lines[:2000])


def read_hypotheses(path) -> List[str]:
    """Responses, one a line, from a plain file or a fairseq-generate log (its H- lines,
    restored to example-id order)."""
    lines = read_lines(path, allow_blank=True)
    if not is_generate_log(lines):
        return lines
    by_id = {}
    for line in lines:
        m = _HYPOTHESIS.match(line)
        if m and int(m.group(1)) not in by_id:  # with --nbest > 1 keep the best
            by_id[int(m.group(1))] = m.group(2)
    missing = sorted(set(range(max(by_id) + 1)) - set(by_id))
    if missing:
        raise InputError(
            f"{path}: fairseq-generate log lacks hypotheses for {len(missing)} ids "
            f"(first {missing[:5]}); rerun generation (e.g. --required-batch-size-multiple 1)"
        )
    return [by_id[i] for i in range(len(by_id))]


def log_row(line: str, tag: str) -> Optional[dict]:
    """The record of a fairseq ``--log-format json`` line tagged ``| tag |`` (``train_inner``,
    ``train``, ``valid``); None for any other line."""
    marker = f"| {tag} |"
    return json.loads(line.split(marker, 1)[1]) if marker in line else None


def read_vocab(path) -> set:
    """One token per line (a count or other columns after the token are ignored)."""
    return {line.split()[0] for line in read_lines(path) if line.strip()}
