"""``--criterion token_unlikelihood``: token-level unlikelihood training (Welleck et al.,
ICLR 2020), as in ``custom/candidate_penalty_ce_loss.py`` of
facebookresearch/unlikelihood_training: L = L_mle + alpha * L_UL with
L_UL = -sum_t sum_{c in C_t} log(1 - p(c | y_<t)) and C_t the previous tokens of the same
response other than y_t.

Two choices differ from that code, which trains language models on one flattened stream:
the candidates are the previous tokens of the same response only (not of the whole batch),
and log(1 - p) is computed exactly (``log1m_softmax``) instead of clamping 1 - p at 1e-5.
L_mle is fairseq's label-smoothed cross entropy (the reference has none: --label-smoothing 0).
"""
from dataclasses import dataclass, field

from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)

from ..baseline_losses import token_unlikelihood
from ..errors import ConfigError
from .mle_part import mle_part
from .term_metrics import log_loss_terms


@dataclass
class TokenUnlikelihoodConfig(LabelSmoothedCrossEntropyCriterionConfig):
    ul_alpha: float = field(
        default=1.0,
        metadata={"help": "weight alpha of the unlikelihood term (the reference's --rank-alpha; 1.0 there)"},
    )


@register_criterion("token_unlikelihood", dataclass=TokenUnlikelihoodConfig)
class TokenUnlikelihoodCriterion(LabelSmoothedCrossEntropyCriterion):
    def __init__(self, task, sentence_avg, label_smoothing, ignore_prefix_size=0, report_accuracy=False,
                 ul_alpha=1.0):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        if ul_alpha < 0:
            raise ConfigError(f"--ul-alpha must be >= 0, got {ul_alpha}")
        self.ul_alpha = ul_alpha

    def forward(self, model, sample, reduce=True):
        net_output, mle_loss, sample_size, logging_output = mle_part(self, model, sample)
        ul_loss = token_unlikelihood(net_output[0], model.get_targets(sample, net_output), self.padding_idx)
        loss = mle_loss + self.ul_alpha * ul_loss
        logging_output.update(loss=loss.data, loss_ul=ul_loss.data)
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        log_loss_terms(logging_outputs, ("loss_ul",))
