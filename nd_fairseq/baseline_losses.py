"""The baselines' formulas as plain functions (the paper's Table 3 systems), each tested
against a loop written from its definition.

FACE (Jiang et al., WWW 2019; the authors' ``face/face.py``): frequency-aware cross entropy.
"""
import torch
from torch import Tensor


def response_token_counts(tokens: Tensor, mask: Tensor, eos: int, vocab_size: int, count_eos: bool = True) -> Tensor:
    """How often each token id occurs in a batch of responses, each cut after its first EOS
    (as FACE's ``clean_preds`` cuts the model's predictions; the EOS itself counts unless
    ``count_eos`` is False).

    Args: tokens (B, T) long; mask bool (B, T), True at the positions that exist (not padding).
    Returns: (vocab_size,) float64 counts.
    """
    eos_at = (tokens == eos) & mask
    # positions after the first EOS of their row: an EOS at some earlier position
    after_eos = (eos_at.long().cumsum(-1) - eos_at.long()) > 0
    keep = mask & ~after_eos
    if not count_eos:
        keep = keep & ~eos_at
    counts = torch.zeros(vocab_size, dtype=torch.float64, device=tokens.device)
    return counts.index_add_(0, tokens[keep], torch.ones_like(tokens[keep], dtype=torch.float64))


def face_pre_weights(counts: Tensor) -> Tensor:
    """FACE's pre-weights from token counts: with RF = counts / sum(counts),
    w_c = 1 - RF_c / max RF, renormalised so that sum_c w_c = |V|. All ones while nothing has
    been counted, or where every token is equally frequent (no token to favour).
    Args: counts (V,). Returns: (V,) float32."""
    total = counts.sum()
    if total <= 0:
        return torch.ones_like(counts, dtype=torch.float32)
    rf = counts / total
    weights = 1.0 - rf / rf.max()
    if weights.sum() <= 0:
        return torch.ones_like(counts, dtype=torch.float32)
    return (weights / weights.sum() * counts.numel()).float()


def face_post_weights(counts: Tensor, predicted: Tensor, target: Tensor) -> Tensor:
    """FACE's post-weights, one per position: 1 + relu(f(predicted) - f(target)) / sum f, with
    f the token counts. Args: counts (V,); predicted, target (B, T) long. Returns: (B, T) float32."""
    total = counts.sum()
    if total <= 0:
        return torch.ones(target.shape, dtype=torch.float32, device=target.device)
    return (1.0 + torch.relu(counts[predicted] - counts[target]) / total).float()


def weighted_nll(lprobs: Tensor, target: Tensor, weights: Tensor, mask: Tensor) -> Tensor:
    """sum over valid positions t of weights_t * (-log p(y_t)): FACE's loss, the reference's
    ``CrossEntropyLoss(weight=w, reduction='sum')`` (pre-weights, weights_t = w[y_t]) or its
    per-position post-weighting. Args: lprobs (B, T, V) log-probabilities; target, weights, mask
    (B, T). Returns: a float32 scalar."""
    nll = -lprobs.float().gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return torch.where(mask, weights * nll, 0.0).sum()
