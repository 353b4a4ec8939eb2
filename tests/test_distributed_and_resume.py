"""Distributed training (2 CPU processes, gloo) and determinism of ND training."""
import json
import os
import socket
import subprocess

import torch

from .helpers import BIN, USER_DIR, cli

ND = ["--task", "negative_distillation", "--criterion", "negative_distillation", "--nd-gamma", "4",
      "--arch", "transformer_nd_tiny", "--optimizer", "adam", "--lr", "0.005", "--max-tokens", "300",
      "--dropout", "0", "--max-update", "6", "--log-format", "json", "--log-interval", "1", "--seed", "3",
      "--no-epoch-checkpoints", "--num-workers", "0", "--disable-validation"]


def train_logs(text):
    return [json.loads(line.split("| train_inner |", 1)[1]) for line in text.splitlines() if "| train_inner |" in line]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_process_on_the_same_global_batch(databin, teacher_ckpt, tmp_path):
    single = cli("fairseq-train", databin, "--user-dir", USER_DIR, "--teacher-path", teacher_ckpt, *ND,
                 "--update-freq", "2", "--save-dir", tmp_path / "single")
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [os.path.join(BIN, "fairseq-train"), databin, "--user-dir", USER_DIR, "--teacher-path", teacher_ckpt, *ND,
             "--save-dir", str(tmp_path / "ddp"), "--distributed-world-size", "2", "--distributed-rank", str(rank),
             "--distributed-init-method", f"tcp://127.0.0.1:{port}", "--distributed-no-spawn",
             "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp", "--cpu"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for rank in (0, 1)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs[0][-3000:] + outs[1][-3000:]
    one, two = train_logs(single.stdout + single.stderr), train_logs(outs[0])
    assert len(one) == len(two) == 6
    for a, b in zip(one, two):
        for key in ("loss", "nll_loss", "alpha", "loss_mle", "loss_pred", "loss_hid", "loss_att"):
            assert abs(float(a[key]) - float(b[key])) <= 2e-3, (key, a, b)
        assert a["bsz"] == b["bsz"]  # the same global batch
    # the teacher was never DDP-wrapped nor saved: the student checkpoint holds the student only
    state = torch.load(tmp_path / "ddp" / "checkpoint_last.pt", map_location="cpu")
    assert not any(k.startswith("teacher") for k in state["model"]) and not state.get("criterion")


def test_same_seed_gives_bit_identical_checkpoints(databin, teacher_ckpt, tmp_path):
    states = []
    for run in ("a", "b"):
        cli("fairseq-train", databin, "--user-dir", USER_DIR, "--teacher-path", teacher_ckpt,
            *ND, "--dropout", "0.1",
            "--save-dir", tmp_path / run)
        states.append(torch.load(tmp_path / run / "checkpoint_last.pt", map_location="cpu")["model"])
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key


def test_resuming_reproduces_the_uninterrupted_run(databin, teacher_ckpt, tmp_path):
    common = [databin, "--user-dir", USER_DIR, "--teacher-path", teacher_ckpt, *ND, "--dropout", "0.1",
              "--max-epoch", "3"]
    common[common.index("--max-update") + 1] = "1000"
    straight = train_logs(cli("fairseq-train", *common, "--save-dir", tmp_path / "straight").stdout)
    second_epoch = [int(log["num_updates"]) for log in straight if log["epoch"] == 2]
    stop_at = second_epoch[len(second_epoch) // 2]  # mid-way through epoch 2
    first = cli("fairseq-train", *common, "--save-dir", tmp_path / "resumed", "--max-update", stop_at)
    resumed = train_logs(first.stdout) + train_logs(
        cli("fairseq-train", *common, "--save-dir", tmp_path / "resumed").stdout)
    assert [int(log["num_updates"]) for log in resumed] == [int(log["num_updates"]) for log in straight]
    assert [log["epoch"] for log in resumed] == [log["epoch"] for log in straight]
    assert sorted({log["epoch"] for log in straight}) == [1, 2, 3]
    assert 0 < second_epoch.index(stop_at) < len(second_epoch) - 1
    for a, b in zip(straight, resumed):
        for key in ("loss", "nll_loss", "alpha", "loss_mle", "loss_pred", "loss_hid", "loss_att", "bsz"):
            assert a[key] == b[key], (key, a, b)


def _ddp_rank(rank, port, databin, teacher_ckpt, outdir):
    """One rank of torch's DistributedDataParallel (fairseq's default --ddp-backend
    pytorch_ddp, which fairseq itself only sets up on GPUs) on its own batch."""
    import torch.distributed as dist
    from fairseq.distributed import ModuleProxyWrapper
    from torch.nn.parallel import DistributedDataParallel

    from .helpers import first_batch, setup

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    task, model, criterion = setup(databin, "--task", "negative_distillation", "--teacher-path", teacher_ckpt,
                                   "--criterion", "negative_distillation", "--nd-fixed-alpha", "0.5")
    model = ModuleProxyWrapper(DistributedDataParallel(model))  # broadcasts rank 0's weights
    sample = first_batch(task, split="train" if rank else "valid")
    task.attach_teacher_outputs(sample, model, criterion)
    loss, _, _ = criterion(model, sample)
    loss.backward()
    inner = model.module.module
    torch.save({"weights": {n: p.detach() for n, p in inner.named_parameters()},
                "grads": {n: p.grad for n, p in inner.named_parameters()}}, os.path.join(outdir, f"{rank}.pt"))
    dist.destroy_process_group()


def test_torch_ddp_averages_the_gradients_of_both_ranks(databin, teacher_ckpt, tmp_path):
    """The output projection's gradient is made inside the criterion, outside DDP's forward;
    DDP's reducer must still average every gradient, that one included."""
    import torch.multiprocessing as mp

    from .helpers import first_batch, setup

    mp.start_processes(_ddp_rank, args=(free_port(), databin, teacher_ckpt, str(tmp_path)), nprocs=2,
                       start_method="fork")
    ranks = [torch.load(tmp_path / f"{rank}.pt") for rank in (0, 1)]
    task, model, criterion = setup(databin, "--task", "negative_distillation", "--teacher-path", teacher_ckpt,
                                   "--criterion", "negative_distillation", "--nd-fixed-alpha", "0.5")
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(ranks[0]["weights"][name])
    for split in ("valid", "train"):  # rank 0's batch and rank 1's
        sample = first_batch(task, split=split)
        task.attach_teacher_outputs(sample, model, criterion)
        criterion(model, sample)[0].backward()
    for name, p in model.named_parameters():
        for r in ranks:
            assert torch.allclose(r["grads"][name] * 2, p.grad, rtol=1e-4, atol=1e-6), name
