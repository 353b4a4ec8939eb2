"""The README as executable documentation: every command (``$ `` lines of its console blocks) and every Python
block of its quick start, "The ND loss without fairseq" and "Notes for fairseq users" runs as written, in order,
in a folder laid out like the repository whose work/demo is a tiny demo's; a README edit that breaks one fails."""
import os
import re
import subprocess

from .helpers import DEMO_ENV, ROOT

SECTIONS = ("## Quick start", "## The ND loss without fairseq", "## Notes for fairseq users")
# run elsewhere in the suite, not here: the full demo takes minutes (test_scripts.py runs it on a small dataset
# with the same script), and the suite cannot run itself
NOT_RUN = {"bash examples/demo.sh", "bash tests/run.sh"}


def readme_blocks():
    """(section, language, text) of every fenced block of SECTIONS, in README order."""
    section, blocks, fence = None, [], None
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        for line in f:
            if fence is not None:
                if line.startswith("```"):
                    blocks.append((section, fence[0], "".join(fence[1])))
                    fence = None
                else:
                    fence[1].append(line)
            elif line.startswith("## "):
                section = line.strip()
            elif line.startswith("```") and section in SECTIONS:
                fence = (line.strip()[3:], [])
    return blocks


def console_commands(text):
    """The ``$ `` commands of a console block, continuation lines (after a trailing backslash) joined."""
    commands, current = [], None
    for line in text.splitlines():
        if current is not None:
            current += "\n" + line
        elif line.startswith("$ "):
            current = line[2:]
        if current is not None and not current.endswith("\\"):
            commands.append(current)
            current = None
    return commands


def test_the_readme_has_the_blocks_this_test_runs():
    blocks = readme_blocks()
    assert {section for section, _, _ in blocks} == set(SECTIONS)
    commands = [c for _, lang, text in blocks if lang == "console" for c in console_commands(text)]
    assert NOT_RUN <= set(commands) and len(commands) >= 8
    assert sum(lang == "python" for _, lang, _ in blocks) >= 2


def test_every_readme_command_runs_as_written(tiny_demo):
    folder, _ = tiny_demo
    env = {**DEMO_ENV, "PATH": os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"]}
    ran = 0
    for section, lang, text in readme_blocks():
        if lang == "console":
            for command in console_commands(text):
                if command in NOT_RUN:
                    continue
                out = subprocess.run(["bash", "-c", "set -euo pipefail\n" + command], capture_output=True, text=True,
                                     cwd=folder, env=env)
                assert out.returncode == 0, f"{command}\n{out.stderr[-3000:]}"
                ran += 1
        elif lang == "python":
            code = text
            if section == "## The ND loss without fairseq":  # that it needs nothing but torch
                code = "import sys\nsys.modules['fairseq'] = None\n" + code
            out = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-c", code], capture_output=True,
                                 text=True, cwd=folder, env=env)
            assert out.returncode == 0, f"{section}:\n{text}\n{out.stderr[-3000:]}"
            ran += 1
    assert ran >= 8
    assert (folder / "work" / "demo" / "nd" / "average.pt").exists()


def test_sample_outputs_in_the_readme_are_marked():
    """An output shown in the README but not produced by the commands above says it is illustrative."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    for match in re.finditer(r"```text\n", text):
        before = text[max(0, match.start() - 300):match.start()]
        assert "illustrative" in before, text[match.start():match.start() + 200]
