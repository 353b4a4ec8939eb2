"""Mixed precision: the teacher follows the student's device and dtype, and the ND terms stay
finite in fp16 and bf16 (bf16 also on the CPU; the rest skipped without CUDA)."""
import json

import pytest
import torch
from fairseq import utils

from .helpers import USER_DIR, cli, first_batch, setup

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("device, dtype", [
    pytest.param("cuda", torch.float16, marks=needs_cuda),
    pytest.param("cuda", torch.bfloat16, marks=needs_cuda),
    ("cpu", torch.bfloat16),
])
def test_nd_step_in_half_precision(databin, teacher_ckpt, device, dtype):
    task, model, criterion = setup(databin, "--task", "negative_distillation", "--teacher-path", teacher_ckpt,
                                   "--criterion", "negative_distillation", "--nd-fixed-alpha", "0.5")
    model = model.to(device, dtype)
    sample = first_batch(task)
    if device == "cuda":
        sample = utils.move_to_cuda(sample)
    task.attach_teacher_outputs(sample, model, criterion)
    teacher_param = next(task.teacher.model.parameters())
    assert teacher_param.device.type == device and teacher_param.dtype == dtype
    loss, _, log = criterion(model, sample)
    assert torch.isfinite(loss) and all(torch.isfinite(torch.as_tensor(log[k])) for k in log if k.startswith("loss"))
    loss.backward()
    assert all(torch.isfinite(p.grad.float()).all() for p in model.parameters() if p.grad is not None)


@needs_cuda
def test_fp16_training_through_the_cli(databin, teacher_ckpt, tmp_path):
    proc = cli("fairseq-train", databin, "--user-dir", USER_DIR, "--save-dir", tmp_path, "--task",
               "negative_distillation", "--teacher-path", teacher_ckpt, "--criterion", "negative_distillation",
               "--nd-gamma", "5", "--arch", "transformer_nd_tiny", "--optimizer", "adam", "--lr", "0.005",
               "--max-tokens", "1000", "--max-epoch", "3", "--fp16", "--log-format", "json", "--log-interval", "1",
               "--no-epoch-checkpoints")
    out = proc.stdout + proc.stderr
    logs = [json.loads(line.split("| train_inner |", 1)[1]) for line in out.splitlines() if "| train_inner |" in line]
    assert logs and all(float(log[k]) == float(log[k]) for log in logs for k in log if k.startswith("loss"))
    assert {"loss_pred", "loss_hid", "loss_att"} <= set(logs[-1])
    assert "NaN" not in out
