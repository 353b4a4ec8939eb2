"""``--task negative_distillation``: translation with an optional frozen negative teacher.

Every system of the study (the teacher, Standard, ND, the baselines) trains and decodes with
this task, so that they differ only in their criterion; it carries the batching fixes of
``exact_batching.py``. With ``--teacher-path`` the teacher is loaded before the student is
built, and before each train/valid step it runs under ``torch.no_grad()`` to put what the
criterion asks for (``criterion.teacher_outputs_needed()``) into ``sample["nd_teacher"]``, a
``TeacherOutput``. The criterion checks the teacher/student pairing itself; the trainer is
untouched (cf. fairseq's translation_moe).

Outside training (fairseq-validate) the student comes from its checkpoint without a teacher:
the first validation step loads the one ``--teacher-path`` names (the training run's path
unless given again) if that file exists; otherwise the criterion reports its MLE losses only.

A criterion with state across updates (FACE, UL, NT) is checkpointed through the task's
state and restored when a run resumes (``criterion_state.py``).
"""
import logging
import math
import os
from dataclasses import dataclass, field
from typing import List, Optional

from fairseq.tasks import register_task
from fairseq.tasks.translation import TranslationConfig, TranslationTask
from omegaconf import II

from ..errors import ConfigError
from ..negative_responses import GreedyResponses, NegativeResponses, RandomResponses
from ..provenance import provenance
from ..teacher import TeacherError, decoder_shape, load_teacher
from .criterion_state import CriterionStateMixin
from .exact_batching import ExactBatchingMixin

logger = logging.getLogger(__name__)


@dataclass
class NegativeDistillationConfig(TranslationConfig):
    teacher_path: Optional[str] = field(
        default=None,
        metadata={
            "help": "checkpoint of the negative teacher (a transformer trained with MLE on the "
            "negative set D_N, with the same dictionary); needed to train with a criterion that "
            "uses a teacher (negative_distillation), not for other criteria or for "
            "fairseq-generate/-interactive"
        },
    )
    negative_data: Optional[str] = field(
        default=None,
        metadata={
            "help": "fairseq-preprocess directory of D_N (its train split) from which a criterion asking for "
            "random negative responses (--nd-target random) draws them; default: the directory the teacher "
            "was trained on, as its checkpoint records it"
        },
    )
    seed: int = II("common.seed")
    # which checkpoint a run resumes from, to restore its criterion's state (criterion_state.py)
    save_dir: str = II("checkpoint.save_dir")
    restore_file: str = II("checkpoint.restore_file")
    checkpoint_suffix: str = II("checkpoint.checkpoint_suffix")
    finetune_from_model: Optional[str] = II("checkpoint.finetune_from_model")
    # the run's bounds, so that the criterion can be told how many updates the run plans
    max_update: int = II("optimization.max_update")
    max_epoch: int = II("optimization.max_epoch")
    update_freq: List[int] = II("optimization.update_freq")


def uses_teacher(criterion) -> bool:
    """Whether ``criterion`` asks for teacher outputs (the only thing the task knows of it)."""
    return hasattr(criterion, "teacher_outputs_needed")


@register_task("negative_distillation", dataclass=NegativeDistillationConfig)
class NegativeDistillationTask(CriterionStateMixin, ExactBatchingMixin, TranslationTask):
    cfg: NegativeDistillationConfig

    def __init__(self, cfg, src_dict, tgt_dict):
        super().__init__(cfg, src_dict, tgt_dict)
        self.teacher = None
        self.student_shape = None  # set when a student is built for training
        self.validation_teacher_looked_for = False
        self.train_batches = None  # batches per epoch of the training split, once its iterator exists
        self.run_announced = False
        self.negative_responses = {}  # NegativeResponses -> its source, built on first use

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        # fairseq's translation task would fail on the missing dict.*.txt with a traceback
        for path in (cfg.data or "").split(os.pathsep):
            if path and not os.path.isdir(path):
                raise ConfigError(f"data directory not found: {path}")
        logger.info(f"run provenance: {provenance()}")
        return super().setup_task(cfg, **kwargs)

    def build_model(self, cfg, from_checkpoint=False):
        # from_checkpoint: a trained model being loaded (fairseq-generate, -interactive,
        # -validate, or load_teacher itself); only a model built for training gets a teacher.
        if not from_checkpoint and self.cfg.teacher_path:
            # before the student, so that --eval-bleu's sequence generator binds the student
            self.teacher = load_teacher(self.cfg.teacher_path, self)
        model = super().build_model(cfg, from_checkpoint)
        if not from_checkpoint:
            self.student_shape = decoder_shape(model)
        return model

    def build_criterion(self, cfg, from_checkpoint=False):
        criterion = super().build_criterion(cfg, from_checkpoint)
        self.remember_stateful_criterion(criterion)
        if self.student_shape is None:  # no student built for training here (e.g. fairseq-validate)
            return criterion
        if uses_teacher(criterion):
            if self.teacher is None:
                raise TeacherError(
                    f"--criterion {cfg._name} needs --teacher-path CHECKPOINT: a negative teacher "
                    "(a transformer trained with MLE on D_N)"
                )
            criterion.check_pairing(self.teacher.decoder_shape, self.student_shape)
        elif self.teacher is not None:
            logger.warning(f"--criterion {cfg._name} does not use the teacher given by --teacher-path")
        return criterion

    def get_batch_iterator(self, dataset, *args, **kwargs):
        itr = super().get_batch_iterator(dataset, *args, **kwargs)
        if dataset is self.datasets.get(self.cfg.train_subset):
            self.train_batches = len(itr)
        return itr

    def planned_updates(self) -> Optional[int]:
        """The run's last update as --max-update and --max-epoch bound it; None when neither
        does (or the training batches are not known yet)."""
        bounds = [self.cfg.max_update] if self.cfg.max_update > 0 else []
        if self.cfg.max_epoch > 0 and self.train_batches:
            freq = list(self.cfg.update_freq)
            bounds.append(sum(math.ceil(self.train_batches / freq[min(e, len(freq) - 1)])
                              for e in range(self.cfg.max_epoch)))
        return min(bounds) if bounds else None

    def attach_teacher_outputs(self, sample, model, criterion) -> None:
        """Put the teacher's outputs that ``criterion`` needs for this update into
        ``sample["nd_teacher"]`` (nothing when it needs none). Public: tests and benchmarks
        call it to reproduce what train_step/valid_step do."""
        needed = criterion.teacher_outputs_needed() if uses_teacher(criterion) else None
        if needed is None:
            return
        if self.teacher is None:
            if model.training:
                raise TeacherError("no teacher is loaded: train with --teacher-path CHECKPOINT")
            return  # validation without a teacher: the criterion reports its MLE losses only
        sample["nd_teacher"] = self.teacher(sample["net_input"], model, needed)
        responses = criterion.negative_responses_needed()
        if responses is not None:
            sample["nd_teacher"].responses = self.negative_response_source(responses)(sample, model)

    def negative_response_source(self, kind: NegativeResponses):
        if kind not in self.negative_responses:
            if kind is NegativeResponses.GREEDY:
                source = GreedyResponses(self.teacher, self.target_dictionary)
            else:
                data = self.cfg.negative_data or self.teacher.data_dir
                if not data:
                    raise ConfigError("--nd-target random needs D_N's data: give --negative-data DIR "
                                      "(the teacher's checkpoint does not record its data directory)")
                source = RandomResponses(data, self, self.cfg.seed)
            self.negative_responses[kind] = source
        return self.negative_responses[kind]

    def load_validation_teacher(self, model, criterion) -> None:
        """For a student validated outside its training run: load its teacher, once, if
        ``--teacher-path`` names a file; say so either way."""
        self.validation_teacher_looked_for = True
        path = self.cfg.teacher_path
        if not path or not os.path.exists(path):
            named = f" ({path} does not exist)" if path else ""
            logger.warning(f"no teacher{named}: validating with the MLE losses only (loss = loss_mle, alpha 0); "
                           "give --teacher-path CHECKPOINT for the ND terms too")
            return
        self.teacher = load_teacher(path, self)
        criterion.check_pairing(self.teacher.decoder_shape, decoder_shape(model))

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        if not self.run_announced:  # a criterion with a schedule hears how long the run is
            self.run_announced = True
            self.restore_criterion_state(criterion)
            planned = self.planned_updates()
            if planned is not None and hasattr(criterion, "set_planned_updates"):
                criterion.set_planned_updates(planned)
        if hasattr(criterion, "set_num_updates"):
            criterion.set_num_updates(update_num)
        self.attach_teacher_outputs(sample, model, criterion)
        try:
            return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
        finally:
            # free the teacher's tensors as soon as the step is done
            sample.pop("nd_teacher", None)

    def valid_step(self, sample, model, criterion):
        if self.teacher is None and not self.validation_teacher_looked_for and uses_teacher(criterion):
            self.load_validation_teacher(model, criterion)
        self.attach_teacher_outputs(sample, model, criterion)
        try:
            return super().valid_step(sample, model, criterion)
        finally:
            sample.pop("nd_teacher", None)
