"""--criterion negative_training (the paper's NT baseline) against loops and hand-computed values."""
from collections import Counter

import pytest
import torch

from nd_fairseq.baseline_losses import frequent_responses, negative_log_likelihood
from nd_fairseq.greedy import greedy_responses

from .helpers import TINY_TRAIN, USER_DIR, cli, first_batch, setup

EOS, PAD = 2, 1


def test_frequent_responses_by_hand():
    history = Counter({(5, EOS): 3, (6, 7, EOS): 1})  # shares .75 and .25
    assert frequent_responses(history, [(5, EOS), (6, 7, EOS), (8, EOS)], 0.5) == [True, False, False]
    assert frequent_responses(history, [(6, 7, EOS)], 0.2) == [True]
    assert frequent_responses(Counter(), [(5, EOS)], 0.01) == [False]


def test_a_response_at_exactly_r_thres_is_not_negative():
    # the reference: `r > R_THRES` (neg_freq_posttrain_seq2seq.py); 1/4 and 3/4 are exact in binary
    history = Counter({(5, EOS): 1, (6, EOS): 3})
    assert frequent_responses(history, [(5, EOS), (6, EOS)], 0.25) == [False, True]
    assert frequent_responses(history, [(6, EOS)], 0.75) == [False]


def test_the_window_keeps_the_last_responses_across_updates(databin):
    _, _, criterion = setup(databin, "--task", "negative_distillation", "--criterion", "negative_training",
                            "--nt-history-responses", "5", "--label-smoothing", "0.1")
    generated = []
    for update in [[(5, EOS), (6, EOS)], [(5, EOS)], [(7, EOS), (5, EOS), (8, EOS)], [(9, EOS)]]:
        criterion.pending = list(update)
        criterion.end_of_update()
        generated += update
        assert list(criterion.history) == generated[-5:]
        assert criterion.counts == Counter(generated[-5:])


def test_negative_log_likelihood_matches_a_loop():
    torch.manual_seed(0)
    lprobs = torch.randn(3, 4, 9).log_softmax(-1)
    responses = torch.tensor([[5, 6, EOS, PAD], [7, EOS, PAD, PAD], [8, 8, 8, EOS]])
    negative = torch.tensor([True, False, True])
    expected = 0.0
    for b in (0, 2):
        for t, y in enumerate(responses[b].tolist()):
            if y != PAD:
                expected += (0.1 if y == EOS else 1.0) * lprobs[b, t, y].item()
    got = negative_log_likelihood(lprobs, responses, negative, responses.ne(PAD), EOS, 0.1)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_the_loss_lowers_the_likelihood_of_frequent_greedy_responses(databin):
    def nt(window):
        return setup(databin, "--task", "negative_distillation", "--criterion", "negative_training",
                     "--nt-history-responses", str(window), "--nt-threshold", "0.05", "--label-smoothing", "0.1")

    # the window: exactly the first batch's responses (the same model: setup seeds it)
    task, model, criterion = nt(first_batch(nt(1)[0])["target"].size(0))
    dictionary = task.target_dictionary
    model.train()  # dropout 0 in setup(): deterministic
    sample = first_batch(task)
    _, _, log = criterion(model, sample)  # history not full yet: L_mle only
    assert "negative_responses" not in log
    criterion.end_of_update()
    generated = greedy_responses(model, sample["net_input"], dictionary)
    rows = [[int(x) for x in row if x != dictionary.pad()] for row in generated]
    shares = Counter(tuple(r) for r in rows)
    negative = [shares[tuple(r)] / len(rows) > 0.05 for r in rows]
    assert any(negative)  # an untrained model repeats itself
    loss, sample_size, log = criterion(model, sample)
    assert log["negative_responses"] == sum(negative)
    total, tokens = 0.0, sum(len(r) for r in rows)
    for b, row in enumerate(rows):  # each response teacher-forced on its own, without padding
        if not negative[b]:
            continue
        src_len = int(sample["net_input"]["src_lengths"][b])
        src = sample["net_input"]["src_tokens"][b:b + 1, -src_len:]
        with torch.no_grad():
            lprobs = model(src, torch.tensor([src_len]), torch.tensor([[dictionary.eos()] + row[:-1]]))[0][0]
            lprobs = lprobs.log_softmax(-1)
        total += sum((0.1 if y == dictionary.eos() else 1.0) * lprobs[t, y].item() for t, y in enumerate(row))
    mle, _ = criterion.compute_loss(model, model(**sample["net_input"]), sample)
    assert float(loss) == pytest.approx(float(mle) + total / tokens * sample_size, rel=1e-4)


def test_a_tiny_model_refines_and_generates(databin, tmp_path):
    cli("fairseq-train", databin, "--user-dir", USER_DIR, *TINY_TRAIN, "--task", "negative_distillation",
        "--criterion", "negative_training", "--nt-history-responses", "40", "--max-update", "5", "--save-dir", tmp_path)
    out = cli("fairseq-generate", databin, "--user-dir", USER_DIR, "--task", "negative_distillation",
              "--path", tmp_path / "checkpoint_last.pt", "--gen-subset", "test", "--beam", "1", "--max-len-b", "10")
    assert sum(line.startswith("H-") for line in out.stdout.splitlines()) == 37
