"""The one text reader and writer of preprocess/ and nd_eval/: errors that name the file and
line, and output files that appear whole or not at all."""
import contextlib
import os
import sys
import tempfile

# the process umask, for the mode of the outputs (reading it means setting it; restored at once)
_UMASK = os.umask(0)
os.umask(_UMASK)


class InputError(ValueError):
    """Bad input; the message names the file and line."""


def read_lines(path, allow_blank=False):
    """The lines of a UTF-8 text file, without their line ends; errors name file and line.
    A file of blank lines only is refused as empty unless ``allow_blank`` (e.g. responses,
    where a model may have generated nothing)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from e
    if not raw or (not raw.strip() and not allow_blank):
        raise InputError(f"{path}: file is empty")
    lines = raw.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out = []
    for number, line in enumerate(lines, 1):
        try:
            out.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            raise InputError(f"{path}:{number}: not valid UTF-8 (byte {e.start})") from e
    return out


def read_pair_lines(path):
    """The lines of a ``query__eou__response`` file, each checked to be a pair."""
    lines = read_lines(path)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise InputError(f"{path}:{number}: empty line (expected query__eou__response)")
        turns = line.split("__eou__")
        if len(turns) != 2:
            what = "no '__eou__'" if len(turns) == 1 else f"{len(turns)} turns"
            raise InputError(f"{path}:{number}: {what} (expected one query__eou__response pair)")
        for part, turn in zip(("query", "response"), turns):
            if not turn.strip():
                raise InputError(f"{path}:{number}: empty {part} (expected query__eou__response)")
    return lines


@contextlib.contextmanager
def atomic_outputs(*paths):
    """Yield temporary file objects for ``paths``; rename them into place only when the
    block succeeds, so a failure never leaves partial output behind."""
    handles = []
    try:
        for path in paths:
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; the output gets an ordinary file's mode
            handles.append((open(fd, "w", encoding="utf-8", newline="\n"), tmp, path))
        yield [h for h, _, _ in handles]
        for h, tmp, path in handles:
            h.close()
            os.replace(tmp, path)
        handles = []
    finally:
        for h, tmp, _ in handles:
            h.close()
            if os.path.exists(tmp):
                os.remove(tmp)


def run_cli(main):
    """Run ``main()``; print an InputError as one line on stderr with exit code 2."""
    try:
        main()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
