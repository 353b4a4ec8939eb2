"""``--criterion cvae``: the CVAE baseline of the paper's Table 3 (Zhao et al., ACL 2017,
snakeztc/NeuralDialog-CVAE ``models/cvae.py``, commit addb6cc), for ``--arch transformer_cvae*``.

L = L_mle + w_kl * KL(q(z | c, x) || p(z | c)) + L_bow, the reference's augmented ELBO: the
decoder's (label-smoothed, as Standard's) cross entropy with z from the recognition network,
the KL between recognition and prior summed over the batch's responses, and the bag-of-words
loss. w_kl rises linearly from 0 to 1 over ``--cvae-kl-anneal-updates`` (the reference: 10,000
batches) and stays 1; validation uses the weight of the update reached. All terms are sums that
fairseq divides by the sample size, so their ratios are the reference's per-response ones.

Where we follow the reference: the KL (``gaussian_kld``, summed over z's dimensions), its linear
annealing, the bag-of-words loss (tanh MLP of width 400 on [c; z], EOS included), the prior MLP
(tanh, width max(2|z|, 100)) and the linear recognition network, z from the prior and greedy
decoding at inference. Where we differ, and why:
- z reaches the decoder as one more encoder output it attends to, not as the RNN decoder's
  initial state: a transformer decoder has no such state (``models/transformer_cvae.py``); it
  attends to the query too, so it may lean on z less;
- c and x are mean-pooled transformer encoder states (the reference: RNN encodings);
- z has 256 dimensions (the ND paper's DailyDialog setting; the reference 200), and L_mle is
  label-smoothed as Standard's (ND's shared settings; the reference has none).
"""
from dataclasses import dataclass, field
from typing import Optional

from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)
from fairseq.logging import metrics

from ..baseline_losses import bag_of_words_nll, gaussian_kl, kl_annealing_weight
from ..errors import ConfigError
from .mle_part import mle_part
from .term_metrics import log_loss_terms


@dataclass
class CVAEConfig(LabelSmoothedCrossEntropyCriterionConfig):
    cvae_kl_anneal_updates: int = field(
        default=10000, metadata={"help": "updates over which the KL weight rises linearly from 0 to 1 (the "
                                         "reference: 10,000 batches); 0 starts at 1"})
    cvae_bow_weight: float = field(
        default=1.0, metadata={"help": "weight of the bag-of-words loss (the reference: 1; 0 leaves it out)"})


@register_criterion("cvae", dataclass=CVAEConfig)
class CVAECriterion(LabelSmoothedCrossEntropyCriterion):
    def __init__(self, task, sentence_avg, label_smoothing, ignore_prefix_size=0, report_accuracy=False,
                 cvae_kl_anneal_updates=10000, cvae_bow_weight=1.0):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        if cvae_kl_anneal_updates < 0 or cvae_bow_weight < 0:
            raise ConfigError("--cvae-kl-anneal-updates and --cvae-bow-weight must be >= 0")
        self.anneal_updates = cvae_kl_anneal_updates
        self.bow_weight = cvae_bow_weight
        self.num_updates: Optional[int] = None

    def set_num_updates(self, num_updates):
        """Called by the task with fairseq's update count, so the annealing survives a resume."""
        self.num_updates = num_updates

    def forward(self, model, sample, reduce=True):
        if not hasattr(model, "bag_of_words"):
            raise ConfigError("--criterion cvae needs --arch transformer_cvae (or transformer_cvae_tiny): the latent "
                              "variable's networks are part of the model")
        net_output, mle_loss, sample_size, logging_output = mle_part(self, model, sample)
        cvae = net_output[1]["cvae"]
        kl = gaussian_kl(cvae["mu_q"].float(), cvae["logvar_q"].float(), cvae["mu_p"].float(),
                         cvae["logvar_p"].float()).sum()
        target = sample["target"]
        bow = bag_of_words_nll(cvae["bow_logits"], target, target.ne(self.padding_idx))
        weight = kl_annealing_weight(self.num_updates or 0, self.anneal_updates)
        loss = mle_loss + weight * kl + self.bow_weight * bow
        # the weight times the sample size, so that logging outputs summed over workers average it
        logging_output.update(loss=loss.data, loss_kl=kl.data, loss_bow=bow.data, kl_weight=weight * sample_size)
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        log_loss_terms(logging_outputs, ("loss_kl", "loss_bow"))
        size = sum(log.get("sample_size", 0) for log in logging_outputs)
        if size > 0:
            metrics.log_scalar("kl_weight", sum(log.get("kl_weight", 0) for log in logging_outputs) / size, size,
                               round=4)
