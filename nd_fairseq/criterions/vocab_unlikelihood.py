"""``--criterion vocab_unlikelihood``: vocabulary-level unlikelihood (Li et al., ACL 2020,
"Don't Say That!"), the UL baseline of the paper's Table 3, after ParlAI's
``SequenceVocabUnlikelihoodAgentTrait`` (facebookresearch/ParlAI ``projects/dialogue_unlikelihood/agents.py``,
commit 00286c5).

At every training step the model decodes the batch's queries greedily; its tokens and the
human responses' tokens are counted. Once ``--ul-queue-size`` batches have been counted, the
tokens the model over-produces (``over_production_weights``: generated share minus human share
at least ``--ul-threshold``, weighted by ``--ul-weighting``) get the unlikelihood
-w(y) log(1 - p(y)) at every place they occur in the model's own generation, teacher-forced on
it; its mean over those places is added with weight ``--ul-alpha`` to the per-token L_mle:
L = L_mle + alpha * L_UL (per token, as the reference's means).

The weight beta(y_c): the paper (Li et al. 2020, section 3.3, vocabulary usage) weights an
over-produced token by beta(y_c) = p_model(y_c) log(p_model(y_c) / p_*(y_c)), its term of the KL
divergence between the model's and the humans' token distributions; ParlAI implements it as
``--weighting kldiv``, whose code default is ``uniform`` (beta = 1), beside ``logdiff``. Our
default is the paper's, ``kldiv``. The ND paper's alpha = 1000, picked from 1, 10, 100, 1000, is
a grid sized for that small KL weight: for EOS under our Standard (p_gen ~ 0.110, p_hum ~ 0.071)
alpha * beta is ~48 with kldiv, 1,000 with uniform and ~3,660 with logdiff, which made UL ~10^3
times the MLE term and twice stopped our refinement from ending its responses (RESULTS.md).
The ND paper does not say which beta its alpha belongs to; the Don't Say That paper's released
vocabulary-UL models span the same alphas (1e0 to 1e3) with its own beta, so we read it as kldiv.
Thresholds as ParlAI's: uniform and logdiff penalise p_gen - p_hum >= --ul-threshold; kldiv
penalises p_gen > p_hum with beta > --ul-threshold (strictly).

Where we differ from the reference (ParlAI ``projects/dialogue_unlikelihood/agents.py``):
generation in eval mode (ParlAI's ``_generate`` keeps dropout on in training); the counts are
never reset (ParlAI resets them at every train/eval switch: our refinement validates only at its
end); exact log(1 - p) instead of a clamp at 1e-20; L_mle with label smoothing 0.1 (ND's shared
settings) where ParlAI has none.

As the reference in training mode, the counts cover every batch since the start of the run
(its queue is only trimmed in evaluation). They are weighted with the counts of the previous
updates (the reference adds the current batch first), summed over DDP workers, saved in
checkpoints and restored on resume (``update_counts.py``). Validation reports L_mle only.
The paper refines a trained Standard model with alpha = 1000 (``--restore-file ... --reset-optimizer``).
"""
from dataclasses import dataclass, field

import torch
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)
from fairseq.dataclass import ChoiceEnum

from ..baseline_losses import over_production_weights, vocab_unlikelihood
from ..errors import ConfigError
from ..greedy import forced_forward, greedy_responses
from .mle_part import mle_part
from .term_metrics import log_counts, log_loss_terms
from .update_counts import CountsStateMixin, UpdateCounts


@dataclass
class VocabUnlikelihoodConfig(LabelSmoothedCrossEntropyCriterionConfig):
    ul_alpha: float = field(default=1.0, metadata={"help": "weight alpha of the unlikelihood term (the paper: 1000)"})
    ul_weighting: ChoiceEnum(["kldiv", "uniform", "logdiff"]) = field(
        default="kldiv",
        metadata={"help": "beta, the weight of an over-produced token: p_gen log(p_gen / p_hum) ('kldiv', the paper's "
                  "beta), 1 ('uniform', ParlAI's default) or log((p_gen - p_hum) / 0.001) ('logdiff')"},
    )
    ul_threshold: float = field(
        default=1e-3, metadata={"help": "a token is over-produced when p_gen - p_hum reaches this (uniform, logdiff) "
                                "or its kldiv weight exceeds it"})
    ul_queue_size: int = field(
        default=32,
        metadata={"help": "batches counted before the unlikelihood term starts (the reference's queue size)"},
    )
    ul_max_len_b: int = field(default=50, metadata={"help": "the longest generation in tokens (greedy decoding)"})


@register_criterion("vocab_unlikelihood", dataclass=VocabUnlikelihoodConfig)
class VocabUnlikelihoodCriterion(CountsStateMixin, LabelSmoothedCrossEntropyCriterion):
    def __init__(self, task, sentence_avg, label_smoothing, ignore_prefix_size=0, report_accuracy=False,
                 ul_alpha=1.0, ul_weighting="kldiv", ul_threshold=1e-3, ul_queue_size=32, ul_max_len_b=50):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        if ul_alpha < 0 or ul_queue_size < 0 or ul_max_len_b < 1:
            raise ConfigError("--ul-alpha and --ul-queue-size must be >= 0 and --ul-max-len-b >= 1")
        self.alpha, self.weighting, self.threshold = ul_alpha, str(ul_weighting), ul_threshold
        self.queue_size, self.max_len_b = ul_queue_size, ul_max_len_b
        self.tgt_dict = task.target_dictionary
        self.vocab = len(self.tgt_dict)
        # generated counts, human counts, batches counted
        self.counts = UpdateCounts(2 * self.vocab + 1)

    def batch_counts(self, generated, target):
        """This batch's generated and human token counts, and 1 for the batch."""
        counts = torch.zeros(2 * self.vocab + 1, dtype=torch.float64, device=target.device)
        for offset, tokens in ((0, generated), (self.vocab, target)):
            tokens = tokens[tokens.ne(self.padding_idx)]
            counts.index_add_(0, tokens + offset, torch.ones_like(tokens, dtype=torch.float64))
        counts[-1] = 1
        return counts

    def forward(self, model, sample, reduce=True):
        _, mle_loss, sample_size, logging_output = mle_part(self, model, sample)
        loss = mle_loss
        if model.training:
            generated = greedy_responses(model, sample["net_input"], self.tgt_dict, self.max_len_b)
            generated = generated.to(sample["target"].device)
            total = self.counts.total.to(generated.device)
            self.counts.add(self.batch_counts(generated, sample["target"]))
            logging_output["generated_tokens"] = int(generated.ne(self.padding_idx).sum())
            if total[-1] >= self.queue_size:
                weights = over_production_weights(total[:self.vocab], total[self.vocab:-1], self.weighting,
                                                  self.threshold)
                forced = forced_forward(model, sample["net_input"], generated, self.tgt_dict)
                ul_sum, penalised = vocab_unlikelihood(forced[0], generated, weights, generated.ne(self.padding_idx))
                ul_mean = ul_sum / penalised.clamp(min=1)
                # L_mle is a sum that fairseq divides by sample_size; the UL mean joins it per token
                loss = mle_loss + self.alpha * ul_mean * sample_size
                logging_output.update(loss_ul=(ul_mean * sample_size).data, penalised_tokens=int(penalised))
        logging_output["loss"] = loss.data
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        log_loss_terms(logging_outputs, ("loss_ul",))  # the mean UL per penalised token, weighted as L_mle
        log_counts(logging_outputs, ("generated_tokens", "penalised_tokens"))
