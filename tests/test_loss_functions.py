"""The three ND formulas against brute-force loops written from the paper's equations."""
import math

import pytest
import torch

from nd_fairseq.criterions.negative_distillation import (
    mrse,
    progressive_alpha,
    soft_unlikelihood,
)


def test_progressive_alpha_matches_eq15_16():
    for step in [0, 1, 100, 12800, 25600, 30000, 51200, 10**6]:
        z = (6 / 25600) * (step - 25600)
        expected = 4 * math.exp(-z) / (math.exp(-z) + 1) ** 2
        assert progressive_alpha(step) == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert progressive_alpha(25600) == pytest.approx(1.0)  # lambda / 4
    assert progressive_alpha(100, lam=2.0, gamma=100, beta=0.5) == pytest.approx(0.5)
    z = 0.01 * (50 - 100)
    assert progressive_alpha(50, 4.0, 100, 0.01) == pytest.approx(4 * math.exp(-z) / (math.exp(-z) + 1) ** 2)
    # rises then falls, symmetric around gamma, no overflow far away
    assert progressive_alpha(0) < progressive_alpha(20000) < progressive_alpha(25600)
    assert progressive_alpha(25600 - 5000) == pytest.approx(progressive_alpha(25600 + 5000))
    assert progressive_alpha(10**9, beta=1.0) == 0.0


def brute_soft_ul(student, teacher, mask, t):
    total = 0.0
    for pos in range(student.size(0)):
        if not mask[pos]:
            continue
        zs, zt = student[pos].double() / t, teacher[pos].double() / t
        ps = torch.exp(zs) / torch.exp(zs).sum()
        pn = torch.exp(zt) / torch.exp(zt).sum()
        for k in range(student.size(1)):
            total -= pn[k].item() * math.log(1 - ps[k].item())
    return total


@pytest.mark.parametrize("t", [1.0, 0.5, 2.0])
def test_soft_unlikelihood_matches_loop(t):
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 5, 7) * 2, torch.randn(2, 5, 7) * 2
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    got = soft_unlikelihood(student, teacher, mask, temperature=t)
    expected = brute_soft_ul(student.view(10, 7), teacher.view(10, 7), mask.view(10), t)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # masked positions do not count, whatever they hold
    student2 = student.clone()
    student2[0, 3:] = 1e4
    assert soft_unlikelihood(student2, teacher, mask, temperature=t).item() == pytest.approx(got.item(), rel=1e-6)


def test_soft_unlikelihood_gradient_matches_autograd_of_the_formula():
    torch.manual_seed(1)
    student = torch.randn(6, 11, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(6, 11, dtype=torch.float64)
    mask = torch.tensor([1, 1, 0, 1, 1, 1], dtype=torch.bool)
    t = 1.5
    soft_unlikelihood(student, teacher, mask, t).backward()
    ours = student.grad.clone()
    student.grad = None
    naive = -(torch.softmax(teacher / t, -1) * torch.log(1 - torch.softmax(student / t, -1))).sum(-1)
    (naive * mask).sum().backward()
    assert torch.allclose(ours, student.grad, rtol=1e-4, atol=1e-6)
    assert torch.all(ours[2] == 0)


def test_log_one_minus_p_exact_when_p_near_one():
    # p_0 = 1 - ~e^-40: log1p(-p) in float32 gives -inf; with all teacher mass on token 0 the
    # soft unlikelihood is exactly -log(1 - p_0) ~ 40
    logits = torch.tensor([[40.0, 0.0, -5.0]])
    teacher = torch.tensor([[1e4, 0.0, 0.0]])
    value = soft_unlikelihood(logits, teacher, torch.ones(1, dtype=torch.bool))
    exact = torch.log(torch.exp(torch.tensor([0.0, -5.0], dtype=torch.float64)).sum()) - 40.0
    assert value.item() == pytest.approx(-exact.item(), rel=1e-5)
    assert torch.isfinite(value)


def test_soft_unlikelihood_stable_and_pushing_down_a_saturated_token():
    student = torch.tensor([[60.0, 0.0, 0.0, -3.0]], requires_grad=True)  # p_S(0) == 1 in float32
    teacher = torch.tensor([[5.0, 0.0, 0.0, 0.0]])
    loss = soft_unlikelihood(student, teacher, torch.ones(1, dtype=torch.bool))
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 50  # ~ -q_0 log(1 - p_0) ~ q_0 * 60
    assert torch.isfinite(student.grad).all()
    assert student.grad[0, 0] > 0.5  # gradient descent lowers the saturated logit
    for dtype in (torch.float16, torch.bfloat16):
        s = student.detach().to(dtype).requires_grad_()
        value = soft_unlikelihood(s, teacher.to(dtype), torch.ones(1, dtype=torch.bool))
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(s.grad.float()).all()


def brute_mrse(a, b, mask):
    total, n = 0.0, 0
    for idx in torch.nonzero(mask.expand_as(a)).tolist():
        total += math.exp(-(a[tuple(idx)].item() - b[tuple(idx)].item()) ** 2)
        n += 1
    return total / n


def test_mrse_matches_loop_with_and_without_mask():
    torch.manual_seed(2)
    a, b = torch.randn(3, 4, 5), torch.randn(3, 4, 5)
    assert mrse(a, b).item() == pytest.approx(brute_mrse(a, b, torch.ones_like(a, dtype=torch.bool)), rel=1e-6)
    mask = torch.rand(3, 4, 1) > 0.3  # broadcast over the last dim
    assert mrse(a, b, mask).item() == pytest.approx(brute_mrse(a, b, mask), rel=1e-6)
    per = mrse(a, b, mask, per_sample=True)
    for i in range(3):
        if mask[i].any():
            assert per[i].item() == pytest.approx(brute_mrse(a[i], b[i], mask[i]), rel=1e-6)
    assert mrse(a, a).item() == pytest.approx(1.0)


def test_mrse_ignores_inf_outside_mask_in_value_and_gradient():
    a = torch.randn(2, 4, 4)
    mask = torch.ones(4, 4, dtype=torch.bool).tril().expand(2, 4, 4)
    a_inf = a.masked_fill(~mask, float("-inf")).requires_grad_()
    b = torch.randn(2, 4, 4).masked_fill(~mask, float("-inf"))
    value = mrse(a_inf, b, mask)
    value.backward()
    assert value.item() == pytest.approx(brute_mrse(a, b, mask), rel=1e-6)
    assert torch.isfinite(a_inf.grad).all() and torch.all(a_inf.grad[~mask] == 0)


def test_mrse_gradient_matches_autograd():
    torch.manual_seed(3)
    a = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(2, 3, 1) > 0.4
    mask[:, 0] = True
    mrse(a, b, mask, per_sample=True).sum().backward()
    ga, gb = a.grad.clone(), b.grad.clone()
    a.grad = b.grad = None
    m = mask.expand_as(a).double()
    ((torch.exp(-(a - b) ** 2) * m).sum((1, 2)) / m.sum((1, 2))).sum().backward()
    assert torch.allclose(ga, a.grad) and torch.allclose(gb, b.grad)


def output_layer_losses(logits, *args, **kwargs):
    """The accelerator on given logits: features = logits through an identity projection."""
    from nd_fairseq.criterions.fused_output_layer import projected_output_layer_losses

    identity = torch.eye(logits.size(-1), dtype=logits.dtype)
    return projected_output_layer_losses(logits, identity, *args, **kwargs)


def test_fused_output_layer_losses_match_autograd_of_lsce_plus_soft_ul():
    from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss

    torch.manual_seed(4)
    logits = torch.randn(9, 13, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(9, 13, dtype=torch.float64)
    target = torch.randint(2, 13, (9,))
    target[[2, 7]] = 1  # padding
    # the soft unlikelihood's rows may differ from the NLL's (row 4 counts for the NLL only, row 7 for L_pred only)
    for t, mask in [(1.0, target.ne(1)), (2.0, target.ne(1)), (1.0, torch.tensor([1, 1, 0, 1, 0, 1, 1, 1, 1]).bool()),
                    (2.0, torch.tensor([1, 1, 0, 1, 0, 1, 1, 1, 1]).bool())]:
        teacher_chunk = lambda rows: teacher[rows]  # noqa: E731
        total, mle, nll, pred = output_layer_losses(logits, target, teacher_chunk, mask, t, 0.1, 1, 0.7, 0.3)
        total.backward()
        ours = logits.grad.clone()
        logits.grad = None
        ref_mle, ref_nll = label_smoothed_nll_loss(torch.log_softmax(logits, -1), target, 0.1, ignore_index=1)
        ref_pred = -(torch.softmax(teacher / t, -1) * torch.log(1 - torch.softmax(logits / t, -1))).sum(-1)[mask].sum()
        (0.7 * ref_mle + 0.3 * ref_pred).backward()
        assert mle.item() == pytest.approx(ref_mle.item()) and nll.item() == pytest.approx(ref_nll.item())
        assert pred.item() == pytest.approx(ref_pred.item())
        assert torch.allclose(ours, logits.grad, rtol=1e-5, atol=1e-7)
        logits.grad = None


def test_projected_output_layer_losses_match_autograd_through_the_projection():
    from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss

    from nd_fairseq.criterions.fused_output_layer import projected_output_layer_losses

    torch.manual_seed(5)
    features = torch.randn(9, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(13, 6, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(9, 13, dtype=torch.float64)
    target = torch.randint(2, 13, (9,))
    target[[2, 7]] = 1  # padding: rows never visited, zero gradient
    mask = target.ne(1)
    for t, weights in [(1.0, (0.7, 0.3)), (2.0, (0.7, 0.3)), (1.0, (1.0, 0.0)), (1.0, (0.0, 1.0))]:
        total, mle, nll, pred = projected_output_layer_losses(
            features, weight, target, lambda rows: teacher[rows], mask, t, 0.1, 1, *weights)
        total.mul(3.0).backward()  # an upstream factor, as fairseq's loss scaling
        ours = features.grad.clone(), weight.grad.clone()
        features.grad = weight.grad = None
        logits = features @ weight.t()
        ref_mle, ref_nll = label_smoothed_nll_loss(torch.log_softmax(logits, -1), target, 0.1, ignore_index=1)
        ref_pred = -(torch.softmax(teacher / t, -1) * torch.log(1 - torch.softmax(logits / t, -1))).sum(-1)[mask].sum()
        (3.0 * (weights[0] * ref_mle + weights[1] * ref_pred)).backward()
        if weights[0]:
            assert mle.item() == pytest.approx(ref_mle.item()) and nll.item() == pytest.approx(ref_nll.item())
        if weights[1]:
            assert pred.item() == pytest.approx(ref_pred.item())
        assert torch.allclose(ours[0], features.grad, rtol=1e-5, atol=1e-7)
        assert torch.allclose(ours[1], weight.grad, rtol=1e-5, atol=1e-7)
        assert torch.all(ours[0][[2, 7]] == 0)
        features.grad = weight.grad = None


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_projected_output_layer_losses_in_half_precision(dtype):
    from nd_fairseq.criterions.fused_output_layer import projected_output_layer_losses

    torch.manual_seed(6)
    features, weight, teacher = torch.randn(40, 16), torch.randn(300, 16), torch.randn(40, 300)
    target = torch.randint(2, 300, (40,))
    target[:5] = 1
    grads = []
    for dt in (torch.float32, dtype):
        f, w = features.to(dt, copy=True).requires_grad_(), weight.to(dt, copy=True).requires_grad_()
        total, *_ = projected_output_layer_losses(f, w, target, lambda rows: teacher[rows].to(dt), target.ne(1),
                                                  1.0, 0.1, 1, 0.6, 0.4)
        (total * 1024).backward()  # as under fairseq's loss scaling
        assert f.grad.dtype == w.grad.dtype == dt and torch.isfinite(total)
        grads.append((f.grad.float(), w.grad.float()))
    for ref, got in zip(*grads):
        assert torch.isfinite(got).all() and (got - ref).abs().max() <= 0.03 * ref.abs().max()


def test_fused_soft_unlikelihood_equals_the_plain_function():
    """The accelerator against the source of truth, value and gradient, with masked rows."""
    torch.manual_seed(5)
    logits = torch.randn(10, 17, dtype=torch.float64) * 3
    logits[3, 4] = 40.0  # a near-certain row: log(1 - p) must stay exact
    teacher = torch.randn(10, 17, dtype=torch.float64)
    mask = torch.tensor([1, 1, 0, 1, 1, 1, 0, 1, 1, 1], dtype=torch.bool)
    for t in (1.0, 0.7):
        a = logits.clone().requires_grad_()
        b = logits.clone().requires_grad_()
        total, _, _, fused = output_layer_losses(a, None, lambda rows: teacher[rows], mask, t, mle_weight=0.0)
        total.backward()
        plain = soft_unlikelihood(b, teacher, mask, temperature=t)
        plain.backward()
        assert fused.item() == pytest.approx(plain.item(), rel=1e-6)
        assert torch.allclose(a.grad, b.grad.to(a.grad.dtype), rtol=1e-4, atol=1e-7)


def test_schedule_summary_finds_the_peak_and_the_fall_by_the_formula():
    from nd_fairseq.criterions.negative_distillation import schedule_summary

    # lambda 4, gamma 100, beta 6/100: by brute force over updates, alpha is below 10% of its peak (0.1)
    # from update 161 on (alpha(160) = 0.1006, alpha(161) = 0.0975)
    assert progressive_alpha(160, 4, 100) > 0.1 > progressive_alpha(161, 4, 100)
    assert schedule_summary(160, 4, 100)[1] and not schedule_summary(161, 4, 100)[1]
    assert "from update 161" in schedule_summary(161, 4, 100)[0]
    # a run that stops before gamma never reaches the peak; alpha(50) = 4 e^-3 / (1 + e^-3)^2 = 0.1807
    message, warn = schedule_summary(50, 4, 100)
    assert warn and "peak lies beyond the run" in message and "alpha never exceeds 0.181" in message


def test_mean_alpha_is_the_mean_of_eq15_16_over_the_run():
    from nd_fairseq.losses import mean_alpha
    for updates, lam, gamma in [(1, 4.0, 100.0), (7, 4.0, 5.0), (2103, 4.0, 2400.0), (300, 2.0, 100.0)]:
        total = 0.0
        for step in range(updates):
            z = (6 / gamma) * (step - gamma)
            total += lam * math.exp(-z) / (math.exp(-z) + 1) ** 2
        assert mean_alpha(updates, lam, gamma) == pytest.approx(total / updates, rel=1e-12)
    # hand-computed: one update at the peak is the peak
    assert mean_alpha(1, 4.0, 0.5, beta=0.0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        mean_alpha(0)


@pytest.mark.parametrize("t", [1.0, 2.0])
def test_one_hot_unlikelihood_matches_loop(t):
    from nd_fairseq.losses import one_hot_unlikelihood
    torch.manual_seed(3)
    student = torch.randn(2, 4, 6) * 2
    negative = torch.tensor([[5, 2, 2, 0], [1, 3, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    expected = 0.0
    for b in range(2):
        for pos in range(4):
            if mask[b, pos]:
                z = student[b, pos].double() / t
                p = torch.exp(z) / torch.exp(z).sum()
                expected -= math.log(1 - p[negative[b, pos]].item())
    got = one_hot_unlikelihood(student, negative, mask, temperature=t)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # a descent step lowers the negative token's logit and raises every other one
    student = student.clone().requires_grad_(True)
    one_hot_unlikelihood(student, negative, mask, temperature=t).backward()
    assert student.grad[0, 0, 5] > 0 and torch.all(student.grad[0, 0, :5] < 0)
    assert torch.all(student.grad[0, 3] == 0) and torch.all(student.grad[1, 2:] == 0)


def test_log1m_softmax_at_equals_the_gathered_full_result_also_when_saturated():
    from nd_fairseq.losses import log1m_softmax, log1m_softmax_at
    torch.manual_seed(4)
    logits = torch.randn(2, 3, 9, dtype=torch.float64) * 3
    logits[0, 0, 4] = 60.0  # p -> 1: log(1 - p) ~ -60, where 1 - p rounds to 0
    index = torch.tensor([[[4, 1, 4], [0, 8, 2], [3, 3, 5]], [[7, 6, 0], [1, 2, 4], [8, 0, 5]]])
    full = log1m_softmax(logits).gather(-1, index)
    at = log1m_softmax_at(logits, index)
    assert torch.allclose(at, full.float(), rtol=1e-5) and at[0, 0, 0] < -50
    a = logits.clone().requires_grad_(True)
    b = logits.clone().requires_grad_(True)
    log1m_softmax_at(a, index).sum().backward()
    log1m_softmax(b).gather(-1, index).sum().backward()
    assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-6)
