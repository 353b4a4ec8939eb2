"""The shell scripts a user runs: --help, set-up misuse, the test runner's file argument."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bash(*args, **kwargs):
    return subprocess.run(["bash", *args], capture_output=True, text=True, cwd=ROOT, **kwargs)


@pytest.mark.parametrize("script", ["preprocess/binarize.sh", "preprocess/prepare_dailydialog.sh", "examples/demo.sh",
                                    "examples/dailydialog/run.sh", "examples/dailydialog/study.sh"])
def test_help_prints_the_usage(script, tmp_path):
    out = bash(script, "--help")
    assert out.returncode == 0 and out.stderr == ""
    assert f"bash {script}" in out.stdout  # the usage line of the script's header
    assert not any(tmp_path.iterdir())


def test_setup_env_refuses_to_be_sourced():
    out = bash("-c", "source examples/setup_env.sh; echo still here $-")
    assert "run it with bash" in out.stderr
    assert "still here" in out.stdout and "e" not in out.stdout.split("still here")[1]  # no set -e left behind


def test_run_sh_runs_only_the_files_it_is_given():
    out = bash("tests/run.sh", "tests/test_scripts.py", "--collect-only")
    assert out.returncode == 0, out.stderr
    collected = [line for line in out.stdout.splitlines() if "::" in line]
    assert collected and all(line.startswith("tests/test_scripts.py::") for line in collected)
