"""An accelerator: L_mle and L_pred on the output distribution, fused, chunked and without the
padding rows. The definitions it must match are fairseq's ``label_smoothed_nll_loss`` and
``nd_fairseq.losses.soft_unlikelihood``; tests compare values and gradients with them.

    mle_weight x fairseq's label-smoothed NLL (its value computed by fairseq's own
    ``label_smoothed_nll_loss``) + pred_weight x the soft unlikelihood
    -sum_k q_k log(1 - p_k),  p = softmax(z / t),  q = softmax(z_N / t)

Why by hand: for the small models ND is used with, the vocabulary-sized tensors dominate time
and memory. Autograd would keep several float32 copies of the B*T x V logits for backward
and make separate full passes for each loss. Here only the rows that count are visited
(padding is often a third or more of a batch's B*T rows), in cache-sized chunks; the softmax
is shared by both losses; the gradient is computed in the forward pass, where all its
ingredients are at hand; the teacher's logits are made a chunk at a time and never exist
whole. ``projected_output_layer_losses`` takes the output projection into the loop too (the
student's logits never exist whole either, and none are computed for padding), as fused
linear-cross-entropy kernels do.

Gradients per row, with p the student's probabilities:
- label-smoothed NLL (fairseq's definition, eps_i = eps / (V - 1)): p - c, with c = eps_i
  everywhere except 1 - eps at the target;
- soft unlikelihood: with r_k = q_k / (1 - p_k) and S = sum_k r_k p_k, dL/dz_j =
  p_j (r_j - S) / t. At the arg-max this cancels as p -> 1 and is taken as the exact
  p_top (q_top - sum_{k != top} r_k p_k) / t; log(1 - p_top) is the log of the other
  probabilities' sum, also exact.
"""
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss
from torch import Tensor

# Elements of the rows x V logits processed at a time: on CPU a chunk's float32 temporaries
# stay in cache (~1 MB); on a GPU small chunks would make the loop launch-bound, so chunks
# there only bound the temporaries (~32 MB).
_ROW_CHUNK_ELEMENTS = {"cpu": 1 << 21, "cuda": 1 << 23}


# The gradient is made in the forward pass and handed over (not copied) in backward.
_SECOND_BACKWARD = (
    "nd_fairseq fused output layer: its gradient was already used by an earlier backward (a second backward, "
    "e.g. with retain_graph=True, is not supported), or the loss was computed under torch.no_grad()"
)


@dataclass
class _Spec:
    target: Optional[Tensor]  # N target ids; when given, the NLL is computed even at mle_weight 0
    teacher_chunk: Callable[[Tensor], Tensor]  # row indices -> the teacher's logits there
    row_mask: Tensor  # N bools: the rows the soft unlikelihood counts
    temperature: float
    eps: float
    pad: int
    mle_weight: float
    pred_weight: float


class _Rows:
    """Which rows to visit, in which chunks, and which masks still apply inside them."""

    def __init__(self, spec: _Spec, n_rows: int, vocab: int, device):
        none = torch.zeros(n_rows, dtype=torch.bool, device=device)
        self.mle = spec.target.ne(spec.pad) if spec.target is not None else none
        self.pred = spec.row_mask if spec.pred_weight else none
        self.counted = self.mle | self.pred
        active = self.counted.nonzero().squeeze(1)
        self.mask_mle = bool(spec.mle_weight) and not bool(self.mle[active].all())
        self.mask_pred = bool(spec.pred_weight) and not bool(self.pred[active].all())
        step = max(1, _ROW_CHUNK_ELEMENTS.get(device.type, _ROW_CHUNK_ELEMENTS["cuda"]) // max(1, vocab))
        self.chunks = [active[i:i + step] for i in range(0, active.numel(), step)]


def _lsce_gradient(p: Tensor, t: Tensor, eps: float, eps_i: float, weight) -> Tensor:
    """weight * (p - c), in place on p: the label-smoothed NLL's gradient (``weight`` a float
    or a rows x 1 tensor)."""
    g = p.sub_(eps_i).mul_(weight)
    return g.scatter_add_(-1, t, _per_row(-(1.0 - eps - eps_i) * weight, g))


def _per_row(value, like: Tensor) -> Tensor:
    """``value`` (a float or a rows x 1 tensor) as a rows x 1 tensor."""
    return value if torch.is_tensor(value) else like.new_full((like.size(0), 1), value)


def _nll_values(lp: Tensor, t: Tensor, spec: _Spec, sums: Tensor) -> None:
    """Adds the chunk's label-smoothed NLL and plain NLL (fairseq's own function) to sums[0:2]."""
    mle, nll = label_smoothed_nll_loss(lp, t, spec.eps, ignore_index=spec.pad, reduce=True)
    sums[0] += mle
    sums[1] += nll


def _soft_ul_value(p: Tensor, q: Tensor, sums: Tensor):
    """Adds -sum_k q_k log(1 - p_k) to sums[2]. Takes p apart in place: returns
    (top, p_top, 1 - p_top, 1 - p) with p left holding the non-top probabilities (0 at the
    top), all <= 1/2, so that every log below is accurate."""
    top = p.argmax(dim=-1, keepdim=True)
    p_top = p.gather(-1, top)
    p.scatter_(-1, top, 0.0)
    one_minus_top = p.sum(-1, keepdim=True)  # 1 - p_top, exact where p_top -> 1
    one_minus_p = torch.rsub(p, 1.0)  # 1 at the top, >= 1/2 elsewhere
    log1m = one_minus_p.log().scatter_(-1, top, one_minus_top.log())
    sums[2] -= torch.dot(q.view(-1), log1m.view(-1))
    return top, p_top, one_minus_top, one_minus_p


def _soft_ul_gradient(q: Tensor, p: Tensor, parts, scale: float, t: Optional[Tensor], mle_w, eps_i: float,
                      spec: _Spec) -> Tensor:
    """scale * d(soft UL)/dz, plus mle_w * the label-smoothed NLL's gradient when mle_w is
    given (same softmax), in place on q; ``p`` and ``parts`` as ``_soft_ul_value`` left them.
    Per row, with r_k = q_k / (1 - p_k) and S = sum_k r_k p_k: p_j (scale (r_j - S) + mle_w)
    - mle_w c_j off the top; the top entry is computed from the other probabilities."""
    top, p_top, one_minus_top, one_minus_p = parts
    r = q.div_(one_minus_p)  # q_top itself at the top
    q_top = r.gather(-1, top)
    rest = torch.bmm(r.unsqueeze(1), p.unsqueeze(2)).view(-1, 1)  # sum over k != top of r_k p_k
    s = rest + q_top * p_top / one_minus_top
    top_value = scale * p_top * (q_top - rest)
    g = r.mul_(scale).add_((0.0 if mle_w is None else mle_w) - scale * s).mul_(p)
    if mle_w is not None:
        g.sub_(mle_w * eps_i)
        top_value = top_value + mle_w * (p_top - eps_i)
    g.scatter_(-1, top, top_value)
    if mle_w is not None:
        g.scatter_add_(-1, t, _per_row(-(1.0 - spec.eps - eps_i) * mle_w, g))
    return g


def _chunk_losses(z: Tensor, rows: Tensor, spec: _Spec, visit: _Rows, sums: Tensor, need_grad: bool):
    """Adds this chunk's (mle, nll, pred) to ``sums``; returns the weighted gradient
    d(mle_weight * mle + pred_weight * pred)/dz (float32, rows x V) or None."""
    eps_i = spec.eps / (z.size(-1) - 1)
    lp = F.log_softmax(z, dim=-1)
    t = mle_w = None  # mle_w: the NLL's gradient weight, per row where some rows are padding
    if spec.target is not None:  # the value always (the logged NLL must not read 0 at alpha = 1)
        t = spec.target[rows].unsqueeze(-1)
        _nll_values(lp, t, spec, sums)
        if need_grad and spec.mle_weight:
            mle_w = spec.mle_weight * visit.mle[rows].unsqueeze(-1).float() if visit.mask_mle else spec.mle_weight
    g_mle = None
    if spec.temperature != 1.0 and spec.pred_weight:
        if mle_w is not None:  # the NLL's p is not the soft unlikelihood's: its gradient on its own
            g_mle, mle_w = _lsce_gradient(lp.exp_(), t, spec.eps, eps_i, mle_w), None
        lp = F.log_softmax(z / spec.temperature, dim=-1)
    p = lp.exp_()  # lp is not needed again
    if not spec.pred_weight:
        return None if mle_w is None else _lsce_gradient(p, t, spec.eps, eps_i, mle_w)
    q = F.softmax(spec.teacher_chunk(rows).float() / spec.temperature, dim=-1)
    if visit.mask_pred:
        q.mul_(visit.pred[rows].unsqueeze(-1))
    parts = _soft_ul_value(p, q, sums)
    if not need_grad:
        return None
    g = _soft_ul_gradient(q, p, parts, spec.pred_weight / spec.temperature, t, mle_w, eps_i, spec)
    return g if g_mle is None else g.add_(g_mle)


class _FromFeatures(torch.autograd.Function):
    @staticmethod
    def forward(ctx, features, weight, spec, need_grad):
        visit = _Rows(spec, features.size(0), weight.size(0), features.device)
        sums = torch.zeros(3, dtype=torch.float32, device=features.device)
        grad_features = grad_weight = None
        if need_grad:
            grad_features = torch.zeros_like(features)
            # accumulated over chunks in float32 (at least), also when the weights are fp16/bf16
            grad_weight = torch.zeros(weight.shape, dtype=torch.promote_types(weight.dtype, torch.float32),
                                      device=weight.device)
        for rows in visit.chunks:
            x = features.index_select(0, rows)
            g = _chunk_losses((x @ weight.t()).float(), rows, spec, visit, sums, need_grad)
            if need_grad:
                g = g.to(weight.dtype)
                grad_features.index_copy_(0, rows, g @ weight)
                if grad_weight.dtype == x.dtype:
                    grad_weight.addmm_(g.t(), x)
                else:
                    grad_weight += g.t() @ x
        ctx.grads = (grad_features, grad_weight)
        ctx.weight_dtype = weight.dtype
        ctx.mark_non_differentiable(sums)
        return spec.mle_weight * sums[0] + spec.pred_weight * sums[2], sums[0], sums[1], sums[2]

    @staticmethod
    def backward(ctx, grad_out, *unused):
        if ctx.grads is None or ctx.grads[0] is None:
            raise RuntimeError(_SECOND_BACKWARD)
        (grad_features, grad_weight), ctx.grads = ctx.grads, None
        scale = grad_out.float()
        grad_features.mul_(scale.to(grad_features.dtype))
        return grad_features, grad_weight.mul_(scale).to(ctx.weight_dtype), None, None


def _spec(target, teacher_chunk, row_mask, temperature, eps, pad, mle_weight, pred_weight) -> _Spec:
    if temperature <= 0:
        raise ValueError(f"soft_unlikelihood: temperature must be > 0, got {temperature}")
    if not mle_weight and not pred_weight:
        raise ValueError("output-layer losses: mle_weight and pred_weight are both 0, nothing to compute")
    return _Spec(target, teacher_chunk, row_mask, temperature, eps, pad, mle_weight, pred_weight)


def projected_output_layer_losses(features, weight, target, teacher_chunk, row_mask, temperature=1.0, eps=0.0,
                                  pad=-100, mle_weight=1.0, pred_weight=1.0):
    """mle_weight * label-smoothed NLL + pred_weight * soft unlikelihood of the logits
    ``features @ weight.T``, made a chunk at a time; differentiable in ``features`` and ``weight``.

    Args:
        features: N x C decoder features (fp32/fp16/bf16; losses computed in fp32).
        weight: V x C bias-free output projection.
        target: N target ids (used when mle_weight != 0; ``pad`` ids are ignored).
        teacher_chunk: row indices -> the teacher's logits of those rows (no gradient).
        row_mask: N bools, the rows the soft unlikelihood counts.
    Returns:
        (differentiable weighted sum, mle sum, nll sum, soft-unlikelihood sum), float32 scalars.
    """
    spec = _spec(target, teacher_chunk, row_mask, temperature, eps, pad, mle_weight, pred_weight)
    need_grad = torch.is_grad_enabled() and (features.requires_grad or weight.requires_grad)
    return _FromFeatures.apply(features, weight, spec, need_grad)
