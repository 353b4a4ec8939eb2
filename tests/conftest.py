import logging
import warnings

import pytest

from .helpers import preprocess, run_tiny_demo, train_teacher, write_pairs

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)


@pytest.fixture(scope="session")
def databin(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_pairs(str(root / "text"))
    return preprocess(str(root / "text"), str(root / "bin"))


@pytest.fixture(scope="session")
def teacher_ckpt(databin, tmp_path_factory):
    """A transformer_nd_tiny teacher, trained one epoch with plain MLE."""
    return train_teacher(databin, str(tmp_path_factory.mktemp("teacher")))


@pytest.fixture(scope="session")
def plain_teacher_ckpt(databin, tmp_path_factory):
    """A teacher of fairseq's own ``transformer_tiny`` arch (not transformer_nd)."""
    return train_teacher(databin, str(tmp_path_factory.mktemp("plain_teacher")),
                         "--arch", "transformer_tiny")


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """(the folder the README's commands run in, the first run's CompletedProcess): examples/demo.sh on a few hundred
    pairs for one epoch, its work folder at FOLDER/work/demo beside links to the repository's files."""
    return run_tiny_demo(tmp_path_factory.mktemp("readme"))
