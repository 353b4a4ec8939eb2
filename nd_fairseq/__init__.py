"""Negative Distillation for fairseq (Li et al., NAACL 2022), used as ``--user-dir nd_fairseq``."""
import argparse

import torch

# torch >= 2.6 loads checkpoints with weights_only=True; fairseq's checkpoints hold an
# argparse.Namespace (the legacy model config), which is the only non-tensor global they need.
# Allowing exactly that class lets fairseq-generate/-interactive and our teacher loader read
# checkpoints without trusting arbitrary pickles (no TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD).
torch.serialization.add_safe_globals([argparse.Namespace])

from . import criterions, models, tasks, tokenizer  # noqa: E402,F401
from .errors import show_config_errors_as_one_line  # noqa: E402

show_config_errors_as_one_line()
