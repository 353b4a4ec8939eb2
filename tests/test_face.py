"""--criterion face (FACE, the paper's baseline): its formulas against loops and hand-computed
values, its counts across updates, DDP workers and a resume."""
import math
import os
import subprocess

import pytest
import torch

from nd_eval.io import log_row
from nd_fairseq.baseline_losses import face_post_weights, face_pre_weights, response_token_counts, weighted_nll

from .helpers import BIN, TINY_TRAIN, USER_DIR, cli, first_batch, setup
from .test_distributed_and_resume import free_port

EOS, PAD = 2, 1


def test_counts_cut_each_response_after_its_first_eos():
    tokens = torch.tensor([[5, 6, EOS, 7, EOS], [5, 5, 5, PAD, PAD], [EOS, 8, 8, 8, 8]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    for count_eos in (True, False):
        expected = [0.0] * 10
        for row, valid in zip(tokens.tolist(), mask.tolist()):
            for token, ok in zip(row, valid):
                if not ok:
                    break
                if token != EOS or count_eos:
                    expected[token] += 1
                if token == EOS:
                    break
        assert response_token_counts(tokens, mask, EOS, 10, count_eos).tolist() == expected
    assert response_token_counts(tokens, mask, EOS, 10)[5] == 4  # by hand: 1 + 3


def test_pre_weights_by_hand():
    # RF = (0, .2, .6, .2); w = 1 - RF / .6 = (1, 2/3, 0, 2/3), sum 7/3, times 4 / (7/3)
    got = face_pre_weights(torch.tensor([0.0, 2.0, 6.0, 2.0], dtype=torch.float64))
    assert got.tolist() == pytest.approx([12 / 7, 8 / 7, 0.0, 8 / 7])
    assert face_pre_weights(torch.zeros(3, dtype=torch.float64)).tolist() == [1.0, 1.0, 1.0]


def test_post_weights_and_weighted_nll_match_loops():
    torch.manual_seed(0)
    counts = torch.tensor([3.0, 0.0, 5.0, 1.0, 1.0], dtype=torch.float64)
    lprobs = torch.randn(2, 3, 5).log_softmax(-1)
    target = torch.tensor([[1, 2, 3], [4, 0, 1]])
    predicted = lprobs.argmax(-1)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    post = face_post_weights(counts, predicted, target)
    expected = 0.0
    for b in range(2):
        for t in range(3):
            w = 1 + max(counts[predicted[b, t]] - counts[target[b, t]], 0) / counts.sum()
            assert post[b, t].item() == pytest.approx(w.item())
            if mask[b, t]:
                expected += w.item() * -lprobs[b, t, target[b, t]].item()
    assert weighted_nll(lprobs, target, post, mask).item() == pytest.approx(expected, rel=1e-6)


def face_setup(databin, *extra):
    return setup(databin, "--task", "negative_distillation", "--criterion", "face", *extra)


def test_the_loss_weights_gold_tokens_by_the_counts_of_earlier_updates(databin):
    task, model, criterion = face_setup(databin)
    model.train()
    sample = first_batch(task)
    pad, eos = task.target_dictionary.pad(), task.target_dictionary.eos()
    loss, _, log = criterion(model, sample)  # nothing counted yet: plain NLL
    assert float(loss) == pytest.approx(float(log["nll_loss"]), rel=1e-6)
    with torch.no_grad():
        predicted = model(**sample["net_input"])[0].argmax(-1)
    criterion.end_of_update()
    expected_counts = response_token_counts(predicted, sample["target"].ne(pad), eos, len(task.target_dictionary))
    assert torch.equal(criterion.counts.total, expected_counts)
    model.eval()  # no counting in eval mode; the weights are the counts' pre-weights
    loss, _, _ = criterion(model, sample)
    weights = face_pre_weights(expected_counts)
    with torch.no_grad():
        lprobs = model(**sample["net_input"])[0].log_softmax(-1)
    total = 0.0
    for b in range(sample["target"].size(0)):
        for t in range(sample["target"].size(1)):
            y = sample["target"][b, t]
            if y != pad:
                total += weights[y].item() * -lprobs[b, t, y].item()
    assert float(loss) == pytest.approx(total, rel=1e-5)
    assert criterion.counts.pending.sum() == 0


class EosAtSecondPosition(torch.nn.Module):
    """A stand-in model whose arg-max prediction is EOS at the second position of every response
    and a token seen nowhere else at every other position: EOS is by far its most predicted token."""

    def __init__(self, vocab, eos):
        super().__init__()
        self.vocab, self.eos = vocab, eos

    def forward(self, src_tokens, src_lengths, prev_output_tokens):
        batch, length = prev_output_tokens.shape
        logits = torch.zeros(batch, length, self.vocab, requires_grad=True)
        favoured = 4 + torch.arange(batch * length).view(batch, length) % (self.vocab - 4)
        favoured[:, 1] = self.eos
        return logits + 10.0 * torch.nn.functional.one_hot(favoured, self.vocab), {}

    def get_normalized_probs(self, net_output, log_probs):
        return net_output[0].log_softmax(-1)

    def get_targets(self, sample, net_output):
        return sample["target"]


def test_eos_is_not_counted_and_keeps_the_largest_weight_as_in_the_reference(databin):
    """ShaojieJiang/FACE af82a46 skips END in update_frequency: after updates in which EOS is the
    most predicted token, EOS has the largest pre-weight (with --face-count-eos it has weight 0)."""
    for extra, eos_weight_is_largest in (((), True), (("--face-count-eos",), False)):
        task, _, criterion = face_setup(databin, *extra)
        eos = task.target_dictionary.eos()
        model = EosAtSecondPosition(len(task.target_dictionary), eos)
        criterion(model, first_batch(task))
        criterion.end_of_update()
        predicted_eos = int(criterion.counts.total[eos])
        weights = face_pre_weights(criterion.counts.total)
        if eos_weight_is_largest:
            assert predicted_eos == 0 and weights[eos] == weights.max()
        else:
            assert predicted_eos == criterion.counts.total.max() > 1 and weights[eos] == 0


FACE = ["--task", "negative_distillation", "--criterion", "face", "--max-tokens", "300", "--dropout", "0",
        "--log-format", "json", "--log-interval", "1", "--disable-validation"]


def logs(text):
    return [row for line in text.splitlines() if (row := log_row(line, "train_inner"))]


def test_two_processes_match_one_process_on_the_same_global_batch(databin, tmp_path):
    """Counted on the gold tokens, so that the counts must be equal exactly: the arg-max
    predictions of a barely trained model flip with rounding (one EOS predicted first in one
    run and not in the other changes a whole response's counts)."""
    args = [databin, "--user-dir", USER_DIR, *TINY_TRAIN, *FACE, "--max-update", "6", "--seed", "3",
            "--face-frequency", "gt"]
    single = logs(cli("fairseq-train", *args, "--update-freq", "2", "--save-dir", tmp_path / "single").stdout)
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(
        [os.path.join(BIN, "fairseq-train"), *map(str, args), "--save-dir", str(tmp_path / "ddp"),
         "--distributed-world-size", "2", "--distributed-rank", str(rank),
         "--distributed-init-method", f"tcp://127.0.0.1:{port}", "--distributed-no-spawn",
         "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp", "--cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for rank in (0, 1)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs[0][-3000:] + outs[1][-3000:]
    two = logs(outs[0])
    assert len(single) == len(two) == 6
    for a, b in zip(single, two):
        assert a["bsz"] == b["bsz"]
        for key in ("loss", "nll_loss"):
            assert abs(float(a[key]) - float(b[key])) <= 2e-3, (key, a, b)
    counts = [torch.load(tmp_path / d / "checkpoint_last.pt", map_location="cpu")["task_state"]["criterion_state"]
              ["counts"] for d in ("single", "ddp")]
    assert torch.equal(counts[0], counts[1]) and counts[0].sum() > 0


def test_a_face_model_generates_with_stock_fairseq_generate(databin, tmp_path):
    ckpt = os.path.join(tmp_path, "checkpoint_last.pt")
    cli("fairseq-train", databin, "--user-dir", USER_DIR, *TINY_TRAIN, *FACE, "--max-update", "5",
        "--face-frequency", "gt", "--face-weighting", "post", "--save-dir", tmp_path)
    out = cli("fairseq-generate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
              "--path", ckpt, "--gen-subset", "test", "--beam", "1", "--max-len-b", "10")
    assert sum(line.startswith("H-") for line in out.stdout.splitlines()) == 37
    assert math.isfinite(float(logs(cli("fairseq-train", databin, "--user-dir", USER_DIR, *TINY_TRAIN, *FACE,
                                        "--max-update", "6", "--save-dir", tmp_path).stdout)[-1]["loss"]))
