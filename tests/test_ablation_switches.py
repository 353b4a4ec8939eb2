"""The switches of the paper's analyses (Tables 8-9): --nd-fixed-alpha mean and --nd-target
hard|random, against loops written from their definitions."""
import math

import pytest
import torch

from nd_eval.io import log_row
from nd_fairseq.errors import ConfigError

from .helpers import TINY_TRAIN, USER_DIR, cli, first_batch, setup


def nd_setup(databin, teacher_ckpt, *extra):
    return setup(databin, "--task", "negative_distillation", "--teacher-path", teacher_ckpt,
                 "--criterion", "negative_distillation", *extra)


def schedule_mean(updates, lam, gamma):
    """Eq. 15-16 averaged over updates 0 .. updates - 1, by a loop."""
    total = 0.0
    for step in range(updates):
        z = (6 / gamma) * (step - gamma)
        total += lam * math.exp(-z) / (math.exp(-z) + 1) ** 2
    return total / updates


def test_fixed_alpha_mean_is_the_schedules_mean_over_the_planned_run(databin, teacher_ckpt):
    _, _, criterion = nd_setup(databin, teacher_ckpt, "--nd-fixed-alpha", "mean", "--nd-lambda", "2",
                               "--nd-gamma", "30")
    criterion.set_planned_updates(50)
    for update in (0, 30, 49):
        criterion.set_num_updates(update)
        assert criterion.alpha() == pytest.approx(schedule_mean(50, 2.0, 30.0), rel=1e-12)


def test_fixed_alpha_mean_needs_a_bounded_run(databin, teacher_ckpt):
    _, _, criterion = nd_setup(databin, teacher_ckpt, "--nd-fixed-alpha", "mean")
    criterion.set_num_updates(0)
    with pytest.raises(ConfigError, match="--nd-fixed-alpha mean needs .*--max-update or --max-epoch"):
        criterion.alpha()


@pytest.mark.parametrize("flags, message", [
    (["--nd-fixed-alpha", "half"], "--nd-fixed-alpha must be a number in \\[0, 1\\] or 'mean', got 'half'"),
    (["--nd-fixed-alpha", "1.5"], "--nd-fixed-alpha must be in \\[0, 1\\]"),
    (["--nd-target", "hard", "--nd-pred-weight", "0"], "--nd-target hard changes L_pred"),
])
def test_impossible_switches_are_rejected(databin, teacher_ckpt, flags, message):
    with pytest.raises(ConfigError, match=message):
        nd_setup(databin, teacher_ckpt, *flags)


def greedy_by_loop(teacher, src_tokens, src_length, eos, pad, max_len=50):
    """The teacher's greedy response to one query, re-running the whole decoder at every step
    (no incremental state); pad is never chosen, as in fairseq's SequenceGenerator."""
    src = src_tokens[src_tokens.size(0) - src_length:].unsqueeze(0)  # sources are left-padded
    out = [eos]
    with torch.no_grad():
        for _ in range(max_len):
            logits, _ = teacher(src, torch.tensor([src_length]), torch.tensor([out]))
            scores = logits[0, -1].log_softmax(-1)
            scores[pad] = -math.inf
            out.append(int(scores.argmax()))
            if out[-1] == eos:
                break
        else:
            out.append(eos)
    return out[1:]


def one_hot_loop(student_logits, target, negative, pad):
    """-sum_t log(1 - p_S(n_t)) over the positions where both responses have a token."""
    total = 0.0
    for b in range(target.size(0)):
        for t in range(target.size(1)):
            if target[b, t] != pad and t < len(negative[b]):
                p = torch.softmax(student_logits[b, t].double(), -1)
                total -= math.log(1 - p[negative[b][t]].item())
    return total


def test_hard_targets_are_the_teachers_greedy_responses(databin, teacher_ckpt):
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-target", "hard", "--nd-fixed-alpha", "0.5",
                                      "--nd-hid-weight", "0", "--nd-att-weight", "0")
    model.eval()
    sample = first_batch(task)
    criterion.set_num_updates(0)
    task.attach_teacher_outputs(sample, model, criterion)
    responses = sample["nd_teacher"].responses
    dictionary = task.target_dictionary
    negative = []
    for b in range(responses.size(0)):
        expected = greedy_by_loop(task.teacher.model, sample["net_input"]["src_tokens"][b],
                                  int(sample["net_input"]["src_lengths"][b]), dictionary.eos(), dictionary.pad())
        got = [int(x) for x in responses[b] if x != dictionary.pad()]
        assert got == expected
        negative.append(got)
    _, _, log = criterion(model, sample)
    with torch.no_grad():
        logits = model(**sample["net_input"])[0]
    assert float(log["loss_pred"]) == pytest.approx(one_hot_loop(logits, sample["target"], negative,
                                                                 dictionary.pad()), rel=1e-5)
    # decoded once per pair: a second batch of the same pairs needs no generation
    source = next(iter(task.negative_responses.values()))
    source.teacher = None  # a generation would fail
    again = first_batch(task)
    task.attach_teacher_outputs(again, model, criterion)
    assert torch.equal(again["nd_teacher"].responses, responses)


def test_random_targets_are_fixed_draws_from_d_n(databin, teacher_ckpt):
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-target", "random", "--nd-fixed-alpha", "0.5")
    model.eval()
    sample = first_batch(task)
    criterion.set_num_updates(0)
    task.attach_teacher_outputs(sample, model, criterion)
    responses = sample["nd_teacher"].responses
    pad = task.target_dictionary.pad()
    # D_N here: the teacher's training data, as its checkpoint records it (the fixture's databin)
    task.load_dataset("train")
    d_n = {tuple(int(x) for x in task.dataset("train").tgt[i]) for i in range(len(task.dataset("train")))}
    rows = [tuple(int(x) for x in row if x != pad) for row in responses]
    assert all(row in d_n for row in rows)
    assert len(set(rows)) > len(rows) // 2  # drawn, not one response for all
    again = first_batch(task)
    task.attach_teacher_outputs(again, model, criterion)
    assert torch.equal(again["nd_teacher"].responses, responses)
    _, _, log = criterion(model, sample)
    with torch.no_grad():
        logits = model(**sample["net_input"])[0]
    assert float(log["loss_pred"]) == pytest.approx(one_hot_loop(logits, sample["target"], rows, pad), rel=1e-5)


def test_random_targets_name_missing_negative_data(databin, teacher_ckpt, tmp_path):
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-target", "random", "--nd-fixed-alpha", "0.5",
                                      "--negative-data", str(tmp_path))
    sample = first_batch(task)
    criterion.set_num_updates(0)
    with pytest.raises(ConfigError, match=f"no D_N responses at {tmp_path}/train.src-tgt.tgt"):
        task.attach_teacher_outputs(sample, model, criterion)


@pytest.mark.parametrize("flags", [["--nd-target", "hard"], ["--nd-target", "random"],
                                   ["--nd-fixed-alpha", "mean"]])
def test_switches_train_a_tiny_student(databin, teacher_ckpt, tmp_path, flags):
    proc = cli("fairseq-train", databin, "--user-dir", USER_DIR, "--save-dir", tmp_path, "--max-update", "6",
               *TINY_TRAIN, "--task", "negative_distillation", "--teacher-path", teacher_ckpt,
               "--criterion", "negative_distillation", "--nd-gamma", "4", "--log-format", "json",
               "--log-interval", "1", *flags)
    rows = [row for line in (proc.stdout + proc.stderr).splitlines() if (row := log_row(line, "train_inner"))]
    assert len(rows) == 6 and all(math.isfinite(float(r["loss_pred"])) for r in rows[1:])
    if flags[0] == "--nd-fixed-alpha":
        assert {float(r["alpha"]) for r in rows} == {round(schedule_mean(6, 4.0, 4.0), 4)}
