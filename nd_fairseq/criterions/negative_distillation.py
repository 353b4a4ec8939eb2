"""The negative-distillation loss (Li et al., NAACL 2022, Eq. 6-16).

    L = (1 - a) L_mle + a (w_pred L_pred + w_hid sum_l L_hid^l + w_att sum_l L_att^l)

per sample, where L_mle is fairseq's label-smoothed cross entropy (a sum over the response's
tokens), L_pred the soft unlikelihood against the negative teacher (Eq. 6, also a sum over
tokens) and L_hid^l, L_att^l the MRSE of decoder layer l's output hidden states and raw
self-attention scores (Eq. 8-12, each a mean over that sample's valid elements). The batch
loss is the sum of the per-sample losses; fairseq then divides it by ``sample_size`` (target
tokens, or sentences with --sentence-avg), so every term keeps the weight Eq. 13 gives it in
one sample, whatever the batch size.
"""
import math
from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq import utils
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)
from fairseq.logging import metrics
from fairseq.models.transformer import TransformerDecoderBase
from torch import Tensor, nn

from .output_layer import output_layer_losses, projected_output_layer_losses


def progressive_alpha(step, lam: float = 4.0, gamma: float = 25600.0, beta: Optional[float] = None) -> float:
    """Eq. 15-16: a = lam * e^-z / (e^-z + 1)^2 with z = beta * (step - gamma).

    ``beta`` defaults to 6 / gamma (the paper's setting). The peak, at step = gamma, is lam / 4.
    Written as lam * s(z) * s(-z) with s the logistic function, evaluated through |z| (the
    function is even) so that no exp overflows.
    """
    if beta is None:
        beta = 6.0 / gamma
    e = math.exp(-abs(beta * (float(step) - gamma)))
    return lam * e / (1.0 + e) ** 2


def soft_unlikelihood(student_logits: Tensor, teacher_logits: Tensor, mask: Tensor, temperature: float = 1.0) -> Tensor:
    """Eq. 6-7: -sum over valid positions of sum_k p_N(k) log(1 - p_S(k)).

    Args:
        student_logits: (..., V) pre-softmax scores of the student.
        teacher_logits: (..., V) pre-softmax scores of the negative teacher (no gradient).
        mask: bool, the leading shape (...) of the logits; True at positions that count.
        temperature: t of Eq. 7, applied to both distributions.
    Returns:
        A float32 scalar; finite for any finite logits, also in fp16/bf16 input.
    """
    vocab = student_logits.size(-1)
    teacher = teacher_logits.detach().reshape(-1, vocab)
    value, _, _, _ = output_layer_losses(
        student_logits.reshape(-1, vocab), None, lambda rows: teacher[rows], mask.reshape(-1),
        temperature, mle_weight=0.0,
    )
    return value


class _MaskedRSESum(torch.autograd.Function):
    """Per-sample sum of exp(-(a - b)^2) over masked elements, a and b of shape B x ...

    An autograd Function so that backward keeps only a and b (which exist anyway), not the
    three full-size temporaries autograd would save per layer. Differences are taken with
    ``torch.where``, so masked-out entries (even inf or nan) never reach the value or the
    gradient.
    """

    @staticmethod
    def _masked_diff(a, b, mask):
        return torch.where(mask, a.float() - b.float(), torch.zeros((), device=a.device))

    @staticmethod
    def forward(ctx, a, b, mask):
        ctx.save_for_backward(a, b, mask)
        e = torch.exp(-_MaskedRSESum._masked_diff(a, b, mask).pow(2)) * mask
        return e.reshape(e.size(0), -1).sum(-1)

    @staticmethod
    def backward(ctx, grad_out):
        a, b, mask = ctx.saved_tensors
        d = _MaskedRSESum._masked_diff(a, b, mask)
        g = -2.0 * d * torch.exp(-d.pow(2)) * mask
        g = g * grad_out.float().reshape((-1,) + (1,) * (g.dim() - 1))
        grad_a = g.to(a.dtype) if ctx.needs_input_grad[0] else None
        grad_b = (-g).to(b.dtype) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b, None


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
    sums = _MaskedRSESum.apply(a, b, mask)
    counts = mask.reshape(mask.size(0), -1).sum(-1)
    means = sums / counts.clamp(min=1)
    return means if per_sample else means[0]


@dataclass
class NegativeDistillationCriterionConfig(LabelSmoothedCrossEntropyCriterionConfig):
    label_smoothing: float = field(
        default=0.1,
        metadata={"help": "epsilon for label smoothing of L_mle (the paper uses 0.1)"},
    )
    nd_lambda: float = field(
        default=4.0,
        metadata={"help": "lambda of the progressive alpha (Eq. 15); the peak alpha is lambda/4"},
    )
    nd_gamma: float = field(
        default=25600.0,
        metadata={"help": "gamma of Eq. 16: the update at which alpha peaks"},
    )
    nd_beta: Optional[float] = field(
        default=None,
        metadata={"help": "beta of Eq. 16 (width of the alpha bump); default 6/gamma"},
    )
    nd_fixed_alpha: Optional[float] = field(
        default=None,
        metadata={"help": "use this constant alpha instead of the progressive schedule (0 gives "
                  "exactly label_smoothed_cross_entropy)"},
    )
    nd_temperature: float = field(
        default=1.0,
        metadata={"help": "temperature t of Eq. 7 for both the teacher's and the student's softmax"},
    )
    nd_pred_weight: float = field(
        default=1.0,
        metadata={"help": "weight of the soft unlikelihood L_pred (0 switches it off)"},
    )
    nd_hid_weight: float = field(
        default=1.0,
        metadata={"help": "weight of the hidden-state MRSE sum_l L_hid^l (0 switches it off)"},
    )
    nd_att_weight: float = field(
        default=1.0,
        metadata={"help": "weight of the attention-score MRSE sum_l L_att^l (0 switches it off)"},
    )


@register_criterion("negative_distillation", dataclass=NegativeDistillationCriterionConfig)
class NegativeDistillationCriterion(LabelSmoothedCrossEntropyCriterion):
    """Label-smoothed MLE plus negative distillation from the frozen teacher of
    ``--task negative_distillation`` (which puts the teacher's outputs into
    ``sample["nd_teacher"]``)."""

    def __init__(
        self,
        task,
        sentence_avg,
        label_smoothing,
        ignore_prefix_size=0,
        report_accuracy=False,
        nd_lambda=4.0,
        nd_gamma=25600.0,
        nd_beta=None,
        nd_fixed_alpha=None,
        nd_temperature=1.0,
        nd_pred_weight=1.0,
        nd_hid_weight=1.0,
        nd_att_weight=1.0,
    ):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        for name, value in [
            ("--nd-pred-weight", nd_pred_weight),
            ("--nd-hid-weight", nd_hid_weight),
            ("--nd-att-weight", nd_att_weight),
        ]:
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if nd_temperature <= 0:
            raise ValueError(f"--nd-temperature must be > 0, got {nd_temperature}")
        if nd_gamma <= 0 and nd_fixed_alpha is None:
            raise ValueError(f"--nd-gamma must be > 0, got {nd_gamma}")
        if nd_fixed_alpha is not None and not 0.0 <= nd_fixed_alpha <= 1.0:
            raise ValueError(f"--nd-fixed-alpha must be in [0, 1], got {nd_fixed_alpha}")
        if ignore_prefix_size > 0:
            raise ValueError("negative_distillation does not support --ignore-prefix-size")
        self.nd_lambda = nd_lambda
        self.nd_gamma = nd_gamma
        self.nd_beta = nd_beta
        self.nd_fixed_alpha = nd_fixed_alpha
        self.nd_temperature = nd_temperature
        self.weights = {"pred": nd_pred_weight, "hid": nd_hid_weight, "att": nd_att_weight}
        self.num_updates = 0

    def set_num_updates(self, num_updates):
        """Called by the task with fairseq's update count, so alpha survives a resume."""
        self.num_updates = num_updates

    def alpha(self) -> float:
        if self.nd_fixed_alpha is not None:
            return self.nd_fixed_alpha
        return progressive_alpha(self.num_updates, self.nd_lambda, self.nd_gamma, self.nd_beta)

    def active_terms(self):
        """The ND terms computed at the current update (none while alpha is 0)."""
        if self.alpha() == 0.0:
            return []
        return [name for name, weight in self.weights.items() if weight > 0]

    def teacher_outputs_needed(self):
        """What the task must compute with the teacher for this update: None (no teacher
        forward at all), "logits", or "features" (logits plus per-layer features)."""
        terms = self.active_terms()
        if "hid" in terms or "att" in terms:
            return "features"
        return "logits" if terms else None

    def forward(self, model, sample, reduce=True):
        if not reduce:
            raise ValueError("negative_distillation computes per-sample terms; use reduce=True")
        alpha = self.alpha()
        terms = self.active_terms()
        teacher = sample.get("nd_teacher")
        if terms and teacher is None:
            raise RuntimeError(
                "criterion negative_distillation needs the teacher's outputs: train with "
                "--task negative_distillation --teacher-path CHECKPOINT"
            )
        projection = self.fused_projection(model) if "pred" in terms else None
        extra_outputs = {}
        if "hid" in terms or "att" in terms:
            extra_outputs["return_nd_features"] = True
        if projection is not None:
            extra_outputs["features_only"] = True  # the logits are made inside the output-layer losses
        net_output = model(**sample["net_input"], **extra_outputs)
        sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "ntokens": sample["ntokens"],
            "nsentences": sample["target"].size(0),
            "sample_size": sample_size,
            # alpha weighted by sample_size so that it stays correct when fairseq sums
            # logging outputs over workers and gradient-accumulation steps
            "alpha_x_sample_size": alpha * sample_size,
        }
        mle_weight = 1.0 - alpha if alpha != 0.0 else 1.0
        if "pred" in terms:
            loss, mle_loss, nll_loss = self.output_layer_terms(
                model, net_output, projection, sample, teacher, mle_weight, alpha * self.weights["pred"],
                logging_output
            )
        else:
            mle_loss, nll_loss = self.compute_loss(model, net_output, sample, reduce=True)
            loss = mle_weight * mle_loss if mle_weight != 1.0 else mle_loss
        if "hid" in terms or "att" in terms:
            loss = loss + alpha * self.feature_terms(net_output[1], teacher, terms, logging_output)
        logging_output.update(loss=loss.data, nll_loss=nll_loss.data, loss_mle=mle_loss.data)
        if not torch.isfinite(loss):
            raise FloatingPointError(self.non_finite_message(logging_output))
        if self.report_accuracy:
            n_correct, total = self.compute_accuracy(model, net_output, sample)
            logging_output["n_correct"] = utils.item(n_correct.data)
            logging_output["total"] = utils.item(total.data)
        return loss, sample_size, logging_output

    def non_finite_message(self, logging_output) -> str:
        """One line for a NaN/inf loss. Raised here, in the forward pass, because fairseq's own
        check comes after the backward pass and its NaN-detector rerun fails under torch >= 2.x
        on the transformer's dict outputs (a StopIteration that hides the cause)."""
        terms = ", ".join(
            f"{key}={float(logging_output[key]):.4g}"
            for key in ("loss_mle", "loss_pred", "loss_hid", "loss_att") if key in logging_output
        )
        return (
            f"negative_distillation: the student's loss is NaN/inf on this batch (update {self.num_updates}, "
            f"alpha={self.alpha():.4g}; batch sums {terms}): its outputs are not finite, so its weights have diverged "
            "or the checkpoint it started from holds NaN/inf (try a lower --lr or --clip-norm)"
        )

    def fused_projection(self, model) -> Optional[Tensor]:
        """The weight of the student's output projection when the output-layer losses can
        apply it themselves, chunk by chunk and only to non-padding rows (a bias-free linear
        layer, as in fairseq's transformers); None where the model's own logits are needed."""
        decoder = model.decoder
        projection = getattr(decoder, "output_projection", None)
        if (
            self.report_accuracy  # needs the logits
            or getattr(decoder, "adaptive_softmax", None) is not None
            or type(decoder).output_layer is not TransformerDecoderBase.output_layer
            or not isinstance(projection, nn.Linear)
            or projection.bias is not None
        ):
            return None
        return projection.weight

    def output_layer_terms(self, model, net_output, projection, sample, teacher, mle_weight, pred_weight,
                           logging_output):
        """mle_weight * L_mle + pred_weight * L_pred in one pass over the output layer (see
        ``output_layer.py``); returns (that sum, L_mle, nll). ``net_output`` holds the decoder's
        features when ``projection`` (its output weight) is given, else the logits."""
        if getattr(model.decoder, "adaptive_softmax", None) is not None:
            raise ValueError("--nd-pred-weight > 0 needs a plain output projection (no --adaptive-softmax-cutoff)")
        teacher_features = teacher["features"].reshape(-1, teacher["features"].size(-1))
        target = model.get_targets(sample, net_output).reshape(-1)
        options = dict(
            temperature=self.nd_temperature, eps=self.eps, pad=self.padding_idx,
            mle_weight=mle_weight, pred_weight=pred_weight,
        )
        teacher_chunk = lambda rows: teacher["output_layer"](teacher_features[rows])  # noqa: E731
        out = net_output[0].reshape(-1, net_output[0].size(-1))
        mask = target.ne(self.padding_idx)
        if projection is not None:
            loss, mle_loss, nll_loss, pred = projected_output_layer_losses(
                out, projection, target, teacher_chunk, mask, **options
            )
        else:
            loss, mle_loss, nll_loss, pred = output_layer_losses(out, target, teacher_chunk, mask, **options)
        logging_output["loss_pred"] = pred.data
        return loss, mle_loss, nll_loss

    def feature_terms(self, extra, teacher, terms, logging_output) -> Tensor:
        """w_hid sum_l L_hid^l + w_att sum_l L_att^l, each summed over the batch's samples;
        logs each term (unweighted) as ``loss_<name>``."""
        total = 0.0
        if "hid" in terms:
            mask = extra["nd_token_mask"].unsqueeze(-1)
            value = sum(
                mrse(s, t, mask, per_sample=True).sum()
                for s, t in zip(extra["nd_hidden"], teacher["nd_hidden"])
            )
            logging_output["loss_hid"] = value.data
            total = total + self.weights["hid"] * value
        if "att" in terms:
            mask = extra["nd_attn_mask"]
            value = sum(
                mrse(s, t, mask, per_sample=True).sum()
                for s, t in zip(extra["nd_attn_logits"], teacher["nd_attn_logits"])
            )
            logging_output["loss_att"] = value.data
            total = total + self.weights["att"] * value
        return total

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        if sample_size > 0:
            alpha = sum(log.get("alpha_x_sample_size", 0) for log in logging_outputs)
            metrics.log_scalar("alpha", alpha / sample_size, sample_size, round=4)
        # Same units as fairseq's `loss` (per sample_size, divided by ln 2), so that
        # loss = (1 - alpha) loss_mle + alpha (w_pred loss_pred + w_hid loss_hid + w_att loss_att).
        for key in ("loss_mle", "loss_pred", "loss_hid", "loss_att"):
            logs = [log for log in logging_outputs if key in log]
            size = sum(log.get("sample_size", 0) for log in logs)
            if size > 0:
                value = sum(log[key] for log in logs)
                metrics.log_scalar(key, value / size / math.log(2), size, round=4)
