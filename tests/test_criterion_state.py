"""The state the baselines keep across updates (FACE's counts, UL's token distributions, NT's
response history): restored on resume, summed over DDP workers."""
import os
import subprocess

import pytest
import torch

from .helpers import BIN, TINY_TRAIN, USER_DIR, cli
from .test_distributed_and_resume import free_port
from .test_face import logs

STATEFUL = {
    "face": ["--criterion", "face"],
    "vocab_unlikelihood": ["--criterion", "vocab_unlikelihood", "--ul-queue-size", "2", "--ul-alpha", "10",
                           "--ul-max-len-b", "8"],
    "negative_training": ["--criterion", "negative_training", "--nt-history-responses", "40", "--nt-threshold", "0.05",
                          "--nt-max-len-b", "8"],
}
COMMON = ["--task", "negative_distillation", "--max-tokens", "300", "--dropout", "0", "--log-format", "json",
          "--log-interval", "1", "--disable-validation"]


@pytest.mark.parametrize("name", STATEFUL)
def test_a_resumed_run_equals_a_straight_one(databin, tmp_path, name):
    common = [databin, "--user-dir", USER_DIR, *TINY_TRAIN, *COMMON, *STATEFUL[name], "--max-epoch", "2"]
    straight = logs(cli("fairseq-train", *common, "--save-dir", tmp_path / "straight").stdout)
    stop_at = len(straight) // 2 + 1
    first = cli("fairseq-train", *common, "--save-dir", tmp_path / "resumed", "--max-update", stop_at)
    second = cli("fairseq-train", *common, "--save-dir", tmp_path / "resumed")
    assert "restored the criterion's state" in second.stdout + second.stderr
    resumed = logs(first.stdout) + logs(second.stdout)
    assert [r["num_updates"] for r in resumed] == [r["num_updates"] for r in straight]
    assert any(r["loss"] != r["nll_loss"] for r in straight)  # the baseline's term is at work
    for a, b in zip(straight, resumed):
        assert a == {**b, "wall": a["wall"], "train_wall": a["train_wall"], "wps": a["wps"], "ups": a["ups"]}, (a, b)


@pytest.mark.parametrize("name", ["vocab_unlikelihood", "negative_training"])
def test_both_workers_responses_are_counted(databin, tmp_path, name):
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(
        [os.path.join(BIN, "fairseq-train"), databin, "--user-dir", USER_DIR, *TINY_TRAIN, *COMMON, *STATEFUL[name],
         *(["--nt-history-responses", "100000"] if name == "negative_training" else []),
         "--max-update", "3", "--save-dir", str(tmp_path), "--distributed-world-size", "2",
         "--distributed-rank", str(rank), "--distributed-init-method", f"tcp://127.0.0.1:{port}",
         "--distributed-no-spawn", "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp", "--cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for rank in (0, 1)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs[0][-3000:] + outs[1][-3000:]
    sizes = [int(row["bsz"]) for row in logs(outs[0])]  # the global batch of each update
    state = torch.load(tmp_path / "checkpoint_last.pt", map_location="cpu")["task_state"]["criterion_state"]
    if name == "vocab_unlikelihood":
        assert state["counts"][-1] == 2 * 3  # both workers' batches, 3 updates
    else:  # a window wider than the run holds every response of every global batch
        assert len(state["history_responses"]) == sum(sizes)
