"""``--criterion negative_training``: negative training against frequent responses (He & Glass,
ACL 2020), the NT baseline of the paper's Table 3, after the authors'
``seq2seq/neg_freq_posttrain_seq2seq.py``.

At every training step the model decodes the batch's queries greedily. A response is negative
when its share of the last ``--nt-history-responses`` generated responses is above
``--nt-threshold`` (r_thres, strictly: the reference's ``r > R_THRES``); the negatives'
log-likelihood (EOS weighted ``--nt-eos-weight``) divided by the generated tokens is minimised
beside L_mle: L = lambda_pos * L_mle + L_neg, both per token.

The reference (cloudygoose/negativetraining_acl2020, ``seq2seq/neg_freq_posttrain_seq2seq.py``)
(commit 794e0fb) counts the samples of its last 200 mini-batches, the current one included
(``sample_mb_longhis``); the window is therefore measured in responses, not in our updates, whose
size depends on --max-tokens (~100-250 responses each on DailyDialog's cpu recipe). The default,
6,400, is the reference's configuration with the threshold the ND paper uses (r_thres = 1%, "as
the authors' suggestion"): its swda_dialogue setting, R_THRES = 0.01 with BATCH_SIZE = 32 (its
settings with 64 responses a batch use R_THRES = 0.001). Where we follow it: greedy
samples in eval mode, cut after EOS; whole-response strings counted; r > r_thres; the negative
log-likelihood per generated token with EOS weighted 0.1; nothing negative until the window is
full. Where we differ, and why:
- one update, not a negative SGD step with its own optimizer followed by a positive step on the
  next batch: fairseq's trainer takes one optimizer step per update, so the two terms are
  summed on the same batch and take one Adam step (to first order the sum of two equal-lr
  steps; the reference's post-training lr is ~1/1000 of its base lr, ours Standard's final lr);
- the window is judged before the update's own responses join it (the reference adds the
  current batch first), and an update's responses (all DDP workers' and micro-batches'
  together) join it at once, so that --update-freq and DDP give what one process gives on the
  same global batch;
- the reference empties its window at every epoch; ours runs on (the paper's refinement is one
  epoch, so the two agree there);
- samples are up to --nt-max-len-b (50) tokens long, the reference's 20.
The history is saved in checkpoints and restored on resume (``tasks/criterion_state.py``).
Validation reports L_mle only. The paper refines a trained Standard model with it.
"""
from collections import Counter, deque
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)
from fairseq.distributed import utils as distributed_utils

from ..baseline_losses import frequent_responses, negative_log_likelihood
from ..errors import ConfigError
from ..greedy import forced_forward, greedy_responses
from .mle_part import mle_part
from .term_metrics import log_counts, log_loss_terms


@dataclass
class NegativeTrainingConfig(LabelSmoothedCrossEntropyCriterionConfig):
    nt_history_responses: int = field(
        default=6400, metadata={"help": "how many of the last generated responses are counted (the window); the "
                                "reference's 200 mini-batches of 32, its setting for r_thres = 0.01"})
    nt_threshold: float = field(
        default=0.01, metadata={"help": "r_thres: a response whose share of the window is above it (strictly) is "
                                "negative"})
    nt_eos_weight: float = field(default=0.1, metadata={"help": "weight of EOS in a negative's log-likelihood"})
    nt_pos_weight: float = field(default=1.0, metadata={"help": "lambda_pos, the weight of L_mle"})
    nt_max_len_b: int = field(default=50, metadata={"help": "the longest generation in tokens (greedy decoding)"})


@register_criterion("negative_training", dataclass=NegativeTrainingConfig)
class NegativeTrainingCriterion(LabelSmoothedCrossEntropyCriterion):
    def __init__(self, task, sentence_avg, label_smoothing, ignore_prefix_size=0, report_accuracy=False,
                 nt_history_responses=6400, nt_threshold=0.01, nt_eos_weight=0.1, nt_pos_weight=1.0,
                 nt_max_len_b=50):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        if nt_history_responses < 1 or not 0 < nt_threshold < 1 or nt_max_len_b < 1:
            raise ConfigError("--nt-history-responses and --nt-max-len-b must be >= 1 and --nt-threshold in (0, 1)")
        self.history_size, self.threshold = nt_history_responses, nt_threshold
        self.eos_weight, self.pos_weight, self.max_len_b = nt_eos_weight, nt_pos_weight, nt_max_len_b
        self.tgt_dict = task.target_dictionary
        self.history = deque()  # the last generated responses (token tuples), oldest first
        self.counts = Counter()  # how often each is in the history
        self.pending = []  # this update's responses

    def end_of_update(self):
        """After the optimizer step, on every DDP worker: the update's responses (all workers')
        join the history, which keeps the last --nt-history-responses."""
        responses = self.pending
        world = distributed_utils.get_data_parallel_world_size() if dist.is_available() and dist.is_initialized() else 1
        if world > 1:
            # torch's object gather (fairseq's all_gather_list allocates a CUDA buffer, so no CPU runs)
            gathered = [None] * world
            dist.all_gather_object(gathered, responses, group=distributed_utils.get_data_parallel_group())
            responses = [r for part in gathered for r in part]
        self.history.extend(responses)
        self.counts.update(responses)
        while len(self.history) > self.history_size:
            oldest = self.history.popleft()
            self.counts[oldest] -= 1
            if not self.counts[oldest]:
                del self.counts[oldest]
        self.pending = []

    def training_state(self):
        return {"history_responses": [list(r) for r in self.history], "pending": [list(r) for r in self.pending]}

    def load_training_state(self, state):
        if "history_responses" not in state:
            raise ConfigError("this checkpoint's NT history counts updates (nd_fairseq before --nt-history-responses): "
                              "resume it with the version that wrote it, or start the refinement again")
        self.history = deque(tuple(r) for r in state["history_responses"])
        self.counts = Counter(self.history)
        self.pending = [tuple(r) for r in state["pending"]]

    def forward(self, model, sample, reduce=True):
        _, mle_loss, sample_size, logging_output = mle_part(self, model, sample)
        loss = self.pos_weight * mle_loss
        if model.training:
            generated = greedy_responses(model, sample["net_input"], self.tgt_dict, self.max_len_b)
            generated = generated.to(sample["target"].device)
            mask = generated.ne(self.padding_idx)
            responses = [tuple(row[keep].tolist()) for row, keep in zip(generated, mask)]
            self.pending.extend(responses)
            if len(self.history) >= self.history_size:
                negative = torch.tensor(frequent_responses(self.counts, responses, self.threshold),
                                        device=generated.device)
                logging_output["negative_responses"] = int(negative.sum())
                if negative.any():
                    forced = forced_forward(model, sample["net_input"], generated, self.tgt_dict)
                    lprobs = model.get_normalized_probs(forced, log_probs=True)
                    neg = negative_log_likelihood(lprobs, generated, negative, mask, self.tgt_dict.eos(),
                                                  self.eos_weight)
                    # per generated token, as the reference; fairseq divides the sum by sample_size
                    neg_per_token = neg / mask.sum()
                    loss = loss + neg_per_token * sample_size
                    logging_output["loss_neg"] = (neg_per_token * sample_size).data
        logging_output["loss"] = loss.data
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        log_loss_terms(logging_outputs, ("loss_neg",))
        log_counts(logging_outputs, ("negative_responses",))
