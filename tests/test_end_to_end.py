"""preprocess -> teacher -> ND student -> fairseq-generate, through the real console scripts."""
import json
import os
import subprocess

import torch

from .helpers import BIN, TINY_TRAIN, USER_DIR, cli, train


def test_pipeline(databin, tmp_path):
    from .helpers import train_teacher

    teacher = train_teacher(databin, str(tmp_path / "teacher"))
    student_dir = tmp_path / "student"
    proc = cli("fairseq-train", databin, "--user-dir", USER_DIR, "--save-dir", student_dir,
               "--task", "negative_distillation", "--teacher-path", teacher,
               "--criterion", "negative_distillation", "--nd-gamma", "6", "--max-epoch", "2",
               "--arch", "transformer_nd_tiny", "--optimizer", "adam", "--lr", "0.005",
               "--max-tokens", "1000", "--no-epoch-checkpoints", "--log-format", "json",
               "--log-interval", "1", "--num-workers", "0")
    logs = [json.loads(line.split("| ", 3)[-1]) for line in (proc.stdout + proc.stderr).splitlines()
            if "| train_inner |" in line or "| valid |" in line]
    inner = [log for log in logs if "alpha" in log]
    valid = [log for log in logs if "valid_alpha" in log]
    assert inner and valid
    for log in inner:
        assert {"loss", "nll_loss", "loss_mle", "loss_pred", "loss_hid", "loss_att"} <= set(log)
        assert all(float(log[k]) == float(log[k]) for k in log if k.startswith("loss"))  # no NaN
    # alpha follows the update count: at update u the logged alpha is alpha(u - 1)
    from nd_fairseq.criterions.negative_distillation import progressive_alpha
    for log in inner:
        assert float(log["alpha"]) == round(progressive_alpha(int(log["num_updates"]) - 1, gamma=6.0), 4)
    assert {"valid_loss_pred", "valid_loss_hid", "valid_loss_att"} <= set(valid[-1])

    student = str(student_dir / "checkpoint_best.pt")
    # the student checkpoint holds the student alone: same tensors as a plain model
    state = torch.load(student, map_location="cpu")
    teacher_state = torch.load(teacher, map_location="cpu")
    assert set(state["model"]) == set(teacher_state["model"])
    assert not state.get("criterion")

    # fairseq-validate: outside training the update (and so alpha) is unknown; loss = L_mle and, with the
    # teacher, the ND terms beside it
    with_teacher = validate(databin, student, "--teacher-path", teacher)
    assert {"loss_pred", "loss_hid", "loss_att"} <= set(with_teacher)
    os.remove(teacher)  # generation and validation must not need the teacher
    without = validate(databin, student)
    # fairseq-validate keeps the checkpoint's task, also when given --task translation
    assert validate(databin, student, "--task", "translation")["nll_loss"] == without["nll_loss"]
    # training with a task that cannot supply the teacher's outputs is refused at start
    proc = cli("fairseq-train", databin, "--user-dir", USER_DIR, "--task", "translation", "--criterion",
               "negative_distillation", *TINY_TRAIN, "--save-dir", tmp_path / "refused", check=False)
    assert proc.returncode == 1 and "Start iterating" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "needs --task negative_distillation, which supplies the teacher's outputs (got --task TranslationTask)")
    assert not {"loss_pred", "loss_hid", "loss_att"} & set(without)
    for scores in (with_teacher, without):
        assert float(scores["loss"]) == float(scores["loss_mle"]) and float(scores["alpha"]) == 0
        assert float(scores["nll_loss"]) == float(without["nll_loss"]) > 0
    for beam in (1, 5):
        out = cli("fairseq-generate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
                  "--path", student, "--gen-subset", "test", "--beam", beam, "--max-tokens", "1000").stdout
        hyps = [line for line in out.splitlines() if line.startswith("H-")]
        assert len(hyps) == 37  # every test example, though 37 % 8 != 0
        assert sorted(int(h.split("\t")[0][2:]) for h in hyps) == list(range(37))

    def interactive(text, *flags):
        proc = subprocess.run(
            [os.path.join(BIN, "fairseq-interactive"), databin, "--user-dir", USER_DIR, "--task",
             "negative_distillation", "--path", student, "--source-lang", "src", "--target-lang", "tgt", *flags],
            input=text, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout.splitlines()

    assert sum(line.startswith("H-") for line in interactive("w1 w2 w3\nw4 w5\n", "--beam", "2")) == 2
    # raw text through --tokenizer dailydialog: the queries reach the model in the training data's form
    raw = interactive("Yes, sure.\nI don't know!\n", "--tokenizer", "dailydialog")
    sources = [line.split("\t")[1] for line in raw if line.startswith("S-")]
    assert sources == ["yes , sure .", "i don't know <unk>"]  # "!" is not in the tiny data's dictionary

    # the student also serves as a teacher for another student
    train(databin, str(tmp_path / "student2"), "--task", "negative_distillation", "--teacher-path",
          student, "--criterion", "negative_distillation", "--nd-fixed-alpha", "0.5")


def validate(databin, checkpoint, *extra):
    """The validation metrics fairseq-validate prints (its last JSON line), without the ``valid_`` prefixes."""
    out = cli("fairseq-validate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
              "--path", checkpoint, "--max-tokens", "1000", "--log-format", "json", *extra)
    line = [line for line in (out.stdout + out.stderr).splitlines() if "| valid |" in line][-1]
    return {key.removeprefix("valid_"): value for key, value in json.loads(line[line.index("{"):]).items()}
