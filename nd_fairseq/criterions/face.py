"""``--criterion face``: frequency-aware cross entropy (Jiang et al., WWW 2019), the FACE
baseline of the paper's Table 3, as in the authors' ``face/face.py``.

The loss is sum_t w_t * (-log p(y_t)) (no label smoothing, as the reference). Token counts f
come from the model's own arg-max predictions under teacher forcing (``--face-frequency out``,
the paper's variant) or from the gold responses (``gt``); each response is cut after its first
EOS, and the EOS itself is not counted, as in the reference (ShaojieJiang/FACE, commit af82a46
"End token bug fixed": ``update_frequency`` skips ``END_IDX``, "do not suppress END token"), so
EOS keeps the largest weight and the model keeps learning to stop. ``--face-count-eos`` counts
it too (not the reference's: EOS is then the most frequent prediction, its weight falls to 0,
and on DailyDialog most greedy responses run to the length limit).
Pre-weights (the paper's variant): w_t = w[y_t] with RF = f / sum f, w_c = 1 - RF_c / max RF
renormalised to sum |V|; post-weights: w_t = 1 + relu(f(pred_t) - f(y_t)) / sum f.

The counts grow over the whole run, as the reference's (its decay line is commented out).
Where we follow the reference and where we differ (reference: ShaojieJiang/FACE, ``face/face.py``,
commit af82a46):
- loss, weights (RF = f / sum f, w = 1 - RF / max RF, sum w = |V|), what is counted (arg-max under
  teacher forcing, cut after END, END not counted), no label smoothing: as the reference;
- positions: we count non-pad positions only; the reference also counts predictions at padded
  label positions of responses with no predicted END (a negligible difference);
- when the counts update: differs, see below.
One choice differs from the reference: an update is
weighted with the counts of all *previous* updates (the reference adds the current batch
first), so that --update-freq and DDP workers give the same weights as one process on the
same global batch (``update_counts.py``). The counts are saved in checkpoints through the
task's state and restored on resume (``tasks/criterion_state.py``).
"""
from dataclasses import dataclass, field

import torch
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from omegaconf import II

from ..baseline_losses import face_post_weights, face_pre_weights, response_token_counts, weighted_nll
from .update_counts import CountsStateMixin, UpdateCounts


@dataclass
class FaceConfig(FairseqDataclass):
    face_frequency: ChoiceEnum(["out", "gt"]) = field(
        default="out",
        metadata={"help": "whose tokens are counted: 'out', the model's arg-max predictions under teacher forcing "
                  "(the paper's FACE), or 'gt', the gold responses"},
    )
    face_weighting: ChoiceEnum(["pre", "post"]) = field(
        default="pre",
        metadata={"help": "'pre': weight each gold token's cross entropy by 1 - its relative frequency / the "
                  "largest (renormalised to mean 1; the paper's FACE); 'post': by 1 + how much more often the "
                  "predicted token has been counted than the gold one, over all counts"},
    )
    face_count_eos: bool = field(
        default=False,
        metadata={"help": "count the EOS that ends a response too. Not the reference's (its update_frequency skips "
                  "END so that stopping is never suppressed): EOS becomes the most counted token and its weight 0"},
    )
    sentence_avg: bool = II("optimization.sentence_avg")


@register_criterion("face", dataclass=FaceConfig)
class FaceCriterion(CountsStateMixin, FairseqCriterion):
    def __init__(self, task, face_frequency="out", face_weighting="pre", face_count_eos=False, sentence_avg=False):
        super().__init__(task)
        self.frequency = str(face_frequency)
        self.weighting = str(face_weighting)
        self.count_eos = face_count_eos
        self.sentence_avg = sentence_avg
        vocab = len(task.target_dictionary)
        self.eos = task.target_dictionary.eos()
        self.counts = UpdateCounts(vocab)

    def forward(self, model, sample, reduce=True):
        net_output = model(**sample["net_input"])
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        target = model.get_targets(sample, net_output)
        mask = target.ne(self.padding_idx)
        predicted = lprobs.argmax(-1)
        counts = self.counts.total.to(lprobs.device)
        if self.weighting == "pre":
            weights = face_pre_weights(counts)[target]
        else:
            weights = face_post_weights(counts, predicted, target)
        loss = weighted_nll(lprobs, target, weights, mask)
        if model.training:
            counted = predicted if self.frequency == "out" else target
            self.counts.add(response_token_counts(counted, mask, self.eos, counts.numel(), self.count_eos))
        nll_loss = weighted_nll(lprobs, target, torch.ones_like(weights), mask)
        sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data, "nll_loss": nll_loss.data, "ntokens": sample["ntokens"],
            "nsentences": sample["target"].size(0), "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        LabelSmoothedCrossEntropyCriterion.reduce_metrics(logging_outputs)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
