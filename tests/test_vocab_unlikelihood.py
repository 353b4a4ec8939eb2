"""--criterion vocab_unlikelihood (the paper's UL baseline) against loops."""
import math

import pytest
import torch

from nd_fairseq.baseline_losses import over_production_weights, vocab_unlikelihood
from nd_fairseq.greedy import greedy_responses

from .helpers import TINY_TRAIN, USER_DIR, cli, first_batch, setup
from .test_ablation_switches import greedy_by_loop

PAD = 1


def test_over_production_weights_by_hand():
    generated = torch.tensor([0.0, 6.0, 2.0, 2.0], dtype=torch.float64)  # p_gen = 0, .6, .2, .2
    human = torch.tensor([5.0, 2.0, 2.0, 1.0], dtype=torch.float64)  # p_hum = .5, .2, .2, .1
    assert over_production_weights(generated, human, "uniform", 1e-3).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert over_production_weights(generated, human, "logdiff", 1e-3).tolist() == pytest.approx(
        [0.0, math.log(0.4 / 0.001), 0.0, math.log(0.1 / 0.001)])
    assert over_production_weights(generated, human, "kldiv", 1e-3).tolist() == pytest.approx(
        [0.0, 0.6 * math.log(0.6 / 0.2), 0.0, 0.2 * math.log(0.2 / 0.1)])
    # a higher threshold drops the smaller excess
    assert over_production_weights(generated, human, "uniform", 0.2).tolist() == [0.0, 1.0, 0.0, 0.0]


def test_the_thresholds_are_the_references_inequalities():
    # ParlAI: uniform and logdiff keep p_gen - p_hum >= threshold, kldiv keeps beta > threshold
    generated = torch.tensor([3.0, 1.0], dtype=torch.float64)  # p_gen .75, .25
    human = torch.tensor([1.0, 1.0], dtype=torch.float64)  # p_hum .5, .5: excess exactly .25 (binary-exact)
    assert over_production_weights(generated, human, "uniform", 0.25).tolist() == [1.0, 0.0]
    assert over_production_weights(generated, human, "logdiff", 0.25).tolist()[0] == pytest.approx(math.log(250))
    beta = over_production_weights(generated, human, "kldiv", 0.0)[0].item()  # .75 log 1.5, in float32
    p_gen, p_hum = generated / 4, human / 2
    at_beta = float((p_gen * (p_gen.log() - p_hum.log()))[0])  # the float64 value the function compares
    assert beta == pytest.approx(0.75 * math.log(1.5))
    assert over_production_weights(generated, human, "kldiv", at_beta).tolist() == [0.0, 0.0]
    assert over_production_weights(generated, human, "kldiv", at_beta * (1 - 1e-9)).tolist()[0] == beta


def test_the_default_beta_is_the_papers():
    """Li et al. 2020's beta(y_c) = p_model log(p_model / p_*) (ParlAI's kldiv), not logdiff."""
    from fairseq import options

    args = options.parse_args_and_arch(options.get_training_parser(), [
        "data", "--user-dir", USER_DIR, "--task", "negative_distillation", "--arch", "transformer_nd_tiny",
        "--criterion", "vocab_unlikelihood"])
    assert args.ul_weighting == "kldiv"


def test_vocab_unlikelihood_matches_a_loop():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6)
    generated = torch.tensor([[3, 4, 3, 2], [5, 2, PAD, PAD]])
    weights = torch.tensor([0.0, 0.0, 0.0, 2.0, 0.0, 0.5])
    total, count = 0.0, 0
    for b in range(2):
        for t in range(4):
            y = int(generated[b, t])
            if y != PAD and weights[y] != 0:
                p = torch.softmax(logits[b, t].double(), -1)[y].item()
                total -= weights[y].item() * math.log(1 - p)
                count += 1
    got, n = vocab_unlikelihood(logits, generated, weights, generated.ne(PAD))
    assert got.item() == pytest.approx(total, rel=1e-5) and int(n) == count == 3


def test_the_loss_adds_the_mean_unlikelihood_of_the_models_own_greedy_responses(databin):
    task, model, criterion = setup(databin, "--task", "negative_distillation", "--criterion", "vocab_unlikelihood",
                                   "--ul-queue-size", "1", "--ul-alpha", "10", "--ul-weighting", "uniform",
                                   "--label-smoothing", "0.1")
    dictionary = task.target_dictionary
    model.train()  # dropout is 0 in setup(): the forward passes are deterministic
    sample = first_batch(task)
    _, _, log = criterion(model, sample)  # the first batch is only counted
    assert "loss_ul" not in log
    criterion.end_of_update()
    generated = greedy_responses(model, sample["net_input"], dictionary)
    for b in range(4):  # (the loop re-runs the decoder at every step: a few rows suffice)
        expected = greedy_by_loop(model, sample["net_input"]["src_tokens"][b],
                                  int(sample["net_input"]["src_lengths"][b]), dictionary.eos(), dictionary.pad())
        assert [int(x) for x in generated[b] if x != dictionary.pad()] == expected
    counts = criterion.counts.total
    vocab = len(dictionary)
    assert counts[-1] == 1 and counts[:vocab].sum() == generated.ne(dictionary.pad()).sum()
    assert counts[vocab:-1].sum() == sample["target"].ne(dictionary.pad()).sum()
    loss, sample_size, log = criterion(model, sample)
    p_gen, p_hum = counts[:vocab] / counts[:vocab].sum(), counts[vocab:-1] / counts[vocab:-1].sum()
    over = {c for c in range(vocab) if counts[c] > 0 and p_gen[c] - p_hum[c] >= 1e-3}
    assert over  # an untrained model over-produces something
    total, n = 0.0, 0
    for b in range(generated.size(0)):  # each response teacher-forced on its own, without padding
        row = [int(x) for x in generated[b] if x != dictionary.pad()]
        src_len = int(sample["net_input"]["src_lengths"][b])
        src = sample["net_input"]["src_tokens"][b:b + 1, -src_len:]
        with torch.no_grad():
            logits = model(src, torch.tensor([src_len]), torch.tensor([[dictionary.eos()] + row[:-1]]))[0][0]
        for t, y in enumerate(row):
            if y in over:
                total -= math.log(1 - torch.softmax(logits[t].double(), -1)[y].item())
                n += 1
    mle, _ = criterion.compute_loss(model, model(**sample["net_input"]), sample)
    assert float(loss) == pytest.approx(float(mle) + 10 * total / n * sample_size, rel=1e-4)
    assert log["penalised_tokens"] == n


def test_a_tiny_model_refines_and_generates(databin, tmp_path):
    cli("fairseq-train", databin, "--user-dir", USER_DIR, *TINY_TRAIN, "--task", "negative_distillation",
        "--criterion", "vocab_unlikelihood", "--ul-queue-size", "2", "--ul-alpha", "1000", "--max-update", "5",
        "--save-dir", tmp_path)
    out = cli("fairseq-generate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
              "--path", tmp_path / "checkpoint_last.pt", "--gen-subset", "test", "--beam", "1", "--max-len-b", "10")
    assert sum(line.startswith("H-") for line in out.stdout.splitlines()) == 37
