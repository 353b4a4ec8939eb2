"""What a log must name for a run to be redone bit for bit: the code's version, torch's and the
number of threads its arithmetic uses (another thread count sums floats in another order and
gives another model; examples/dailydialog/RESULTS.md measures it)."""
import os
import subprocess

import torch

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def code_version(path=PACKAGE_DIR):
    """``git describe --always --dirty`` of the checkout holding path, or None outside one."""
    try:
        out = subprocess.run(["git", "-C", path, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):  # no git, or a stuck file system
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def provenance():
    """One line for the log: code version, torch version and intra-op threads."""
    return (f"nd_fairseq {code_version() or '(not a git checkout)'}, torch {torch.__version__}, "
            f"intra-op threads {torch.get_num_threads()}")
