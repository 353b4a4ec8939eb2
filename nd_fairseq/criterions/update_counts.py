"""Counts a criterion accumulates over a run (FACE's token counts, UL's token distributions).

An update is weighted with the counts of all *previous* updates; its own micro-batches add to
a pending vector that joins the total after the optimizer step, summed over DDP workers. So
the counts belong to the update, not to the micro-batch: --update-freq and DDP give the same
counts as one process on the same global batch. The task checkpoints them through
``training_state``/``load_training_state`` and calls ``end_of_update`` after every optimizer
step (``tasks/criterion_state.py``).
"""
import torch
import torch.distributed as dist
from fairseq.distributed import utils as distributed_utils
from torch import Tensor


class UpdateCounts:
    def __init__(self, size: int):
        self.total = torch.zeros(size, dtype=torch.float64)  # all finished updates
        self.pending = torch.zeros(size, dtype=torch.float64)  # this update's micro-batches

    def add(self, counts: Tensor) -> None:
        self.pending = self.pending.to(counts.device) + counts

    def end_of_update(self) -> None:
        if dist.is_available() and dist.is_initialized() and distributed_utils.get_data_parallel_world_size() > 1:
            distributed_utils.all_reduce(self.pending, group=distributed_utils.get_data_parallel_group())
        self.total = self.total.to(self.pending.device) + self.pending
        self.pending = torch.zeros_like(self.pending)

    def state(self) -> dict:
        return {"counts": self.total.cpu().clone(), "pending": self.pending.cpu().clone()}

    def load(self, state: dict) -> None:
        self.total = state["counts"].clone()
        self.pending = state["pending"].clone()


class CountsStateMixin:
    """The state protocol of ``tasks/criterion_state.py`` for a criterion whose state is
    ``self.counts``, an ``UpdateCounts``."""

    def end_of_update(self) -> None:
        self.counts.end_of_update()

    def training_state(self) -> dict:
        return self.counts.state()

    def load_training_state(self, state) -> None:
        self.counts.load(state)
