"""The negative_distillation criterion: reductions to LSCE, Eq. 13 per sample, a frozen teacher."""
import math

import pytest
import torch
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion

from .helpers import first_batch, setup


def nd_setup(databin, teacher_ckpt, *extra):
    return setup(databin, "--task", "negative_distillation", "--teacher-path", teacher_ckpt,
                 "--criterion", "negative_distillation", *extra)


def run(task, model, criterion, sample, update_num=0):
    """What task.train_step does before the criterion runs."""
    criterion.set_num_updates(update_num)
    task.attach_teacher_outputs(sample, model, criterion)
    return criterion(model, sample)


def lsce(task, model, sample, eps=0.1):
    return LabelSmoothedCrossEntropyCriterion(task, False, eps)(model, sample)[0]


def test_alpha_zero_is_exactly_label_smoothed_cross_entropy(databin, teacher_ckpt):
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-fixed-alpha", "0")
    model.eval()
    sample = first_batch(task)
    loss, sample_size, log = run(task, model, criterion, sample)
    assert "nd_teacher" not in sample  # alpha = 0: no teacher forward at all
    assert torch.equal(loss, lsce(task, model, sample))
    assert sample_size == sample["ntokens"]
    assert not any(k in log for k in ("loss_pred", "loss_hid", "loss_att"))


def test_zero_weights_give_scaled_lsce(databin, teacher_ckpt):
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-fixed-alpha", "0.3", "--nd-pred-weight", "0",
                                      "--nd-hid-weight", "0", "--nd-att-weight", "0")
    model.eval()
    sample = first_batch(task)
    loss, _, _ = run(task, model, criterion, sample)
    assert torch.allclose(loss, 0.7 * lsce(task, model, sample), rtol=1e-6)


def test_logged_nll_is_the_true_nll_at_alpha_one(databin, teacher_ckpt):
    """At alpha = 1 L_mle has weight 0, but nll_loss and loss_mle are still what they are
    (they pick checkpoints with --best-checkpoint-metric nll_loss)."""
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-fixed-alpha", "1")
    model.eval()
    sample = first_batch(task)
    _, _, log = run(task, model, criterion, sample)
    mle, nll = LabelSmoothedCrossEntropyCriterion(task, False, 0.1).compute_loss(model, model(**sample["net_input"]),
                                                                                  sample)
    assert float(log["nll_loss"]) == pytest.approx(float(nll), rel=1e-5) and float(nll) > 0
    assert float(log["loss_mle"]) == pytest.approx(float(mle), rel=1e-5)


@pytest.mark.parametrize("flags, message", [
    (["--nd-lambda", "4.5"], "--nd-lambda must be in \\[0, 4\\]"),
    (["--nd-lambda", "-1"], "--nd-lambda must be in \\[0, 4\\]"),
    (["--nd-beta", "0"], "--nd-beta must be > 0"),
    (["--nd-beta", "-0.01"], "--nd-beta must be > 0"),
])
def test_impossible_schedules_are_rejected(databin, teacher_ckpt, flags, message):
    with pytest.raises(ValueError, match=message):
        nd_setup(databin, teacher_ckpt, *flags)


def test_second_backward_through_the_fused_layer_names_the_cause(databin, teacher_ckpt):
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-fixed-alpha", "0.5")
    loss, _, _ = run(task, model, criterion, first_batch(task))
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second backward"):
        loss.backward()


def unpadded_samples(task, sample):
    """Each sample of a batch on its own, without padding: (n_tokens, net_input, one-sample batch)."""
    pad = task.target_dictionary.pad()
    for b in range(sample["target"].size(0)):
        n = int(sample["target"][b].ne(pad).sum())
        src_len = int(sample["net_input"]["src_lengths"][b])
        src = sample["net_input"]["src_tokens"][b:b + 1]
        src = src[:, src.size(1) - src_len:]  # sources are left-padded
        net_input = {"src_tokens": src, "src_lengths": sample["net_input"]["src_lengths"][b:b + 1],
                     "prev_output_tokens": sample["net_input"]["prev_output_tokens"][b:b + 1, :n]}
        yield n, net_input, {"net_input": net_input, "target": sample["target"][b:b + 1, :n], "ntokens": n}


def literal_terms(model, teacher, net_input, n):
    """L_pred, sum_l L_hid^l and sum_l L_att^l of one unpadded sample, by the literal Eq. 6 and Eq. 8."""
    s_logits, s_extra = model(**net_input, return_nd_features=True)
    t_logits, t_extra = teacher(**net_input, return_nd_features=True)
    pred = -(torch.softmax(t_logits, -1) * torch.log(1 - torch.softmax(s_logits, -1))).sum()
    hid = sum(torch.exp(-(s - t) ** 2).mean() for s, t in zip(s_extra["nd_hidden"], t_extra["nd_hidden"]))
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    att = sum(torch.exp(-(s - t) ** 2)[..., causal].mean()
              for s, t in zip(s_extra["nd_attn_logits"], t_extra["nd_attn_logits"]))
    return pred, hid, att


def per_sample_reference(task, model, criterion, sample, alpha):
    """Eq. 13 one sample at a time, from the brute-force definitions."""
    total = 0.0
    for n, net_input, one in unpadded_samples(task, sample):
        pred, hid, att = literal_terms(model, criterion.task.teacher.model, net_input, n)
        total = total + (1 - alpha) * lsce(task, model, one) + alpha * (pred + 2.0 * hid + 0.5 * att)
    return total


@pytest.mark.parametrize("norm", ["sample", "token"])
def test_feature_normalisation_against_a_loop(databin, teacher_ckpt, norm):
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-fixed-alpha", "0.5", "--nd-feature-norm", norm)
    model.eval()
    sample = first_batch(task)
    _, _, log = run(task, model, criterion, sample)
    hid_sum = att_sum = 0.0
    with torch.no_grad():
        for n, net_input, _ in unpadded_samples(task, sample):
            _, hid, att = literal_terms(model, task.teacher.model, net_input, n)
            weight = n if norm == "token" else 1  # once per target token, or once per response
            hid_sum, att_sum = hid_sum + weight * hid.item(), att_sum + weight * att.item()
    assert log["loss_hid"].item() == pytest.approx(hid_sum, rel=1e-4)
    assert log["loss_att"].item() == pytest.approx(att_sum, rel=1e-4)


def test_batched_loss_equals_eq13_summed_over_samples(databin, teacher_ckpt):
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-gamma", "10", "--nd-hid-weight", "2",
                                      "--nd-att-weight", "0.5")
    model.eval()
    sample = first_batch(task)
    criterion.set_num_updates(7)
    alpha = criterion.alpha()
    loss, _, log = run(task, model, criterion, sample, update_num=7)
    z = (6 / 10) * (7 - 10)
    assert alpha == pytest.approx(4 * math.exp(-z) / (math.exp(-z) + 1) ** 2)
    with torch.no_grad():
        expected = per_sample_reference(task, model, criterion, sample, alpha)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)
    # the logged terms recombine into the loss
    nd_terms = log["loss_pred"] + 2 * log["loss_hid"] + 0.5 * log["loss_att"]
    recombined = (1 - alpha) * log["loss_mle"] + alpha * nd_terms
    assert loss.item() == pytest.approx(recombined.item(), rel=1e-5)


def test_teacher_is_frozen_and_out_of_the_student(databin, teacher_ckpt):
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-fixed-alpha", "0.5")
    teacher = task.teacher.model
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    sample = first_batch(task)
    model.train()
    loss, _, _ = run(task, model, criterion, sample)
    loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    optimizer.step()
    assert not teacher.training
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, before[k]), k
    teacher_ids = {id(p) for p in teacher.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}
    assert not teacher_ids & {id(p) for p in criterion.parameters()}
    assert len(list(criterion.parameters())) == 0


def test_projection_inside_the_loss_equals_the_models_logits(databin, teacher_ckpt):
    """The fused output layer (the student's projection applied inside, non-padding rows only)
    gives the loss, every term and every gradient of the plain path (the model's own logits,
    fairseq's LSCE and nd_fairseq.losses.soft_unlikelihood)."""
    task, model, criterion = nd_setup(databin, teacher_ckpt, "--nd-fixed-alpha", "0.4")
    model.eval()
    sample = first_batch(task)
    assert criterion.fused_projection(model) is model.decoder.output_projection.weight
    results = []
    for fused in (True, False):
        if not fused:
            criterion.fused_projection = lambda model: None
        model.zero_grad()
        loss, _, log = run(task, model, criterion, sample)
        loss.backward()
        results.append((loss.detach(), log, {n: p.grad.clone() for n, p in model.named_parameters()}))
    (loss_a, log_a, grads_a), (loss_b, log_b, grads_b) = results
    assert torch.allclose(loss_a, loss_b, rtol=1e-5)
    for key in ("loss_mle", "nll_loss", "loss_pred", "loss_hid", "loss_att"):
        assert torch.allclose(log_a[key], log_b[key], rtol=1e-5), key
    for name in grads_a:
        assert torch.allclose(grads_a[name], grads_b[name], rtol=1e-4, atol=1e-6), name
