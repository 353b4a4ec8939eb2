"""Small helpers for the tests: dummy dialogue data, the real fairseq CLIs, tiny models."""
import importlib.util
import os
import random
import subprocess
import sys

from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

import nd_fairseq

USER_DIR = os.path.dirname(nd_fairseq.__file__)
# where the fairseq-* console scripts are: this Python's bin folder unless ND_FAIRSEQ_BIN says
BIN = os.environ.get("ND_FAIRSEQ_BIN", os.path.dirname(sys.executable))
GENERIC = ["i don't know .", "ok .", "yes , sure .", "thank you ."]


def load_script(path):
    """A script of examples/ as a module, to test its functions (examples/ is no package)."""
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_pairs(dirname, sizes=(("train", 300), ("valid", 40), ("test", 37)), seed=0, words=60):
    """Parallel .src/.tgt files of random queries; 40% of responses are one of four generic
    ones (the many-to-one pattern ND targets). Returns dirname."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(words)]
    os.makedirs(dirname, exist_ok=True)
    for split, n in sizes:
        with open(os.path.join(dirname, f"{split}.src"), "w") as src, open(
            os.path.join(dirname, f"{split}.tgt"), "w"
        ) as tgt:
            for _ in range(n):
                src.write(" ".join(rng.choices(vocab, k=rng.randint(3, 10))) + "\n")
                if rng.random() < 0.4:
                    tgt.write(rng.choice(GENERIC) + "\n")
                else:
                    tgt.write(" ".join(rng.choices(vocab, k=rng.randint(2, 8))) + "\n")
    return dirname


def cli(name, *args, check=True):
    """Run a fairseq console script (``fairseq-train`` ...) of this environment."""
    proc = subprocess.run(
        [os.path.join(BIN, name), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def preprocess(textdir, destdir, srcdict=None, splits=("train", "valid", "test")):
    prefixes = []
    for split in splits:
        prefixes += [f"--{split}pref", os.path.join(textdir, split)]
    extra = ["--srcdict", srcdict] if srcdict else []
    cli("fairseq-preprocess", "--source-lang", "src", "--target-lang", "tgt", *prefixes,
        "--destdir", destdir, "--joined-dictionary", "--workers", "1", *extra)
    return destdir


TINY_TRAIN = [
    "--arch", "transformer_nd_tiny", "--optimizer", "adam", "--lr", "0.005",
    "--max-tokens", "1000", "--no-epoch-checkpoints", "--no-progress-bar", "--seed", "1",
    "--num-workers", "0",
]


def train(databin, save_dir, *extra, epochs=1):
    cli("fairseq-train", databin, "--user-dir", USER_DIR, "--save-dir", save_dir,
        "--max-epoch", epochs, *TINY_TRAIN, *extra)
    return os.path.join(save_dir, "checkpoint_last.pt")


def train_teacher(databin, save_dir, *extra):
    return train(databin, save_dir, "--task", "translation", "--criterion",
                 "label_smoothed_cross_entropy", "--label-smoothing", "0.1", *extra)


def setup(databin, *extra):
    """In-process task, model and criterion, built exactly as fairseq-train builds them."""
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser, [databin, "--user-dir", USER_DIR, "--arch", "transformer_nd_tiny",
                 "--dropout", "0", *extra])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    return task, model, criterion


def first_batch(task, split="valid", max_tokens=400):
    task.load_dataset(split)
    itr = task.get_batch_iterator(task.dataset(split), max_tokens=max_tokens).next_epoch_itr(shuffle=False)
    return next(iter(itr))


ROOT = os.path.dirname(USER_DIR)
DEMO_ENV = {**os.environ, "DEMO_EPOCHS": "1", "PYTHONWARNINGS": "ignore", "ND_VENV": os.path.join(ROOT, ".venv")}


def run_tiny_demo(folder):
    """Run examples/demo.sh on a few hundred random pairs for one epoch into folder/work/demo, with links to the
    repository's files beside it, so that commands written for the repository root run in ``folder``."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(40)]
    pairs = folder / "pairs"
    pairs.mkdir()
    for split, n in (("train", 300), ("valid", 30), ("test", 20)):
        with open(pairs / f"{split}_data.txt", "w") as f:
            for _ in range(n):
                response = rng.choice(["ok .", "i don't know ."]) if rng.random() < 0.4 else " ".join(
                    rng.choices(words, k=rng.randint(2, 6)))
                f.write(" ".join(rng.choices(words, k=rng.randint(3, 8))) + "__eou__" + response + "\n")
    for name in ("nd_fairseq", "nd_eval", "preprocess", "examples", "setup.py"):
        os.symlink(os.path.join(ROOT, name), folder / name)
    run = subprocess.run(["bash", "examples/demo.sh", str(folder / "work" / "demo"), str(pairs)], capture_output=True,
                         text=True, cwd=ROOT, env=DEMO_ENV)
    assert run.returncode == 0, run.stderr[-3000:]
    return folder, run
