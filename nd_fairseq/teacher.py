"""Loading and running the frozen negative teacher.

The teacher lives in a plain object, not an ``nn.Module`` attribute of the student or the
criterion: fairseq's trainer optimises, DDP-wraps and checkpoints whatever is in those module
trees, and the teacher must be none of these (cf. fairseq's EMAModule).
"""
import logging
import os
from argparse import Namespace
from dataclasses import dataclass
from enum import Enum
from typing import Callable, List, NamedTuple, Optional

import torch
from fairseq import checkpoint_utils
from fairseq.data import Dictionary
from fairseq.models import ARCH_MODEL_REGISTRY
from fairseq.models.transformer import TransformerModel
from omegaconf import OmegaConf
from torch import Tensor

from .errors import ConfigError
from .models.transformer_nd import TransformerNDModel

logger = logging.getLogger(__name__)


class TeacherError(ConfigError):
    """A teacher checkpoint that cannot serve this student; the message says why and what to do."""


class StudentError(ConfigError):
    """A student model that cannot be trained with the chosen criterion; the message says why."""


class TeacherOutputs(Enum):
    """What a criterion asks of the teacher for one update."""

    LOGITS = "logits"  # the decoder output and the output projection
    FEATURES = "features"  # the same plus every decoder layer's hidden states and attention scores


@dataclass
class TeacherOutput:
    """The frozen teacher's outputs for one batch, handed to the criterion in
    ``sample["nd_teacher"]`` (B = batch, T = target length, C = decoder embed dim, H = decoder
    attention heads, L = decoder layers, V = vocabulary).

    Attributes:
        decoder_out: B x T x C, the decoder output before the output projection.
        output_projection: (..., C) -> (..., V) logits, without gradient; applied a chunk of
            rows at a time by the fused loss, so the B x T x V logits never exist whole.
        hidden: L tensors B x T x C, each decoder layer's output (with TeacherOutputs.FEATURES).
        attn_logits: L tensors B x H x T x T, each decoder layer's raw self-attention scores
            QK^T / sqrt(d_k) before masking (with TeacherOutputs.FEATURES); only the entries of
            the student's ``nd_attn_mask`` are meaningful.
        responses: B x T_n whole negative responses (token ids, pad-padded, EOS included) for
            ``--nd-target hard|random`` (``negative_responses.py``); None for soft targets.
    """

    decoder_out: Tensor
    output_projection: Callable[[Tensor], Tensor]
    hidden: Optional[List[Tensor]] = None
    attn_logits: Optional[List[Tensor]] = None
    responses: Optional[Tensor] = None


class DecoderShape(NamedTuple):
    """What pairing a teacher's decoder with a student's depends on."""

    layers: int
    embed_dim: int
    heads: int
    returns_nd_features: bool  # a transformer_nd decoder (hidden states and attention scores on request)


def _read_state(path):
    if not path:
        raise TeacherError(
            "--task negative_distillation needs --teacher-path: a checkpoint of a transformer "
            "trained with MLE on the negative set D_N"
        )
    if not os.path.isfile(path):
        raise TeacherError(f"teacher checkpoint not found: {path}")
    try:
        state = checkpoint_utils.load_checkpoint_to_cpu(path)
    except Exception as e:  # torch raises many types for truncated or foreign files
        first_line = str(e).splitlines()[0] if str(e) else ""
        raise TeacherError(
            f"could not read teacher checkpoint {path} ({type(e).__name__}: {first_line}); "
            "is it a complete fairseq checkpoint?"
        ) from e
    if not isinstance(state, dict) or "model" not in state or state.get("cfg") is None:
        raise TeacherError(f"{path} is not a fairseq checkpoint (no 'model' weights or 'cfg')")
    return state


def _model_args(path, cfg_model) -> Namespace:
    if OmegaConf.is_config(cfg_model):
        cfg_model = OmegaConf.to_container(cfg_model, resolve=True)
    args = Namespace(**cfg_model) if isinstance(cfg_model, dict) else Namespace(**vars(cfg_model))
    arch = getattr(args, "arch", None) or getattr(args, "_name", None)
    model_cls = ARCH_MODEL_REGISTRY.get(arch)
    if model_cls is None or not issubclass(model_cls, TransformerModel):
        raise TeacherError(
            f"teacher {path} has architecture '{arch}', which cannot supply the decoder hidden "
            "states and self-attention scores ND needs; train the teacher with --arch "
            "transformer_nd* or fairseq's transformer*"
        )
    return args


def _training_data_dir(state) -> str:
    """The (first) data directory the checkpoint's model was trained on; '' if unrecorded."""
    return str(state["cfg"]["task"].get("data", "") or "").split(os.pathsep)[0]


def _check_dictionaries(path, state, task):
    """The teacher must share the student's token ids, row for row."""
    weights = state["model"]
    for side, key, dictionary in [
        ("source", "encoder.embed_tokens.weight", task.source_dictionary),
        ("target", "decoder.embed_tokens.weight", task.target_dictionary),
    ]:
        rows = weights[key].size(0) if key in weights else None
        if rows is not None and rows != len(dictionary):
            raise TeacherError(
                f"teacher {path} has a {side} vocabulary of {rows} entries but this task's "
                f"{side} dictionary has {len(dictionary)}: teacher and student must be "
                "binarized with one shared dictionary (fairseq-preprocess --srcdict/--tgtdict)"
            )
    # Checkpoints hold no dictionary, but the teacher's data directory usually still has it.
    teacher_data = _training_data_dir(state)
    checked = False
    for lang, dictionary in [
        (task.cfg.source_lang, task.source_dictionary),
        (task.cfg.target_lang, task.target_dictionary),
    ]:
        dict_path = os.path.join(teacher_data, f"dict.{lang}.txt")
        if not teacher_data or not os.path.isfile(dict_path):
            continue
        theirs = Dictionary.load(dict_path)
        if theirs.symbols != dictionary.symbols:
            first = next(
                (i for i, (a, b) in enumerate(zip(theirs.symbols, dictionary.symbols)) if a != b),
                min(len(theirs), len(dictionary)),
            )
            raise TeacherError(
                f"teacher {path} was trained with dictionary {dict_path}, which differs from "
                f"this task's (first at id {first}): binarize D and D_N with one shared "
                "dictionary (fairseq-preprocess --srcdict/--tgtdict)"
            )
        checked = True
    if not checked:
        logger.warning(
            f"teacher {path}: its dictionary files were not found under '{teacher_data}', so "
            "only the vocabulary sizes could be checked against this task's"
        )


def load_teacher(path, task):
    """Read, check and build the teacher of ``path`` for ``task``; returns a FrozenTeacher."""
    state = _read_state(path)
    args = _model_args(path, state["cfg"]["model"])
    _check_dictionaries(path, state, task)
    # transformer_nd adds no parameters, so any fairseq transformer loads into it strictly
    # and gains the ability to return ND features.
    bad = [k for k, v in state["model"].items()
           if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        others = " and others" if len(bad) > 1 else ""
        raise TeacherError(f"teacher {path} has NaN/inf weights (in {bad[0]}{others}): it cannot teach")
    model = TransformerNDModel.build_model(args, task)
    try:
        model.load_state_dict(state["model"], strict=True, model_cfg=args)
    except RuntimeError as e:
        raise TeacherError(f"teacher {path}: its weights do not fit its own config: {e}") from e
    logger.info(f"loaded negative teacher {path} ({args.arch}, {sum(p.numel() for p in model.parameters())} params)")
    return FrozenTeacher(model, path, _training_data_dir(state))


class FrozenTeacher:
    """The teacher: always in eval mode, never trained, moved to the student's device/dtype.
    ``data_dir`` is the directory it was trained on (D_N), as its checkpoint records it."""

    def __init__(self, model, path, data_dir=""):
        self.model = model.eval()
        self.model.requires_grad_(False)
        self.path = path
        self.data_dir = data_dir

    @torch.no_grad()
    def _output_layer(self, features):
        return self.model.decoder.output_layer(features)

    @property
    def decoder_shape(self):
        return decoder_shape(self.model)

    def follow(self, student):
        """Move to the student's device and dtype (once; a no-op after)."""
        ref = next(student.parameters())
        ours = next(self.model.parameters())
        if ours.device != ref.device or ours.dtype != ref.dtype:
            self.model.to(device=ref.device, dtype=ref.dtype)

    @torch.no_grad()
    def __call__(self, net_input, student, needed: TeacherOutputs) -> TeacherOutput:
        """The teacher's outputs for this batch, on the student's device and in its dtype."""
        self.follow(student)
        self.model.eval()
        features = needed is TeacherOutputs.FEATURES
        x, extra = self.model(**net_input, features_only=True, return_nd_features=features)
        if not torch.isfinite(x).all():
            raise FloatingPointError(
                f"negative teacher {self.path} produced NaN/inf for this batch (in {x.dtype}); "
                "if this happens only with --fp16, try --bf16 or fp32"
            )
        if not features:
            return TeacherOutput(x, self._output_layer)
        return TeacherOutput(x, self._output_layer, extra["nd_hidden"], extra["nd_attn_logits"])


def decoder_shape(model) -> DecoderShape:
    """The decoder shape of a fairseq transformer (teacher or student)."""
    dec = model.decoder
    heads = dec.layers[0].self_attn.num_heads if len(dec.layers) else 0
    return DecoderShape(len(dec.layers), dec.embed_dim, heads, isinstance(model, TransformerNDModel))
