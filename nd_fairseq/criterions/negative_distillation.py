"""The negative-distillation loss (Li et al., NAACL 2022, Eq. 6-16).

    L = (1 - a) L_mle + a (w_pred L_pred + w_hid sum_l L_hid^l + w_att sum_l L_att^l)

per sample, where L_mle is fairseq's label-smoothed cross entropy (a sum over the response's
tokens), L_pred the soft unlikelihood against the negative teacher (Eq. 6, also a sum over
tokens) and L_hid^l, L_att^l the MRSE of decoder layer l's output hidden states and raw
self-attention scores (Eq. 8-12, each a mean over that sample's valid elements; with
``--nd-feature-norm token`` that mean times the response's length). The batch loss is the sum
of the per-sample losses; fairseq then divides it by ``sample_size`` (target tokens, or
sentences with --sentence-avg), so every term keeps the weight Eq. 13 gives it in one sample,
whatever the batch size. The formulas are the plain functions of ``nd_fairseq.losses``; the
output-layer pair runs through the fused accelerator when the model allows it.
"""
import logging
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
from fairseq.dataclass import ChoiceEnum
from fairseq.logging import metrics
from fairseq.models.transformer import TransformerDecoderBase
from torch import Tensor, nn

from ..errors import ConfigError
from ..losses import mean_alpha, mrse, one_hot_unlikelihood, progressive_alpha, soft_unlikelihood
from ..negative_responses import NegativeResponses
from ..teacher import DecoderShape, StudentError, TeacherError, TeacherOutput, TeacherOutputs
from .fused_output_layer import projected_output_layer_losses
from .term_metrics import log_loss_terms

__all__ = ["NegativeDistillationCriterion", "mrse", "progressive_alpha", "soft_unlikelihood"]

logger = logging.getLogger(__name__)


def schedule_summary(last_update: int, lam: float, gamma: float, beta: Optional[float] = None, fallen: float = 0.1):
    """(one line on where alpha's bump (Eq. 15-16) lies in a run ending at ``last_update``,
    whether it is a warning). The bump has fallen back once alpha is below ``fallen`` x its
    peak: alpha / peak = 1 / cosh(z / 2)^2, so from z = 2 acosh(fallen^-1/2) on."""
    beta = 6.0 / gamma if beta is None else beta
    peak, at_end = lam / 4.0, progressive_alpha(last_update, lam, gamma, beta)
    fallen_at = gamma + 2.0 * math.acosh(fallen ** -0.5) / beta
    where = (f"alpha peaks at {peak:.3g} at update {gamma:.0f} and is back below {fallen:.0%} of that from update "
             f"{fallen_at:.0f}; this run ends at update {last_update} with alpha {at_end:.3g}")
    if gamma > last_update:
        return (f"{where}: the peak lies beyond the run, alpha never exceeds {at_end:.3g} "
                "(set --nd-gamma within the run's updates unless this is intended)", True)
    if last_update < fallen_at:
        return f"{where}: the run ends before the bump has fallen back", True
    return where, False


def aligned_to(tokens: Tensor, length: int, pad: int) -> Tensor:
    """B x T_n token ids cut or pad-padded on the right to B x length: the negative response's
    token t faces the student's position t."""
    if tokens.size(1) >= length:
        return tokens[:, :length]
    return torch.nn.functional.pad(tokens, (0, length - tokens.size(1)), value=pad)


def parse_fixed_alpha(value) -> float:
    """--nd-fixed-alpha as a number in [0, 1] (its other value, 'mean', is handled by the caller)."""
    try:
        alpha = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--nd-fixed-alpha must be a number in [0, 1] or 'mean', got '{value}'") from None
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"--nd-fixed-alpha must be in [0, 1], got {value}")
    return alpha


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
    nd_fixed_alpha: Optional[str] = field(
        default=None,
        metadata={"help": "use a constant alpha instead of the progressive schedule: a number in [0, 1] (0 gives "
                  "exactly label_smoothed_cross_entropy), or 'mean', the mean of the schedule (--nd-lambda, "
                  "--nd-gamma, --nd-beta) over the run's planned updates (--max-update/--max-epoch), as the "
                  "paper's fixed-alpha ablation; the value is logged at the start"},
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
    nd_target: ChoiceEnum(["soft", "hard", "random"]) = field(
        default="soft",
        metadata={"help": "what L_pred pushes the student away from: 'soft', the teacher's softened distribution at "
                  "each position (Eq. 6-7); 'hard', the teacher's greedy response to the query as one-hot targets "
                  "(decoded once per training pair on the fly, then cached); 'random', a response of D_N drawn "
                  "at random for each pair (from --negative-data) as one-hot targets. The paper's Table 9; the "
                  "feature terms are the teacher's in all three"},
    )
    nd_feature_norm: ChoiceEnum(["sample", "token"]) = field(
        default="sample",
        metadata={"help": "weight of each layer's MRSE (L_hid^l, L_att^l) in a sample's loss: 'sample' counts it once "
                  "per response, as Eq. 13 is written; 'token' counts it once per target token, like L_mle and "
                  "L_pred (the mean times the response's length)"},
    )


@register_criterion("negative_distillation", dataclass=NegativeDistillationCriterionConfig)
class NegativeDistillationCriterion(LabelSmoothedCrossEntropyCriterion):
    """Label-smoothed MLE plus negative distillation from the frozen teacher of
    ``--task negative_distillation``, which puts the ``TeacherOutput`` this criterion asks
    for (``teacher_outputs_needed``) into ``sample["nd_teacher"]``."""

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
        nd_target="soft",
        nd_feature_norm="sample",
    ):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        for name, value in [
            ("--nd-pred-weight", nd_pred_weight),
            ("--nd-hid-weight", nd_hid_weight),
            ("--nd-att-weight", nd_att_weight),
        ]:
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")
        if not 0.0 <= nd_lambda <= 4.0:
            raise ConfigError(
                f"--nd-lambda must be in [0, 4] (the peak alpha is lambda/4; above 4 the MLE weight 1 - alpha turns "
                f"negative, below 0 the student is pulled toward the teacher), got {nd_lambda}"
            )
        if nd_beta is not None and nd_beta <= 0:
            raise ConfigError(f"--nd-beta must be > 0 (beta <= 0 gives no rise and fall), got {nd_beta}")
        if nd_temperature <= 0:
            raise ConfigError(f"--nd-temperature must be > 0, got {nd_temperature}")
        self.alpha_is_schedule_mean = str(nd_fixed_alpha) == "mean"
        if self.alpha_is_schedule_mean:
            nd_fixed_alpha = None  # known once the task says how long the run is (set_planned_updates)
        elif nd_fixed_alpha is not None:
            nd_fixed_alpha = parse_fixed_alpha(nd_fixed_alpha)
        if nd_gamma <= 0 and (nd_fixed_alpha is None or self.alpha_is_schedule_mean):
            raise ConfigError(f"--nd-gamma must be > 0, got {nd_gamma}")
        if ignore_prefix_size > 0:
            raise ConfigError("negative_distillation does not support --ignore-prefix-size")
        teacher_needed = nd_fixed_alpha != 0 and nd_lambda > 0 and any(
            w > 0 for w in (nd_pred_weight, nd_hid_weight, nd_att_weight))
        if teacher_needed and not hasattr(task, "attach_teacher_outputs"):
            # checked here, at start: otherwise training would fail only at its first update
            raise ConfigError(
                f"--criterion negative_distillation needs --task negative_distillation, which supplies the "
                f"teacher's outputs (got --task {type(task).__name__})"
            )
        self.nd_lambda = nd_lambda
        self.nd_gamma = nd_gamma
        self.nd_beta = nd_beta
        self.nd_fixed_alpha = nd_fixed_alpha
        self.nd_temperature = nd_temperature
        self.weights = {"pred": nd_pred_weight, "hid": nd_hid_weight, "att": nd_att_weight}
        self.feature_norm = str(nd_feature_norm)
        self.target = str(nd_target)
        if self.target != "soft" and nd_pred_weight == 0:
            raise ConfigError(f"--nd-target {self.target} changes L_pred, which --nd-pred-weight 0 switches off")
        self.num_updates: Optional[int] = None  # None: no training run has set it (e.g. fairseq-validate)

    def set_num_updates(self, num_updates):
        """Called by the task with fairseq's update count, so alpha survives a resume."""
        self.num_updates = num_updates

    def set_planned_updates(self, last_update: int) -> None:
        """Told by the task at the start of a run: log where alpha's bump lies in it, and warn
        when the run ends before the peak or before the bump has fallen back; with
        ``--nd-fixed-alpha mean``, fix alpha to the schedule's mean over the run."""
        if self.alpha_is_schedule_mean:
            self.nd_fixed_alpha = mean_alpha(last_update, self.nd_lambda, self.nd_gamma, self.nd_beta)
            logger.info(f"--nd-fixed-alpha mean: alpha = {self.nd_fixed_alpha:.4f} throughout, the mean of the "
                        f"schedule (lambda {self.nd_lambda:g}, gamma {self.nd_gamma:g}) over updates "
                        f"0-{last_update - 1}")
        elif self.nd_fixed_alpha is None:
            message, warn = schedule_summary(last_update, self.nd_lambda, self.nd_gamma, self.nd_beta)
            (logger.warning if warn else logger.info)(message)

    def alpha(self) -> float:
        if self.nd_fixed_alpha is not None:
            return self.nd_fixed_alpha
        if self.alpha_is_schedule_mean and self.num_updates is not None:
            raise ConfigError("--nd-fixed-alpha mean needs the run's length: bound it with --max-update or --max-epoch")
        return progressive_alpha(self.num_updates or 0, self.nd_lambda, self.nd_gamma, self.nd_beta)

    def outside_training(self, model) -> bool:
        """A student evaluated outside a training run (fairseq-validate): the update, and so
        the scheduled alpha, is unknown."""
        return not model.training and self.num_updates is None and self.nd_fixed_alpha is None

    def active_terms(self):
        """The ND terms computed at the current update (none while alpha is 0)."""
        if self.alpha() == 0.0:
            return []
        return [name for name, weight in self.weights.items() if weight > 0]

    def teacher_outputs_needed(self) -> Optional[TeacherOutputs]:
        """What the task must compute with the teacher for this update (None: no teacher
        forward at all)."""
        terms = self.active_terms()
        if "hid" in terms or "att" in terms:
            return TeacherOutputs.FEATURES
        return TeacherOutputs.LOGITS if terms else None

    def negative_responses_needed(self) -> Optional[NegativeResponses]:
        """Whole negative responses the task must add to the teacher's outputs (None: soft targets)."""
        if self.target == "soft" or "pred" not in self.active_terms():
            return None
        return NegativeResponses(self.target)

    def check_pairing(self, teacher: DecoderShape, student: DecoderShape) -> None:
        """Fail before the first update if the student cannot return what the feature terms
        need, or the teacher's decoder cannot be paired with it layer by layer (only what
        the terms with a non-zero weight use matters)."""
        hid, att = self.weights["hid"] > 0, self.weights["att"] > 0
        if (hid or att) and not student.returns_nd_features:
            raise StudentError(
                "the student cannot return per-layer hidden states and attention scores for "
                "--nd-hid-weight/--nd-att-weight: train it with --arch transformer_nd, transformer_nd_small or "
                "transformer_nd_tiny (same parameters as fairseq's transformer)"
            )
        problems = []
        if (hid or att) and teacher.layers != student.layers:
            problems.append(f"decoder layers {teacher.layers} vs {student.layers}")
        if hid and teacher.embed_dim != student.embed_dim:
            problems.append(f"decoder embed dim {teacher.embed_dim} vs {student.embed_dim}")
        if att and teacher.heads != student.heads:
            problems.append(f"decoder attention heads {teacher.heads} vs {student.heads}")
        if problems:
            raise TeacherError(
                "the teacher cannot be paired with the student (" + "; ".join(problems) + " for teacher vs student): "
                "give the student the teacher's decoder sizes, or switch the term off with --nd-hid-weight 0 / "
                "--nd-att-weight 0"
            )

    def forward(self, model, sample, reduce=True):
        if not reduce:
            raise ValueError("negative_distillation computes per-sample terms; use reduce=True")
        alpha = self.alpha()
        terms = self.active_terms()
        teacher: Optional[TeacherOutput] = sample.get("nd_teacher")
        report_only = self.outside_training(model)
        if report_only:
            # loss = L_mle; the ND terms, when a teacher is given, are logged beside it unweighted
            alpha = 0.0
            terms = terms if teacher is not None else []
        elif terms and teacher is None:
            raise RuntimeError(
                "criterion negative_distillation needs the teacher's outputs: train with "
                "--task negative_distillation --teacher-path CHECKPOINT"
            )
        # the fused output layer (an accelerator of fairseq's LSCE + Eq. 6) where the model allows it
        # (it skips L_pred at weight 0, which report_only needs logged)
        projection = self.fused_projection(model) if "pred" in terms and self.target == "soft" and not report_only \
            else None
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
        if projection is not None:
            loss, mle_loss, nll_loss = self.fused_output_layer_terms(
                model, net_output, projection, sample, teacher, mle_weight, alpha * self.weights["pred"],
                logging_output
            )
        else:
            mle_loss, nll_loss = self.compute_loss(model, net_output, sample, reduce=True)
            loss = mle_weight * mle_loss if mle_weight != 1.0 else mle_loss
            if "pred" in terms:
                pred = self.pred_term(model, net_output, sample, teacher)
                logging_output["loss_pred"] = pred.data
                loss = loss + alpha * self.weights["pred"] * pred
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
            f"negative_distillation: the student's loss is NaN/inf on this batch (update {self.num_updates or 0}, "
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

    def fused_output_layer_terms(self, model, net_output, projection, sample, teacher, mle_weight, pred_weight,
                                 logging_output):
        """mle_weight * L_mle + pred_weight * L_pred in one pass over the output layer, the
        student's projection applied inside (``fused_output_layer.py``); returns (that sum,
        L_mle, nll). ``net_output`` holds the decoder's features."""
        teacher_out = teacher.decoder_out.reshape(-1, teacher.decoder_out.size(-1))
        target = model.get_targets(sample, net_output).reshape(-1)
        out = net_output[0].reshape(-1, net_output[0].size(-1))
        teacher_chunk = lambda rows: teacher.output_projection(teacher_out[rows])  # noqa: E731
        loss, mle_loss, nll_loss, pred = projected_output_layer_losses(
            out, projection, target, teacher_chunk, target.ne(self.padding_idx),
            temperature=self.nd_temperature, eps=self.eps, pad=self.padding_idx,
            mle_weight=mle_weight, pred_weight=pred_weight,
        )
        logging_output["loss_pred"] = pred.data
        return loss, mle_loss, nll_loss

    def pred_term(self, model, net_output, sample, teacher: TeacherOutput) -> Tensor:
        """L_pred (Eq. 6) from the student's own logits, by the plain formula: against the
        teacher's soft distributions, or (hard/random targets) one-hot against the negative
        response's token at the same position."""
        if getattr(model.decoder, "adaptive_softmax", None) is not None:
            raise ConfigError("--nd-pred-weight > 0 needs a plain output projection (no --adaptive-softmax-cutoff)")
        target = model.get_targets(sample, net_output)
        valid = target.ne(self.padding_idx)
        if self.target == "soft":
            teacher_logits = teacher.output_projection(teacher.decoder_out)
            return soft_unlikelihood(net_output[0], teacher_logits, valid, self.nd_temperature)
        negative = aligned_to(teacher.responses, target.size(1), self.padding_idx)
        return one_hot_unlikelihood(net_output[0], negative, valid & negative.ne(self.padding_idx),
                                    self.nd_temperature)

    def feature_terms(self, extra, teacher: TeacherOutput, terms, logging_output) -> Tensor:
        """w_hid sum_l L_hid^l + w_att sum_l L_att^l, each summed over the batch's samples
        (per sample: the MRSE mean, times the response's length with --nd-feature-norm token);
        logs each term (unweighted) as ``loss_<name>``."""
        tokens = extra["nd_token_mask"]
        per_sample_weight = tokens.sum(-1).float() if self.feature_norm == "token" else None
        pairs = []
        if "hid" in terms:
            pairs.append(("hid", extra["nd_hidden"], teacher.hidden, tokens.unsqueeze(-1)))
        if "att" in terms:
            pairs.append(("att", extra["nd_attn_logits"], teacher.attn_logits, extra["nd_attn_mask"]))
        total = 0.0
        for name, student, negative, mask in pairs:
            means = sum(mrse(s, t, mask, per_sample=True) for s, t in zip(student, negative))  # B
            value = (means if per_sample_weight is None else means * per_sample_weight).sum()
            logging_output[f"loss_{name}"] = value.data
            total = total + self.weights[name] * value
        return total

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        if sample_size > 0:
            alpha = sum(log.get("alpha_x_sample_size", 0) for log in logging_outputs)
            metrics.log_scalar("alpha", alpha / sample_size, sample_size, round=4)
        # Same units as fairseq's `loss` (per sample_size, in bits), so that
        # loss = (1 - alpha) loss_mle + alpha (w_pred loss_pred + w_hid loss_hid + w_att loss_att).
        log_loss_terms(logging_outputs, ("loss_mle", "loss_pred", "loss_hid", "loss_att"))
