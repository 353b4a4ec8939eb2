"""Whole negative responses for the hard- and random-target ablations (``--nd-target``; the
paper's Table 9): token sequences that L_pred pushes the student away from, one-hot, in place
of the teacher's soft distributions.

- ``GreedyResponses``: the frozen teacher's greedy response to each query. Decoded on the fly
  (``greedy.py``: fairseq's ``SequenceGenerator``, beam 1) the first time a training pair is seen, then
  kept in memory by the pair's dataset index: the teacher never changes, so the whole cost is
  one greedy decoding of the training set, spread over the first epoch.
- ``RandomResponses``: for each pair, one response of D_N drawn uniformly at random. The draw
  depends only on (seed, pair index), so it is the same in every epoch, after a resume and on
  every DDP worker.
Both return a B x T_n LongTensor of token ids padded with the dictionary's pad, EOS included.
A pair is known by its dataset index and its split (the training split while the student
trains, the validation split while it is in eval mode), as ``sample["id"]`` and the
student's mode tell.
"""
import os
from enum import Enum
from typing import Dict

import numpy as np
import torch
from fairseq.data import data_utils
from torch import Tensor

from .errors import ConfigError
from .greedy import greedy_responses


class NegativeResponses(Enum):
    """Which whole responses a criterion asks the task for (``--nd-target``)."""

    GREEDY = "hard"  # the teacher's greedy response
    RANDOM = "random"  # a random response of D_N


class GreedyResponses:
    """The teacher's greedy responses, decoded once per pair index and then cached."""

    def __init__(self, teacher, tgt_dict, max_len_b: int = 50):
        self.teacher = teacher
        self.tgt_dict = tgt_dict
        self.max_len_b = max_len_b  # the recipe's decoding: greedy, at most 50 tokens
        self.cache: Dict[tuple, Tensor] = {}

    @torch.no_grad()
    def __call__(self, sample, student) -> Tensor:
        ids = [(student.training, i) for i in sample["id"].tolist()]
        missing = [row for row, i in enumerate(ids) if i not in self.cache]
        if missing:
            self.teacher.follow(student)
            rows = torch.tensor(missing, device=sample["id"].device)
            net_input = {k: sample["net_input"][k].index_select(0, rows) for k in ("src_tokens", "src_lengths")}
            responses = greedy_responses(self.teacher.model, net_input, self.tgt_dict, self.max_len_b)
            for row, response in zip(missing, responses):
                self.cache[ids[row]] = response[response.ne(self.tgt_dict.pad())].cpu()
        return data_utils.collate_tokens([self.cache[i] for i in ids], self.tgt_dict.pad()).to(sample["id"].device)


class RandomResponses:
    """A response of D_N for each pair index, drawn at random once and for all."""

    def __init__(self, data_dir: str, task, seed: int):
        tgt = task.cfg.target_lang
        prefix = os.path.join(data_dir, f"train.{task.cfg.source_lang}-{tgt}.{tgt}")
        self.responses = data_utils.load_indexed_dataset(prefix, task.target_dictionary)
        if self.responses is None or len(self.responses) == 0:
            raise ConfigError(f"--nd-target random: no D_N responses at {prefix}.bin/.idx (set --negative-data to "
                              "the fairseq-preprocess directory of D_N, e.g. bin-negative)")
        self.pad = task.target_dictionary.pad()
        self.seed = seed

    def draw(self, pair_index: int, training: bool) -> int:
        rng = np.random.default_rng([self.seed, int(training), pair_index])
        return int(rng.integers(len(self.responses)))

    def __call__(self, sample, student) -> Tensor:
        chosen = [self.responses[self.draw(i, student.training)] for i in sample["id"].tolist()]
        return data_utils.collate_tokens(chosen, self.pad).to(sample["id"].device)
