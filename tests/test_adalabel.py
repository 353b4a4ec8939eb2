"""--arch transformer_adalabel --criterion adalabel (AdaLabel, the paper's baseline): v, eps and
the loss against loops written from the reference's definitions, the auxiliary decoder's mask,
and a tiny model that trains and decodes with stock fairseq."""
import math
import os
import subprocess

import pytest
import torch

from nd_fairseq.baseline_losses import adalabel_epsilon, adalabel_loss, adalabel_smoothing_distribution
from nd_fairseq.models.transformer_adalabel import next_token_mask

from .helpers import BIN, TINY_TRAIN, USER_DIR, cli, first_batch, setup

PAD = 1


def v_by_loop(scores, target, temperature, last_rank):
    rows = []
    for row, gold in zip(scores.tolist(), target.tolist()):
        ranked = sorted((s / temperature, c) for c, s in enumerate(row) if c not in (gold, PAD))[::-1]
        kept = ranked[1:last_rank]  # ranks 2..last_rank
        z = sum(math.exp(s) for s, _ in kept)
        v = [0.0] * len(row)
        for s, c in kept:
            v[c] = math.exp(s) / z
        rows.append(v)
    return torch.tensor(rows, dtype=torch.float64)


def dense(v_probs, v_index, vocab):
    return torch.zeros(v_probs.size(0), vocab, dtype=v_probs.dtype).scatter(1, v_index, v_probs)


def test_v_keeps_ranks_two_to_last_rank_without_gold_and_padding():
    torch.manual_seed(0)
    scores = torch.randn(6, 12, dtype=torch.float64) * 3
    target = torch.tensor([0, 3, 5, 11, 2, 7])
    for last_rank in (4, 500):
        probs, index = adalabel_smoothing_distribution(scores, target, PAD, 1.5, last_rank)
        assert torch.allclose(dense(probs, index, 12), v_by_loop(scores, target, 1.5, last_rank), atol=1e-12)
        assert (probs[:, 0] == probs.max(1).values).all()
    probs, index = adalabel_smoothing_distribution(scores, target, PAD, 1.5, 4)
    assert probs.shape == (6, 3) and (probs > 0).all()  # ranks 2, 3 and 4


def test_epsilon_and_the_loss_match_loops():
    torch.manual_seed(1)
    lprobs = (torch.randn(5, 9, dtype=torch.float64) * 2).log_softmax(-1)
    target = torch.tensor([0, 2, 4, 8, 3])
    v_probs, v_index = adalabel_smoothing_distribution(torch.randn(5, 9, dtype=torch.float64), target, PAD, 1.5, 6)
    v = dense(v_probs, v_index, 9)
    eps = adalabel_epsilon(lprobs, target, v_probs[:, 0], margin=0.2)
    total = 0.0
    for n in range(5):
        p = lprobs[n].exp().tolist()
        p_max, p_gold = max(p), p[target[n]]
        expected = (p_gold / p_max) ** 2 * min(1 - p_max, 1 / (1 + max(v[n].tolist())) - 0.2)
        assert eps[n].item() == pytest.approx(expected, rel=1e-12)
        for c in range(9):
            q = 1 - expected if c == target[n] else expected * v[n, c].item()
            if q > 0:
                total += q * (math.log(q) - lprobs[n, c].item())
    assert adalabel_loss(lprobs, target, eps, v_probs, v_index).item() == pytest.approx(total, rel=1e-10)


def test_the_loss_gradient_is_the_dense_kl_s():
    torch.manual_seed(2)
    logits = torch.randn(4, 30, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([3, 0, 29, 7])
    v_probs, v_index = adalabel_smoothing_distribution(torch.randn(4, 30, dtype=torch.float64), target, PAD, 1.5, 10)
    eps = torch.tensor([0.0, 0.1, 0.3, 1.0], dtype=torch.float64)  # 0 and 1: the 0 log 0 ends
    sparse_grad, = torch.autograd.grad(adalabel_loss(logits.log_softmax(-1), target, eps, v_probs, v_index), logits)
    q = (eps[:, None] * dense(v_probs, v_index, 30)).scatter(1, target[:, None], (1 - eps)[:, None])
    dense_grad, = torch.autograd.grad(torch.nn.functional.kl_div(logits.log_softmax(-1), q, reduction="sum"), logits)
    assert torch.allclose(sparse_grad, dense_grad, atol=1e-12)


def test_by_hand_a_confident_correct_model_gets_the_bound():
    # p = (.7, .2, .1), gold 0, max v = .6: eps = 1 * min(.3, 1 / (1 + .6) - .2 = .425) = .3
    lprobs = torch.tensor([[0.7, 0.2, 0.1]], dtype=torch.float64).log()
    v_max = torch.tensor([0.6], dtype=torch.float64)
    assert adalabel_epsilon(lprobs, torch.tensor([0]), v_max).item() == pytest.approx(0.3)
    # gold 1 (p_gold / p_max = 2/7): eps = (2/7)^2 * .3
    assert adalabel_epsilon(lprobs, torch.tensor([1]), v_max).item() == pytest.approx((2 / 7) ** 2 * 0.3)


def test_the_mask_hides_only_the_next_input():
    mask = next_token_mask(4)
    hidden = [(i, j) for i in range(4) for j in range(4) if mask[i, j] == float("-inf")]
    assert hidden == [(0, 1), (1, 2), (2, 3)] and (mask[mask != float("-inf")] == 0).all()


def test_the_auxiliary_decoder_never_sees_the_token_it_predicts(databin):
    task, model, _ = setup(databin, "--task", "negative_distillation", "--arch", "transformer_adalabel_tiny",
                           "--criterion", "adalabel")
    model.eval()
    sample = first_batch(task)
    inputs = sample["net_input"]
    prev = inputs["prev_output_tokens"]
    row = int(prev.ne(task.target_dictionary.pad()).sum(1).argmax())
    t = 1  # position 1 predicts target[1] = prev[2]
    with torch.no_grad():
        base = model(**inputs, return_bidecoder=True)[1]["bidecoder_logits"][row]
        for position, changes in ((t + 1, False), (t + 2, True), (t, True)):
            edited = prev.clone()
            edited[row, position] = 4 + (edited[row, position] - 3) % 50
            out = model(**{**inputs, "prev_output_tokens": edited}, return_bidecoder=True)[1]["bidecoder_logits"][row]
            assert (not torch.allclose(out[t], base[t], atol=1e-6)) == changes, position


def test_the_criterion_matches_a_loop_over_the_model_outputs(databin):
    task, model, criterion = setup(databin, "--task", "negative_distillation", "--arch", "transformer_adalabel_tiny",
                                   "--criterion", "adalabel", "--adalabel-last-rank", "20")
    model.eval()
    sample = first_batch(task)
    loss, sample_size, log = criterion(model, sample)
    with torch.no_grad():
        x, extra = model(**sample["net_input"], return_bidecoder=True)
    lprobs, scores = x.double().log_softmax(-1), extra["bidecoder_logits"].double()
    total = 0.0
    for b, row in enumerate(sample["target"].tolist()):
        for t, y in enumerate(row):
            if y == PAD:
                continue
            v = v_by_loop(scores[b, t][None], torch.tensor([y]), 1.5, 20)[0]
            p = lprobs[b, t].exp()
            eps = (p[y] / p.max()) ** 2 * min(1 - p.max(), 1 / (1 + v.max()) - 0.2)
            q = eps * v
            q[y] = 1 - eps
            total += sum(qc * (math.log(qc) - lprobs[b, t, c]) for c, qc in enumerate(q.tolist()) if qc > 0)
            total += -scores[b, t].log_softmax(-1)[y].item()
    assert float(loss) == pytest.approx(float(total), rel=1e-5)
    assert sample_size == sample["ntokens"]


def test_a_model_without_the_auxiliary_decoder_is_refused(databin):
    task, model, criterion = setup(databin, "--task", "negative_distillation", "--criterion", "adalabel")
    with pytest.raises(ValueError, match="needs --arch transformer_adalabel"):
        criterion(model, first_batch(task))


def test_a_tiny_model_trains_and_decodes_with_stock_fairseq(databin, tmp_path):
    cli("fairseq-train", databin, "--user-dir", USER_DIR, *TINY_TRAIN, "--arch", "transformer_adalabel_tiny",
        "--task", "negative_distillation", "--criterion", "adalabel", "--max-update", "8", "--save-dir", tmp_path,
        "--log-format", "json", "--log-interval", "1")
    ckpt = os.path.join(tmp_path, "checkpoint_last.pt")
    greedy = cli("fairseq-generate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
                 "--path", ckpt, "--gen-subset", "test", "--beam", "1", "--max-len-b", "10").stdout
    assert sum(line.startswith("H-") for line in greedy.splitlines()) == 37
    # generation never runs the auxiliary decoder: scrambling its weights changes nothing
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    auxiliary = [key for key in state["model"] if key.startswith("bidecoder.") and "embed_tokens" not in key]
    assert auxiliary
    for key in auxiliary:
        state["model"][key] = torch.randn_like(state["model"][key].float()).to(state["model"][key].dtype)
    scrambled = os.path.join(tmp_path, "scrambled.pt")
    torch.save(state, scrambled)
    again = cli("fairseq-generate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
                "--path", scrambled, "--gen-subset", "test", "--beam", "1", "--max-len-b", "10").stdout
    hyps = [sorted(line for line in out.splitlines() if line[:2] in ("H-", "D-")) for out in (greedy, again)]
    assert hyps[0] == hyps[1]
    proc = subprocess.run(
        [os.path.join(BIN, "fairseq-interactive"), databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
         "--path", ckpt, "--source-lang", "src", "--target-lang", "tgt", "--beam", "2"],
        input="w1 w2 w3\nw4 w5\n", capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sum(line.startswith("H-") for line in proc.stdout.splitlines()) == 2
