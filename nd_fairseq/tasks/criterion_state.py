"""Checkpointing a criterion's state that lives across updates (the baselines' counts and histories).

fairseq's trainer saves and restores a criterion only when it has parameters, and giving it a
frozen one would make the trainer wrap it in DistributedDataParallel, which refuses modules
without trainable parameters. The trainer does save ``task.state_dict()`` in every checkpoint
(``task_state``) but restores it only for generation. So the task carries the criterion's
state: it adds ``criterion.training_state()`` to its own state, and at the first training
step it reads ``task_state`` back from the checkpoint the trainer resumed from (found by
fairseq's own rule in ``checkpoint_utils.load_checkpoint``) and hands it to
``criterion.load_training_state``. After every optimizer step, on every DDP worker, it calls
``criterion.end_of_update()``, where state built during an update can be summed over workers;
a dummy batch (``ignore_grad``) leaves the state as it found it.
"""
import logging
import os
from typing import Optional

from fairseq import checkpoint_utils

logger = logging.getLogger(__name__)

STATE_KEY = "criterion_state"


def resumed_checkpoint(cfg) -> Optional[str]:
    """The file fairseq-train restores from, if it exists (fairseq's rule, without --continue-once);
    ``cfg`` has the checkpoint group's save_dir, restore_file, checkpoint_suffix and
    finetune_from_model."""
    suffix = cfg.checkpoint_suffix or ""
    if cfg.restore_file == "checkpoint_last.pt":
        path = os.path.join(cfg.save_dir, f"checkpoint_last{suffix}.pt")
        if not os.path.exists(path) and cfg.finetune_from_model:
            path = cfg.finetune_from_model
    else:
        path = cfg.restore_file.replace(".pt", suffix + ".pt")
    return path if os.path.exists(path) else None


class CriterionStateMixin:
    """Put before ``TranslationTask`` in a task's bases; its config interpolates the checkpoint
    options ``resumed_checkpoint`` reads."""

    stateful_criterion = None

    def remember_stateful_criterion(self, criterion) -> None:
        if hasattr(criterion, "training_state"):
            self.stateful_criterion = criterion

    def state_dict(self):
        state = dict(super().state_dict())
        if self.stateful_criterion is not None:
            state[STATE_KEY] = self.stateful_criterion.training_state()
        return state

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        if not ignore_grad or self.stateful_criterion is None:
            return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
        # a dummy batch (a DDP worker without data of its own) must leave no trace in the state
        saved = self.stateful_criterion.training_state()
        try:
            return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
        finally:
            self.stateful_criterion.load_training_state(saved)

    def optimizer_step(self, optimizer, model, update_num):
        super().optimizer_step(optimizer, model, update_num)
        if self.stateful_criterion is not None:  # e.g. FACE adds the update's counts to its total
            self.stateful_criterion.end_of_update()

    def restore_criterion_state(self, criterion) -> None:
        """At a run's first update: the criterion's state from the checkpoint being resumed."""
        if not hasattr(criterion, "load_training_state"):
            return
        path = resumed_checkpoint(self.cfg)
        if path is None:
            return
        saved = checkpoint_utils.load_checkpoint_to_cpu(path).get("task_state") or {}
        if STATE_KEY in saved:
            criterion.load_training_state(saved[STATE_KEY])
            logger.info(f"restored the criterion's state from {path}")
        else:
            logger.info(f"{path} holds no state of this criterion: it starts afresh")
