"""--task negative_distillation: teacher loading, clear errors, complete batches."""
import logging
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

from nd_fairseq.provenance import PACKAGE_DIR, code_version
from nd_fairseq.teacher import StudentError, TeacherError

from .helpers import TINY_TRAIN, USER_DIR, cli, first_batch, preprocess, setup, train_teacher, write_pairs


def nd(databin, *extra):
    return setup(databin, "--task", "negative_distillation", "--criterion", "negative_distillation", *extra)


def test_missing_teacher_path(databin):
    with pytest.raises(TeacherError, match="needs --teacher-path"):
        nd(databin)


def test_teacher_file_not_found(databin, tmp_path):
    with pytest.raises(TeacherError, match="teacher checkpoint not found: .*nope.pt"):
        nd(databin, "--teacher-path", str(tmp_path / "nope.pt"))


def test_truncated_teacher_file(databin, teacher_ckpt, tmp_path):
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(open(teacher_ckpt, "rb").read()[:5000])
    with pytest.raises(TeacherError, match="could not read teacher checkpoint .*truncated.pt"):
        nd(databin, "--teacher-path", str(bad))


def test_not_a_fairseq_checkpoint(databin, tmp_path):
    bad = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, bad)
    with pytest.raises(TeacherError, match="could not read .*weights.pt .*fairseq checkpoint"):
        nd(databin, "--teacher-path", str(bad))


def test_teacher_with_another_dictionary(databin, tmp_path):
    # same corpus size but other words: another vocabulary size
    text = write_pairs(str(tmp_path / "text"), seed=5, words=30)
    other = preprocess(text, str(tmp_path / "bin"))
    ckpt = train_teacher(other, str(tmp_path / "ckpt"))
    with pytest.raises(TeacherError, match="vocabulary of .* entries but this task's"):
        nd(databin, "--teacher-path", ckpt)


def test_teacher_with_same_size_but_permuted_dictionary(databin, teacher_ckpt, tmp_path):
    # copy the teacher's data dir with two dictionary entries swapped
    state = torch.load(teacher_ckpt, map_location="cpu")
    moved = tmp_path / "bin"
    shutil.copytree(databin, moved)
    for lang in ("src", "tgt"):
        lines = open(moved / f"dict.{lang}.txt").read().splitlines()
        lines[0], lines[1] = lines[1], lines[0]
        open(moved / f"dict.{lang}.txt", "w").write("\n".join(lines) + "\n")
    state["cfg"]["task"]["data"] = str(moved)
    ckpt = tmp_path / "teacher.pt"
    torch.save(state, ckpt)
    with pytest.raises(TeacherError, match="differs from this task's"):
        nd(databin, "--teacher-path", str(ckpt))


@pytest.mark.parametrize("flags, message", [
    (["--decoder-layers", "1"], "decoder layers 2 vs 1"),
    (["--decoder-embed-dim", "32", "--decoder-output-dim", "32",
      "--encoder-embed-dim", "32"], "decoder embed dim 64 vs 32"),
    (["--decoder-attention-heads", "4"], "decoder attention heads 2 vs 4"),
])
def test_teacher_that_cannot_be_paired(databin, teacher_ckpt, flags, message):
    with pytest.raises(TeacherError, match=message):
        nd(databin, "--teacher-path", teacher_ckpt, *flags)


def test_pairing_only_checks_the_terms_in_use(databin, teacher_ckpt):
    nd(databin, "--teacher-path", teacher_ckpt, "--decoder-attention-heads", "4", "--nd-att-weight", "0")


def test_plain_transformer_teacher_supplies_features(databin, plain_teacher_ckpt):
    task, model, criterion = nd(databin, "--teacher-path", plain_teacher_ckpt, "--nd-fixed-alpha", "0.5")
    sample = first_batch(task)
    task.attach_teacher_outputs(sample, model, criterion)
    assert len(sample["nd_teacher"].attn_logits) == 2
    loss, _, log = criterion(model, sample)
    assert torch.isfinite(loss) and {"loss_pred", "loss_hid", "loss_att"} <= set(log)


def test_standard_trains_with_the_same_task_and_no_teacher(databin):
    task, model, criterion = setup(databin, "--task", "negative_distillation", "--criterion",
                                   "label_smoothed_cross_entropy", "--label-smoothing", "0.1")
    assert task.teacher is None
    sample = first_batch(task)
    task.attach_teacher_outputs(sample, model, criterion)
    assert "nd_teacher" not in sample
    loss, _, _ = criterion(model, sample)
    assert torch.isfinite(loss)


def test_student_must_be_transformer_nd(databin, teacher_ckpt):
    with pytest.raises(StudentError, match="the student cannot return .* --arch transformer_nd"):
        nd(databin, "--teacher-path", teacher_ckpt, "--arch", "transformer_tiny")
    # the output-layer term alone needs nothing a stock transformer lacks
    nd(databin, "--teacher-path", teacher_ckpt, "--arch", "transformer_tiny", "--nd-hid-weight", "0",
       "--nd-att-weight", "0")


def test_batches_cover_every_example_with_a_batch_multiple(databin, teacher_ckpt):
    task, _, _ = nd(databin, "--teacher-path", teacher_ckpt)
    for split in ("valid", "test", "train"):
        task.load_dataset(split)
        dataset = task.dataset(split)
        for kwargs in ({"max_sentences": 10}, {"max_tokens": 300}, {"max_tokens": 100000}):
            itr = task.get_batch_iterator(dataset, required_batch_size_multiple=8, **kwargs)
            ids = np.concatenate([b["id"].numpy() for b in itr.next_epoch_itr(shuffle=False)])
            assert sorted(ids.tolist()) == list(range(len(dataset))), (split, kwargs)
            sizes = [len(b) for b in itr.frozen_batches]
            if "max_sentences" in kwargs:
                assert max(sizes) <= 10
    assert len(task.dataset("test")) % 8 != 0  # the case the stock batching gets wrong


def test_every_registered_component_and_flag_is_listed_with_help():
    """From fairseq's registries, filtered to this package: every task, criterion and architecture
    appears in `python -m nd_fairseq`, with every flag its classes declare, each with help."""
    import argparse
    import dataclasses
    import subprocess
    import sys

    from fairseq.criterions import CRITERION_DATACLASS_REGISTRY
    from fairseq.models import ARCH_MODEL_REGISTRY, MODEL_REGISTRY
    from fairseq.models.transformer import TransformerModel
    from fairseq.tasks import TASK_DATACLASS_REGISTRY

    import nd_fairseq  # noqa: F401

    def ours(cls):
        return cls.__module__.startswith("nd_fairseq")

    out = subprocess.run([sys.executable, "-m", "nd_fairseq"], capture_output=True, text=True, check=True).stdout
    sections = {}  # title line -> its flag lines
    for line in out.splitlines():
        if line.startswith("--"):
            title = line
            sections[title] = []
        elif line.startswith("  --") and sections:
            sections[title].append(line.strip())

    def section(prefix):
        found = [lines for title, lines in sections.items() if title.startswith(prefix)]
        assert len(found) == 1, prefix
        return found[0]

    declared = 0
    for kind, registry in (("task", TASK_DATACLASS_REGISTRY), ("criterion", CRITERION_DATACLASS_REGISTRY)):
        for name, cls in registry.items():
            if not ours(cls):
                continue
            lines = section(f"--{kind} {name}")
            for owner in cls.__mro__:
                if not ours(owner):
                    continue
                for field_name in vars(owner).get("__annotations__", {}):
                    f = next(f for f in dataclasses.fields(cls) if f.name == field_name)
                    if str(f.default).startswith("${"):  # read from another group (an interpolation): no flag
                        continue
                    declared += 1
                    assert f.metadata.get("help", "").strip(), f"{name}: {f.name} has no help"
                    assert not (f.type is bool and f.default), f"{f.name}: a bool defaulting to True cannot be unset"
                    flag = "--" + f.name.replace("_", "-")
                    assert any(line.startswith(flag + " ") or line == flag for line in lines), (name, flag)
    assert declared >= 30
    stock = argparse.ArgumentParser(add_help=False)
    TransformerModel.add_args(stock)
    stock_flags = {s for a in stock._actions for s in a.option_strings}
    models = [cls for cls in MODEL_REGISTRY.values() if ours(cls)]
    assert len(models) == 3
    for cls in models:
        archs = sorted(a for a, m in ARCH_MODEL_REGISTRY.items() if m is cls)
        lines = section(f"--arch {', '.join(archs)} ")
        parser = argparse.ArgumentParser(add_help=False)
        cls.add_args(parser)
        for action in parser._actions:
            if set(action.option_strings) - stock_flags:
                assert action.help, action.option_strings
                assert any(line.startswith(action.option_strings[0]) for line in lines), action.option_strings


def test_teacher_with_nan_weights(databin, teacher_ckpt, tmp_path):
    state = torch.load(teacher_ckpt, map_location="cpu")
    state["model"]["decoder.layers.0.fc1.weight"][0, 0] = float("nan")
    bad = tmp_path / "nan_teacher.pt"
    torch.save(state, bad)
    with pytest.raises(TeacherError, match="NaN/inf weights .*decoder.layers.0.fc1.weight"):
        nd(databin, "--teacher-path", str(bad))


def test_teacher_producing_nan_on_a_batch_is_a_clear_error(databin, teacher_ckpt):
    task, model, criterion = nd(databin, "--teacher-path", teacher_ckpt, "--nd-fixed-alpha", "0.5")
    sample = first_batch(task)
    with torch.no_grad():
        task.teacher.model.decoder.layers[0].fc1.weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="negative teacher .* produced NaN/inf for this batch"):
        task.attach_teacher_outputs(sample, model, criterion)


def test_student_with_nan_outputs_stops_before_the_first_update(databin, teacher_ckpt, tmp_path):
    state = torch.load(teacher_ckpt, map_location="cpu")
    state["model"]["decoder.layers.1.fc2.weight"][3, 5] = float("nan")
    start = tmp_path / "nan_student.pt"
    torch.save(state, start)
    out = cli("fairseq-train", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
              "--teacher-path", teacher_ckpt, "--criterion", "negative_distillation", "--nd-fixed-alpha", "0.5",
              *TINY_TRAIN, "--max-update", "3", "--save-dir", tmp_path / "student", "--restore-file", start,
              "--reset-optimizer", "--reset-dataloader", "--reset-meters", check=False)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("FloatingPointError: negative_distillation: the student's loss is NaN/inf on this batch "
                           "(update 0, alpha=0.5; batch sums loss_mle=nan"), last
    assert not (tmp_path / "student" / "checkpoint_last.pt").exists()


def test_the_log_names_the_code_version_and_the_thread_count(databin, caplog, tmp_path):
    """A run is redone bit for bit only with the same code and thread count: the task logs both."""
    with caplog.at_level(logging.INFO):
        setup(databin, "--task", "negative_distillation", "--criterion", "label_smoothed_cross_entropy")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run provenance: ")]
    assert len(lines) == 1
    assert lines[0].endswith(f", torch {torch.__version__}, intra-op threads {torch.get_num_threads()}")
    version = code_version()
    if version is None:
        assert "nd_fairseq (not a git checkout)" in lines[0]
    else:  # the version names this checkout's HEAD
        assert f"nd_fairseq {version}, " in lines[0]

        def commit(rev):
            return subprocess.run(["git", "-C", PACKAGE_DIR, "rev-parse", f"{rev}^{{commit}}"],
                                  capture_output=True, text=True, check=True).stdout
        assert commit(version.removesuffix("-dirty")) == commit("HEAD")
    assert code_version(str(tmp_path)) is None


def test_the_run_is_told_where_alphas_peak_lies(databin, teacher_ckpt, tmp_path):
    """--max-epoch bounds the run: the task counts its updates (here with --update-freq 2) and the
    criterion warns that the default gamma lies far beyond them."""
    proc = cli("fairseq-train", databin, "--user-dir", USER_DIR, "--save-dir", tmp_path, *TINY_TRAIN,
               "--task", "negative_distillation", "--teacher-path", teacher_ckpt, "--criterion",
               "negative_distillation", "--max-epoch", "2", "--update-freq", "2", "--no-save")
    log = proc.stdout + proc.stderr
    warning = [line for line in log.splitlines() if "alpha peaks at 1 at update 25600" in line]
    assert len(warning) == 1 and "WARNING" in warning[0] and "the peak lies beyond the run" in warning[0]
    done = int(re.findall(r"num_updates (\d+)", log)[-1])  # the last epoch summary
    assert f"this run ends at update {done} " in warning[0]


def test_config_errors_are_one_line_on_the_command_line(databin, tmp_path):
    import os
    import subprocess

    from .helpers import BIN

    cmd = [os.path.join(BIN, "fairseq-train"), databin, "--user-dir", USER_DIR, "--save-dir", str(tmp_path),
           *TINY_TRAIN, "--max-update", "1", "--task", "negative_distillation", "--criterion",
           "negative_distillation", "--teacher-path", str(tmp_path / "missing.pt")]
    plain = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().splitlines()[-1] == f"error: teacher checkpoint not found: {tmp_path / 'missing.pt'}"
    debug = subprocess.run(cmd, capture_output=True, text=True,
                           env={**os.environ, "PYTHONWARNINGS": "ignore", "ND_FAIRSEQ_TRACEBACK": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr


@pytest.mark.parametrize("tool", ["fairseq-train", "fairseq-generate"])
def test_a_missing_data_directory_is_one_line(tmp_path, tool):
    import os
    import subprocess

    from .helpers import BIN

    missing = tmp_path / "no-such-bin"
    extra = (["--save-dir", str(tmp_path), *TINY_TRAIN] if tool == "fairseq-train"
             else ["--path", str(tmp_path / "x.pt")])
    out = subprocess.run([os.path.join(BIN, tool), str(missing), "--user-dir", USER_DIR, "--task",
                          "negative_distillation", *extra], capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == f"error: data directory not found: {missing}"


def test_a_students_best_checkpoint_has_the_lowest_validation_nll(databin, teacher_ckpt, tmp_path):
    """The demo's and README's rule for students, --best-checkpoint-metric nll_loss: checkpoint_best.pt is
    the epoch of the lowest validation NLL, whatever alpha does to the ND student's `loss`."""
    import json

    out = cli("fairseq-train", databin, "--user-dir", USER_DIR, "--save-dir", tmp_path, *TINY_TRAIN,
              "--task", "negative_distillation", "--criterion", "negative_distillation", "--teacher-path",
              teacher_ckpt, "--nd-gamma", "8", "--max-epoch", "4", "--best-checkpoint-metric", "nll_loss",
              "--log-format", "json")
    valid = [json.loads(line.split("| valid |", 1)[1]) for line in (out.stdout + out.stderr).splitlines()
             if "| valid |" in line]
    assert len(valid) == 4
    nll = [float(row["valid_nll_loss"]) for row in valid]
    losses = [float(row["valid_loss"]) for row in valid]
    assert all(abs(a - b) > 0.01 for a, b in zip(losses, nll))  # ND's loss is not its NLL
    best = torch.load(tmp_path / "checkpoint_best.pt", map_location="cpu")["extra_state"]
    assert best["val_loss"] == pytest.approx(min(nll), abs=1e-3)  # the log rounds to 3 decimals
    # saved at the end of an epoch, whose iterator state points at the next one
    assert best["train_iterator"]["iterations_in_epoch"] == 0
    assert best["train_iterator"]["epoch"] - 1 == nll.index(min(nll)) + 1
