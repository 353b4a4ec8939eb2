"""The paper's equations as plain autograd functions: the source of truth.

Each is the formula as written, differentiated by autograd, with its shapes documented; the
criterion's non-fused path calls them, and tests compare them with loops written from the
paper. ``criterions/fused_output_layer.py`` is an accelerator of the output-layer pair
(label-smoothed NLL + Eq. 6) and is tested against these. ``log1m_softmax_at`` also serves the
baselines' unlikelihood losses (``baseline_losses.py``).
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def progressive_alpha(step, lam: float = 4.0, gamma: float = 25600.0, beta: Optional[float] = None) -> float:
    """Eq. 15-16: a = lam * e^-z / (e^-z + 1)^2 with z = beta * (step - gamma).

    ``beta`` defaults to 6 / gamma (the paper's setting). The peak, at step = gamma, is lam / 4.
    The function is even in z, so it is evaluated through |z|: no exp overflows.
    """
    if beta is None:
        beta = 6.0 / gamma
    e = math.exp(-abs(beta * (float(step) - gamma)))
    return lam * e / (1.0 + e) ** 2


def mean_alpha(updates: int, lam: float = 4.0, gamma: float = 25600.0, beta: Optional[float] = None) -> float:
    """The mean of Eq. 15-16 over a run's updates 0 .. updates - 1 (the update counts its
    criterion sees): the constant of the paper's fixed-alpha ablation (Table 8)."""
    if updates <= 0:
        raise ValueError(f"mean_alpha: a run needs at least one update, got {updates}")
    return math.fsum(progressive_alpha(step, lam, gamma, beta) for step in range(updates)) / updates


def log1m_softmax(logits: Tensor) -> Tensor:
    """log(1 - softmax(logits)) over the last dim, in float32, exact also where p -> 1.

    ``log1p(-p)`` is accurate for p <= 1/2, which holds for every entry but the arg-max; there
    log(1 - p_top) = logsumexp of the other log-probabilities. (Clamping 1 - p instead would
    zero the gradient exactly where a confident model most needs it.)
    Args: logits (..., V). Returns: (..., V).
    """
    lp = F.log_softmax(logits.float(), dim=-1)
    top = lp.argmax(dim=-1, keepdim=True)
    rest = torch.log1p(-lp.exp().scatter(-1, top, 0.0))  # 0 (and no gradient) at the top
    at_top = torch.logsumexp(lp.scatter(-1, top, float("-inf")), dim=-1, keepdim=True)
    return rest.scatter(-1, top, at_top)


def soft_unlikelihood(student_logits: Tensor, teacher_logits: Tensor, mask: Tensor, temperature: float = 1.0) -> Tensor:
    """Eq. 6-7: -sum over valid positions of sum_k p_N(k) log(1 - p_S(k)).

    Args:
        student_logits: (..., V) pre-softmax scores of the student.
        teacher_logits: (..., V) pre-softmax scores of the negative teacher (no gradient).
        mask: bool, the leading shape (...) of the logits; True at positions that count.
        temperature: t of Eq. 7, applied to both distributions.
    Returns:
        A float32 scalar.
    """
    if temperature <= 0:
        raise ValueError(f"soft_unlikelihood: temperature must be > 0, got {temperature}")
    p_teacher = F.softmax(teacher_logits.detach().float() / temperature, dim=-1)
    per_position = -(p_teacher * log1m_softmax(student_logits.float() / temperature)).sum(-1)
    return torch.where(mask, per_position, 0.0).sum()


def log1m_softmax_at(logits: Tensor, index: Tensor) -> Tensor:
    """``log1m_softmax(logits).gather(-1, index)`` without the (..., V) result: the same
    exactness (the arg-max entry through the logsumexp of the others), one log-softmax pass.
    Args: logits (..., V); index long (..., K). Returns: (..., K) float32."""
    lp = F.log_softmax(logits.float(), dim=-1)
    top = lp.argmax(dim=-1, keepdim=True)
    at_top = torch.logsumexp(lp.scatter(-1, top, float("-inf")), dim=-1, keepdim=True)  # log(1 - p_top)
    picked = lp.gather(-1, index)
    # elsewhere p <= 1/2, where log1p(-p) is exact; the top's value is not used there (nor its gradient)
    rest = torch.log1p(-torch.where(index == top, 0.0, picked.exp()))
    return torch.where(index == top, at_top.expand_as(picked), rest)


def one_hot_unlikelihood(student_logits: Tensor, negative_tokens: Tensor, mask: Tensor,
                         temperature: float = 1.0) -> Tensor:
    """Eq. 6 with a one-hot p_N: -sum over valid positions t of log(1 - p_S(n_t)), the
    unlikelihood of the negative response's token n_t at the student's position t (the hard-
    and random-target ablations of the paper's Table 9).

    Args:
        student_logits: (B, T, V) pre-softmax scores of the student.
        negative_tokens: (B, T) long, the negative response's token at each student position.
        mask: bool (B, T); True where both the student's target and the negative response have
            a token.
        temperature: t of Eq. 7 for the student's softmax.
    Returns:
        A float32 scalar.
    """
    if temperature <= 0:
        raise ValueError(f"one_hot_unlikelihood: temperature must be > 0, got {temperature}")
    index = torch.where(mask, negative_tokens, 0).unsqueeze(-1)
    per_position = -log1m_softmax_at(student_logits.float() / temperature, index).squeeze(-1)
    return torch.where(mask, per_position, 0.0).sum()


def per_sample_mean(values: Tensor, mask: Tensor) -> Tensor:
    """The mean of ``values`` over the True entries of ``mask``, one per leading index.

    Args: values (B, ...), mask bool broadcastable to values. Returns: (B,); 0 where a sample
    has no valid entry. Masked-out entries (even inf or nan) reach neither value nor gradient.
    """
    mask = mask.expand_as(values)
    sums = torch.where(mask, values, 0.0).flatten(1).sum(-1)
    return sums / mask.flatten(1).sum(-1).clamp(min=1)


def mrse(a: Tensor, b: Tensor, mask: Optional[Tensor] = None, per_sample: bool = False) -> Tensor:
    """Eq. 8: mean reverse square error, the mean of exp(-(a - b)^2) over valid elements.

    Args:
        a, b: tensors of the same shape (batch-first when ``per_sample``).
        mask: bool, a's shape or broadcastable to it; True where an element counts.
            Elements outside it (padding, future positions) never reach the result or its
            gradient, even when they are inf.
        per_sample: return one mean per leading index (shape B) instead of one scalar.
    """
    if a.shape != b.shape:
        raise ValueError(f"mrse: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    if mask is None:
        mask = torch.ones((), dtype=torch.bool, device=a.device)
    mask = mask.expand_as(a)
    if not per_sample:
        a, b, mask = a.reshape(1, -1), b.reshape(1, -1), mask.reshape(1, -1)
    diff = torch.where(mask, a.float() - b.float(), 0.0)  # inf - inf at a masked entry stays out
    means = per_sample_mean(torch.exp(-diff.pow(2)), mask)
    return means if per_sample else means[0]
