"""``transformer_nd``: fairseq's transformer whose decoder can also return what ND distils.

The model adds no parameters to fairseq's ``transformer``, so a checkpoint of either loads into
the other with ``strict=True``. Only when ``return_nd_features=True`` is passed to ``forward``
does the decoder add these keys to its ``extra`` dict (B = batch, T = target length,
C = decoder embed dim, H = decoder attention heads, L = decoder layers):

- ``nd_hidden``: List[Tensor] of length L, each B x T x C, the output of decoder layer l
  (the same tensors as ``inner_states[l + 1]``, batch-first).
- ``nd_attn_logits``: List[Tensor] of length L, each B x H x T x T, layer l's raw
  self-attention scores QK^T / sqrt(d_k) before masking and softmax.
- ``nd_attn_mask``: BoolTensor B x 1 x T x T, True where the score is one the model uses
  (query and key are not padding and key <= query). Everything else must be ignored.
- ``nd_token_mask``: BoolTensor B x T, True at non-padding target positions.

Without the flag the forward pass is fairseq's own, so generation costs nothing extra.
"""
from typing import Dict, List

import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import (
    TransformerConfig,
    TransformerDecoderBase,
    TransformerModel,
    base_architecture,
    tiny_architecture,
)
from torch import Tensor

from ..errors import ConfigError


def self_attention_logits(layer, layer_input: Tensor) -> Tensor:
    """Raw self-attention scores of one fairseq decoder layer.

    fairseq's MultiheadAttention takes the fused fast path for decoder self-attention in
    teacher-forced training and never exposes pre-softmax scores there, so we recompute
    q and k from the layer's input with the layer's own projections.

    Args:
        layer: a ``TransformerDecoderLayerBase``.
        layer_input: T x B x C, the input of that layer (``inner_states[l]``).
    Returns:
        B x H x T x T, ``(x W_q + b_q)(x W_k + b_k)^T / sqrt(d_k)``.
    """
    attn = layer.self_attn
    x = layer.self_attn_layer_norm(layer_input) if layer.normalize_before else layer_input
    tgt_len, bsz, _ = x.shape
    q = attn.q_proj(x) * attn.scaling
    k = attn.k_proj(x)
    # T x B x (H*d) -> B x H x T x d
    q = q.view(tgt_len, bsz, attn.num_heads, attn.head_dim).permute(1, 2, 0, 3)
    k = k.view(tgt_len, bsz, attn.num_heads, attn.head_dim).permute(1, 2, 0, 3)
    return torch.matmul(q, k.transpose(-1, -2))


def valid_attention_mask(prev_output_tokens: Tensor, padding_idx: int) -> Tensor:
    """B x 1 x T x T mask of the self-attention scores a causal decoder actually uses."""
    not_pad = prev_output_tokens.ne(padding_idx)
    tgt_len = prev_output_tokens.size(1)
    causal = torch.ones(
        tgt_len, tgt_len, dtype=torch.bool, device=prev_output_tokens.device
    ).tril()
    return (not_pad[:, :, None] & not_pad[:, None, :] & causal)[:, None]


class TransformerNDDecoder(TransformerDecoderBase):
    """Transformer decoder that can return per-layer hidden states and raw attention scores."""

    def check_nd_compatible(self):
        """Raise if this decoder's configuration makes the recomputed scores differ from
        the ones its layers use."""
        if self.cross_self_attention:
            raise ConfigError(
                "transformer_nd: --cross-self-attention is not supported (self-attention "
                "keys would include the encoder output)"
            )
        if self.decoder_layerdrop > 0:
            raise ConfigError(
                "transformer_nd: --decoder-layerdrop must be 0 (ND pairs every decoder "
                "layer of the student with the teacher's)"
            )
        for layer in self.layers:
            if layer.self_attn.bias_k is not None or layer.self_attn.add_zero_attn:
                raise ConfigError(
                    "transformer_nd: self-attention with add_bias_kv/add_zero_attn is not "
                    "supported"
                )

    def nd_features(self, prev_output_tokens: Tensor, inner_states: List[Tensor]) -> Dict:
        """The ND features documented in the module docstring, from ``inner_states``."""
        if len(inner_states) != len(self.layers) + 1:
            raise RuntimeError(
                f"transformer_nd: expected {len(self.layers) + 1} inner states, got "
                f"{len(inner_states)}"
            )
        return {
            "nd_hidden": [h.transpose(0, 1) for h in inner_states[1:]],
            "nd_attn_logits": [
                self_attention_logits(layer, x)
                for layer, x in zip(self.layers, inner_states[:-1])
            ],
            "nd_attn_mask": valid_attention_mask(prev_output_tokens, self.padding_idx),
            "nd_token_mask": prev_output_tokens.ne(self.padding_idx),
        }

    def forward(self, prev_output_tokens, encoder_out=None, return_nd_features=False, **kwargs):
        x, extra = super().forward(prev_output_tokens, encoder_out=encoder_out, **kwargs)
        if return_nd_features:
            extra.update(self.nd_features(prev_output_tokens, extra["inner_states"]))
        return x, extra


@register_model("transformer_nd")
class TransformerNDModel(TransformerModel):
    """fairseq's ``transformer`` with a decoder that can expose the features ND distils."""

    @classmethod
    def build_decoder(cls, args, tgt_dict, embed_tokens):
        cfg = TransformerConfig.from_namespace(args)
        decoder = TransformerNDDecoder(
            cfg, tgt_dict, embed_tokens, no_encoder_attn=cfg.no_cross_attention
        )
        decoder.check_nd_compatible()
        return decoder

    def forward(
        self,
        src_tokens,
        src_lengths,
        prev_output_tokens,
        return_all_hiddens: bool = True,
        features_only: bool = False,
        alignment_layer=None,
        alignment_heads=None,
        return_nd_features: bool = False,
    ):
        encoder_out = self.encoder(
            src_tokens, src_lengths=src_lengths, return_all_hiddens=return_all_hiddens
        )
        return self.decoder(
            prev_output_tokens,
            encoder_out=encoder_out,
            features_only=features_only,
            alignment_layer=alignment_layer,
            alignment_heads=alignment_heads,
            src_lengths=src_lengths,
            return_all_hiddens=return_all_hiddens,
            return_nd_features=return_nd_features,
        )


@register_model_architecture("transformer_nd", "transformer_nd")
def transformer_nd_base(args):
    """The paper's sizes (Appendix A): 6+6 layers, 512 dims, 8 heads, FFN 2048, and dropout
    0.1 on the residual, attention and activation paths."""
    args.dropout = getattr(args, "dropout", 0.1)
    args.attention_dropout = getattr(args, "attention_dropout", 0.1)
    args.activation_dropout = getattr(args, "activation_dropout", 0.1)
    base_architecture(args)


@register_model_architecture("transformer_nd", "transformer_nd_tiny")
def transformer_nd_tiny(args):
    """2+2 layers, 64 dims, 2 heads, FFN 64: for tests and CPU demos."""
    tiny_architecture(args)


@register_model_architecture("transformer_nd", "transformer_nd_small")
def transformer_nd_small(args):
    """3+3 layers, 256 dims, 4 heads, FFN 1024: the CPU configuration of the examples."""
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 256)
    args.encoder_ffn_embed_dim = getattr(args, "encoder_ffn_embed_dim", 1024)
    args.encoder_layers = getattr(args, "encoder_layers", 3)
    args.encoder_attention_heads = getattr(args, "encoder_attention_heads", 4)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 256)
    args.decoder_ffn_embed_dim = getattr(args, "decoder_ffn_embed_dim", 1024)
    args.decoder_layers = getattr(args, "decoder_layers", 3)
    args.decoder_attention_heads = getattr(args, "decoder_attention_heads", 4)
    transformer_nd_base(args)
