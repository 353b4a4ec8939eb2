"""``transformer_adalabel``: ``transformer_nd`` plus AdaLabel's auxiliary decoder (Wang et al.,
ACL 2021; lemon234071/AdaLabel ``BiTransformerDecoder``), which ``--criterion adalabel`` trains
alongside the model and reads its smoothing distribution from.

The auxiliary decoder is one decoder layer over the response that sees every token except the
one it predicts: at position t (input y_{t-1}, target y_t) its self-attention masks only
position t + 1, whose input is y_t, so it reads the past and the future of y_t. It shares the
token embeddings with the decoder (as the reference) and has its own output projection.

Generation never calls it: fairseq's sequence generator runs ``encoder`` and ``decoder`` only,
so a checkpoint decodes with stock fairseq-generate/-interactive exactly as a ``transformer_nd``
one, and costs the same. Choices where the reference does not carry over: the layer follows the
main decoder's fairseq configuration (post-norm unless ``--decoder-normalize-before``), and its
output projection is fairseq's (no bias; tied to the embeddings when the decoder's is, with
``--share-decoder-input-output-embed``), where the reference's has a bias and is untied.
"""
import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import TransformerConfig, TransformerDecoderBase, tiny_architecture
from torch import Tensor

from .transformer_nd import TransformerNDModel, transformer_nd_base


def next_token_mask(length: int, device=None) -> Tensor:
    """length x length additive self-attention mask hiding key t + 1 from query t, the input
    that holds the token query t predicts; every other key is visible."""
    mask = torch.zeros(length, length, device=device)
    index = torch.arange(length - 1, device=device)
    mask[index, index + 1] = float("-inf")
    return mask


class NextTokenMaskedDecoder(TransformerDecoderBase):
    """A fairseq decoder whose self-attention sees the whole response except the predicted token."""

    def buffered_future_mask(self, tensor):
        # fairseq asks for the causal mask here in teacher-forced passes; ours replaces it
        return next_token_mask(tensor.size(0), tensor.device).to(tensor.dtype)


@register_model("transformer_adalabel")
class TransformerAdaLabelModel(TransformerNDModel):
    """``transformer_nd`` with ``bidecoder``, AdaLabel's auxiliary decoder (training only)."""

    @classmethod
    def build_model(cls, args, task):
        model = super().build_model(args, task)
        cfg = TransformerConfig.from_namespace(args)  # a fresh config: the decoder's own is not touched
        cfg.decoder.layers = 1  # the reference's auxiliary decoder has one layer
        cfg.decoder.layerdrop = 0.0
        model.bidecoder = NextTokenMaskedDecoder(cfg, task.target_dictionary, model.decoder.embed_tokens)
        return model

    def forward(self, src_tokens, src_lengths, prev_output_tokens, return_bidecoder: bool = False, **kwargs):
        """fairseq's forward; with ``return_bidecoder`` the decoder's ``extra`` also holds
        ``bidecoder_logits`` (B x T x V), the auxiliary decoder's scores on the same response."""
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths, return_all_hiddens=True)
        x, extra = self.decoder(prev_output_tokens, encoder_out=encoder_out, src_lengths=src_lengths,
                                return_all_hiddens=True, **kwargs)
        if return_bidecoder:
            extra["bidecoder_logits"] = self.bidecoder(prev_output_tokens, encoder_out=encoder_out)[0]
        return x, extra


@register_model_architecture("transformer_adalabel", "transformer_adalabel")
def transformer_adalabel_base(args):
    """The sizes of ``transformer_nd`` (the paper's), plus the one-layer auxiliary decoder."""
    transformer_nd_base(args)


@register_model_architecture("transformer_adalabel", "transformer_adalabel_tiny")
def transformer_adalabel_tiny(args):
    """The sizes of ``transformer_nd_tiny``, plus the one-layer auxiliary decoder."""
    tiny_architecture(args)
