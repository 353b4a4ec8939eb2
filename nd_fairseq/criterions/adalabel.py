"""``--criterion adalabel``: adaptive label smoothing (Wang et al., ACL 2021), the AdaLabel
baseline of the paper's Table 3, as the authors' ``AdaLabLossCompute``/``AdaLabLoss``
(lemon234071/AdaLabel ``onmt/utils/loss.py``, commit b00f4e4, run with ``-adalab -bidecoder -ada_temp 1.5``).

At every target position the gold one-hot is smoothed towards v, the auxiliary decoder's
softmax at ``--adalabel-temperature`` over the tokens ranked 2..``--adalabel-last-rank`` (gold
and padding left out), with the weight eps = (p_y / p_max)^2 min(1 - p_max, 1 / (1 + max v) -
``--adalabel-margin``) from the model's own detached distribution p. The loss is
sum_t KL(q_t || p_t) + the auxiliary decoder's cross entropy on the gold tokens, per token as
fairseq's losses. Both v and eps are detached, as the reference's. It needs
``--arch transformer_adalabel*``, whose auxiliary decoder generation never runs.

Where we follow the reference: v over ranks 2..500 with gold and padding out, eps and its
detached inputs, KL(q || p) plus the auxiliary cross entropy, no label smoothing; the auxiliary
decoder's mask (query t cannot see key t + 1) and its shared embeddings. Where we differ, and why:
- the auxiliary layer is a fairseq decoder layer (post-norm unless --decoder-normalize-before)
  with fairseq's output projection (no bias; tied when the decoder's is); the reference's is one
  pre-norm layer with its own biased generator: the model's conventions, a minor difference;
- losses per token, as fairseq's; the reference normalises per sentence (OpenNMT's default);
- the reference validates with plain NLL; here validation reports the same loss as training
  (``nll_loss`` is logged as well) so that fairseq's best-checkpoint rule compares like with like;
- ND's shared architecture and optimiser instead of the reference's (FFN 512, lr 1e-4), as the ND
  paper trains every baseline ("the same architecture and hyper-parameters as ours").
"""
from dataclasses import dataclass, field

import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics
from omegaconf import II

from ..baseline_losses import adalabel_epsilon, adalabel_loss, adalabel_smoothing_distribution
from ..errors import ConfigError
from .term_metrics import log_loss_terms


@dataclass
class AdaLabelConfig(FairseqDataclass):
    adalabel_temperature: float = field(
        default=1.5, metadata={"help": "temperature of the auxiliary decoder's softmax that gives v (the reference's "
                                       "DailyDialog script: 1.5)"})
    adalabel_last_rank: int = field(
        default=500, metadata={"help": "v keeps the auxiliary decoder's tokens ranked 2 to this (the reference: 500)"})
    adalabel_margin: float = field(
        default=0.2, metadata={"help": "eps is at most 1 / (1 + max v) minus this margin (the reference: 0.2)"})
    sentence_avg: bool = II("optimization.sentence_avg")


@register_criterion("adalabel", dataclass=AdaLabelConfig)
class AdaLabelCriterion(FairseqCriterion):
    def __init__(self, task, adalabel_temperature=1.5, adalabel_last_rank=500, adalabel_margin=0.2,
                 sentence_avg=False):
        super().__init__(task)
        if adalabel_temperature <= 0 or adalabel_last_rank < 2 or not 0 <= adalabel_margin < 0.5:
            raise ConfigError("--adalabel-temperature must be > 0, --adalabel-last-rank >= 2 and "
                              "--adalabel-margin in [0, 0.5)")
        self.temperature = adalabel_temperature
        self.last_rank = adalabel_last_rank
        self.margin = adalabel_margin
        self.sentence_avg = sentence_avg

    def forward(self, model, sample, reduce=True):
        if not hasattr(model, "bidecoder"):
            raise ConfigError("--criterion adalabel needs --arch transformer_adalabel (or transformer_adalabel_tiny): "
                              "its auxiliary decoder gives the smoothing distribution")
        net_output = model(**sample["net_input"], return_bidecoder=True)
        target = model.get_targets(sample, net_output)
        mask = target.ne(self.padding_idx)
        gold = target[mask]
        lprobs = model.get_normalized_probs(net_output, log_probs=True)[mask]
        scores = net_output[1]["bidecoder_logits"][mask].float()
        v_probs, v_index = adalabel_smoothing_distribution(scores.detach(), gold, self.padding_idx,
                                                           self.temperature, self.last_rank)
        epsilon = adalabel_epsilon(lprobs, gold, v_probs[:, 0], self.margin)
        smoothed = adalabel_loss(lprobs, gold, epsilon, v_probs, v_index)
        auxiliary = F.cross_entropy(scores, gold, reduction="sum")
        loss = smoothed + auxiliary
        sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data, "nll_loss": F.nll_loss(lprobs, gold, reduction="sum").data,
            "loss_adalabel": smoothed.data, "loss_bidecoder": auxiliary.data, "epsilon": epsilon.sum().data,
            "ntokens": sample["ntokens"], "nsentences": sample["target"].size(0), "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        LabelSmoothedCrossEntropyCriterion.reduce_metrics(logging_outputs)
        log_loss_terms(logging_outputs, ["loss_adalabel", "loss_bidecoder"])
        tokens = sum(log.get("ntokens", 0) for log in logging_outputs)
        if tokens > 0:
            metrics.log_scalar("epsilon", sum(log.get("epsilon", 0) for log in logging_outputs) / tokens, tokens,
                               round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
