"""fairseq's other entry points with ND checkpoints: checkpoint averaging, the hub, hydra."""
import os
import subprocess
import sys

import pytest
import torch

from .helpers import BIN, TINY_TRAIN, USER_DIR, cli

ROOT = os.path.dirname(USER_DIR)


@pytest.fixture(scope="module")
def student_dir(databin, teacher_ckpt, tmp_path_factory):
    """An ND student with a checkpoint every 2 updates."""
    save_dir = tmp_path_factory.mktemp("student")
    cli("fairseq-train", databin, "--user-dir", USER_DIR, "--save-dir", save_dir, *TINY_TRAIN,
        "--task", "negative_distillation", "--teacher-path", teacher_ckpt, "--criterion", "negative_distillation",
        "--nd-gamma", "6", "--max-update", "6", "--save-interval-updates", "2", "--keep-interval-updates", "-1")
    return save_dir


def python(code):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_average_checkpoints_of_an_nd_student(databin, student_dir, tmp_path):
    out = tmp_path / "avg.pt"
    cli(sys.executable, "-m", "nd_fairseq.average_checkpoints", "--inputs", student_dir,
        "--num-update-checkpoints", "2", "--output", out)
    avg = torch.load(out, map_location="cpu")
    by_update = sorted(student_dir.glob("checkpoint_*_*.pt"), key=lambda p: -int(p.stem.split("_")[-1]))
    assert len(by_update) >= 2
    newest = [torch.load(path, map_location="cpu") for path in by_update[:2]]
    for key, value in avg["model"].items():
        assert torch.allclose(value, (newest[0]["model"][key] + newest[1]["model"][key]) / 2, atol=1e-6), key
    assert avg["cfg"] == newest[0]["cfg"]
    hyps = cli("fairseq-generate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation", "--path", out,
               "--gen-subset", "test", "--beam", "1", "--max-tokens", "1000").stdout
    assert sum(line.startswith("H-") for line in hyps.splitlines()) == 37
    refused = cli(sys.executable, "-m", "nd_fairseq.average_checkpoints", "--inputs", student_dir,
                  "--num-update-checkpoints", "9", "--output", tmp_path / "none.pt", check=False)
    assert refused.returncode == 2 and refused.stderr.strip().endswith("fewer than the 9 asked for")
    assert not (tmp_path / "none.pt").exists()


def test_average_checkpoints_up_to_an_update(student_dir, tmp_path):
    """--upto-update: the last N numbered at most that update (epoch E of a longer run), and a run
    that has not got that far is refused."""
    out = tmp_path / "avg.pt"
    numbered = sorted(int(p.stem.split("_")[-1]) for p in student_dir.glob("checkpoint_*_*.pt"))
    assert len(numbered) >= 2  # the last (update 6) is not among those up to update 5
    cli(sys.executable, "-m", "nd_fairseq.average_checkpoints", "--inputs", student_dir,
        "--num-update-checkpoints", "1", "--upto-update", "5", "--output", out)
    avg = torch.load(out, map_location="cpu")
    expected = torch.load(next(student_dir.glob(f"checkpoint_*_{numbered[-2]}.pt")), map_location="cpu")
    for key, value in avg["model"].items():
        assert torch.equal(value, expected["model"][key]), key
    refused = cli(sys.executable, "-m", "nd_fairseq.average_checkpoints", "--inputs", student_dir,
                  "--num-update-checkpoints", "2", "--upto-update", "7", "--output", tmp_path / "no.pt", check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith("the run stopped at update 6, before --upto-update 7")
    assert not (tmp_path / "no.pt").exists()


@pytest.mark.parametrize("how", ["user_dir", "import"])
def test_hub_interface(databin, student_dir, how):
    """The README's hub example: with user_dir=..., or after `import nd_fairseq` (torch's weights_only
    load then accepts the checkpoint without the flag)."""
    load = (f"TransformerModel.from_pretrained({str(student_dir)!r}, 'checkpoint_last.pt', {databin!r}, "
            + (f"user_dir={USER_DIR!r})" if how == "user_dir" else ")"))
    code = ("from fairseq.models.transformer import TransformerModel\n"
            + ("import nd_fairseq\n" if how == "import" else "")
            + f"model = {load}\nprint(repr(model.translate('w1 w2 w3', beam=2)))")
    assert python(code).strip().startswith("'")


@pytest.mark.parametrize("config", ["teacher", "standard", "nd"])
def test_hydra_configs_train(databin, teacher_ckpt, tmp_path, config):
    overrides = [f"task.data={databin}", f"common.user_dir={USER_DIR}", f"checkpoint.save_dir={tmp_path}",
                 "optimization.max_epoch=1", "optimization.max_update=2", "checkpoint.no_save=true",
                 "common.log_format=simple",
                 # the fixture teacher's decoder sizes (transformer_nd_tiny's defaults), so that ND can pair them
                 "model.encoder_embed_dim=64", "model.decoder_embed_dim=64", "model.encoder_attention_heads=2",
                 "model.decoder_attention_heads=2"]
    if config == "nd":
        overrides.append(f"task.teacher_path={teacher_ckpt}")
    proc = subprocess.run([os.path.join(BIN, "fairseq-hydra-train"), "--config-dir",
                           os.path.join(ROOT, "examples", "config"), "--config-name", config, *overrides],
                          capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "done training" in proc.stdout + proc.stderr
