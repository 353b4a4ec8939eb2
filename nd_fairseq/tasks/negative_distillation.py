"""``--task negative_distillation``: translation with a frozen negative teacher.

The task loads the teacher (``--teacher-path``) while the student is built, checks that the
two can be paired, and runs the teacher under ``torch.no_grad()`` before each train/valid step,
handing its outputs to the criterion in ``sample["nd_teacher"]``. The trainer is untouched.
"""
import logging
from dataclasses import dataclass, field
from typing import Optional

from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationConfig, TranslationTask

from ..data import CompleteBatchesLanguagePairDataset
from ..models.transformer_nd import TransformerNDModel
from ..teacher import TeacherError, decoder_shape, load_teacher

logger = logging.getLogger(__name__)


@dataclass
class NegativeDistillationConfig(TranslationConfig):
    teacher_path: Optional[str] = field(
        default=None,
        metadata={
            "help": "checkpoint of the negative teacher (a transformer trained with MLE on the "
            "negative set D_N, with the same dictionary); needed for training, not for "
            "fairseq-generate/-interactive"
        },
    )


@register_task("negative_distillation", dataclass=NegativeDistillationConfig)
class NegativeDistillationTask(TranslationTask):
    cfg: NegativeDistillationConfig

    def __init__(self, cfg, src_dict, tgt_dict):
        super().__init__(cfg, src_dict, tgt_dict)
        self.teacher = None
        self.student_decoder_shape = None

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
        CompleteBatchesLanguagePairDataset.adopt(self.datasets[split])

    def get_batch_iterator(self, dataset, *args, epoch=1, disable_iterator_cache=False, update_epoch_batch_itr=False, **kwargs):
        """fairseq's iterator, composed so that a resumed run sees the batches of an
        uninterrupted one.

        When the iterator is reused across epochs (the default for pair datasets), an
        uninterrupted run composes its batches once, with the seed of the epoch it started
        in, and only reshuffles them later; a run resumed at epoch k would compose them anew
        with the seed of epoch k, so every later batch differs. Composing with epoch 1's seed
        in both cases makes resuming exact; the iterator still counts the real epochs.
        """
        reused = not disable_iterator_cache and not update_epoch_batch_itr and self.can_reuse_epoch_itr(dataset)
        cached = reused and dataset in self.dataset_to_epoch_iter
        itr = super().get_batch_iterator(
            dataset,
            *args,
            epoch=1 if reused else epoch,
            disable_iterator_cache=disable_iterator_cache,
            update_epoch_batch_itr=update_epoch_batch_itr,
            **kwargs,
        )
        if reused and not cached:
            # a cached iterator keeps its own epoch count: touching it would skip epochs
            dataset.set_epoch(epoch)
            itr.epoch = max(epoch, 1)
        return itr

    def build_dataset_for_inference(self, src_tokens, src_lengths, constraints=None):
        dataset = super().build_dataset_for_inference(src_tokens, src_lengths, constraints)
        return CompleteBatchesLanguagePairDataset.adopt(dataset)

    def build_model(self, cfg, from_checkpoint=False):
        # from_checkpoint: fairseq-generate/-interactive loading a student, or this very
        # method loading the teacher; neither needs a teacher.
        if not from_checkpoint:
            # loaded before the student so that --eval-bleu's generator binds the student
            self.teacher = load_teacher(self.cfg.teacher_path, self)
        model = super().build_model(cfg, from_checkpoint)
        if not from_checkpoint:
            if not isinstance(model, TransformerNDModel):
                raise TeacherError(
                    "--task negative_distillation trains a transformer_nd student: use --arch "
                    "transformer_nd, transformer_nd_small or transformer_nd_tiny"
                )
            self.student_decoder_shape = decoder_shape(model)
        return model

    def build_criterion(self, cfg, from_checkpoint=False):
        criterion = super().build_criterion(cfg, from_checkpoint)
        if self.teacher is not None:
            self._check_pairing(criterion)
        return criterion

    def _check_pairing(self, criterion):
        """Fail before the first update if the teacher's decoder cannot be paired layer by
        layer with the student's (only the features the criterion will use matter)."""
        weights = getattr(criterion, "weights", None)
        if weights is None:
            logger.warning(
                f"--criterion {criterion.__class__.__name__} does not use the teacher; "
                "use --criterion negative_distillation"
            )
            return
        t_layers, t_dim, t_heads = self.teacher.decoder_shape
        s_layers, s_dim, s_heads = self.student_decoder_shape
        problems = []
        if (weights["hid"] > 0 or weights["att"] > 0) and t_layers != s_layers:
            problems.append(f"decoder layers {t_layers} vs {s_layers}")
        if weights["hid"] > 0 and t_dim != s_dim:
            problems.append(f"decoder embed dim {t_dim} vs {s_dim}")
        if weights["att"] > 0 and t_heads != s_heads:
            problems.append(f"decoder attention heads {t_heads} vs {s_heads}")
        if problems:
            raise TeacherError(
                f"teacher {self.teacher.path} cannot be paired with the student ("
                + "; ".join(problems)
                + " for teacher vs student): give the student the teacher's decoder sizes, "
                "or switch the term off with --nd-hid-weight 0 / --nd-att-weight 0"
            )

    def _attach_teacher_outputs(self, sample, model, criterion):
        needed = getattr(criterion, "teacher_outputs_needed", lambda: None)()
        if needed is None:
            return
        if self.teacher is None:
            raise TeacherError("no teacher is loaded: train with --teacher-path CHECKPOINT")
        sample["nd_teacher"] = self.teacher(
            sample["net_input"], model, features=(needed == "features")
        )

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        if hasattr(criterion, "set_num_updates"):
            criterion.set_num_updates(update_num)
        self._attach_teacher_outputs(sample, model, criterion)
        try:
            return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
        finally:
            # free the teacher's tensors as soon as the step is done
            sample.pop("nd_teacher", None)

    def valid_step(self, sample, model, criterion):
        self._attach_teacher_outputs(sample, model, criterion)
        try:
            return super().valid_step(sample, model, criterion)
        finally:
            sample.pop("nd_teacher", None)
