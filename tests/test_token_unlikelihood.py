"""--criterion token_unlikelihood (Welleck et al.'s token-level UL) against a loop."""
import math

import pytest
import torch

from nd_fairseq.baseline_losses import previous_token_candidates, token_unlikelihood

from .helpers import TINY_TRAIN, USER_DIR, cli, first_batch, setup

PAD = 1


def candidates_by_loop(row):
    """C_t for each position t of one response: the set of earlier tokens other than y_t."""
    return [set() if y == PAD else {c for c in row[:t] if c != PAD} - {y} for t, y in enumerate(row)]


def test_candidates_are_the_earlier_distinct_tokens_of_the_same_response():
    target = torch.tensor([[5, 6, 5, 7, 6, 2], [8, 8, 9, 2, PAD, PAD]])
    mask = previous_token_candidates(target, PAD)
    for b, row in enumerate(target.tolist()):
        for t, expected in enumerate(candidates_by_loop(row)):
            got = [row[s] for s in range(len(row)) if mask[b, t, s]]
            assert sorted(got) == sorted(expected)  # each distinct token once
    # by hand: position 4 (y = 6) of the first response has candidates {5, 7}
    assert sorted(target[0][mask[0, 4]].tolist()) == [5, 7]


def test_token_unlikelihood_matches_a_loop():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 10) * 2
    target = torch.tensor([[5, 6, 5, 7, 6, 2], [8, 8, 9, 2, PAD, PAD]])
    expected = 0.0
    for b, row in enumerate(target.tolist()):
        for t, cands in enumerate(candidates_by_loop(row)):
            p = torch.softmax(logits[b, t].double(), -1)
            expected -= sum(math.log(1 - p[c].item()) for c in cands)
    assert token_unlikelihood(logits, target, PAD).item() == pytest.approx(expected, rel=1e-5)


def test_the_criterion_adds_alpha_times_the_unlikelihood_to_lsce(databin):
    task, model, criterion = setup(databin, "--task", "negative_distillation", "--criterion", "token_unlikelihood",
                                   "--ul-alpha", "0.5", "--label-smoothing", "0.1")
    model.eval()
    sample = first_batch(task)
    loss, _, log = criterion(model, sample)
    net_output = model(**sample["net_input"])
    mle, _ = criterion.compute_loss(model, net_output, sample)
    ul = token_unlikelihood(net_output[0], sample["target"], task.target_dictionary.pad())
    assert float(log["loss_ul"]) == pytest.approx(float(ul), rel=1e-6) and float(ul) > 0
    assert float(loss) == pytest.approx(float(mle + 0.5 * ul), rel=1e-6)


def test_a_tiny_model_trains_and_generates(databin, tmp_path):
    cli("fairseq-train", databin, "--user-dir", USER_DIR, *TINY_TRAIN, "--task", "negative_distillation",
        "--criterion", "token_unlikelihood", "--max-update", "5", "--save-dir", tmp_path)
    out = cli("fairseq-generate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
              "--path", tmp_path / "checkpoint_last.pt", "--gen-subset", "test", "--beam", "1", "--max-len-b", "10")
    assert sum(line.startswith("H-") for line in out.stdout.splitlines()) == 37
