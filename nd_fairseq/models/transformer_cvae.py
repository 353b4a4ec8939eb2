"""``transformer_cvae``: ``transformer_nd`` with a latent variable z (Zhao et al., ACL 2017;
snakeztc/NeuralDialog-CVAE ``models/cvae.py``), trained with ``--criterion cvae``.

The networks are the reference's, on pooled encoder states instead of RNN states: the query
c is the mean of the encoder's outputs over the source tokens, the response x the mean of the
same encoder's outputs over the response (the reference also shares its utterance encoder).

- prior p(z | c) = N(mu, diag exp(logvar)) with [mu, logvar] = W2 tanh(W1 c), W1 of width
  max(2 |z|, 100);
- recognition q(z | c, x), [mu, logvar] = W [c; x];
- bag of words: softmax(W4 tanh(W3 [c; z])), width 400, predicts the response's tokens.

In training (and validation) z is drawn from q; when fairseq generates, the encoder sees no
response and draws z from p, once per query (``--seed`` makes it reproducible). z enters the
decoder as one more encoder output that cross-attention reads (the reference initialises its
RNN decoder with [c; z]; a transformer decoder has no initial state). Living in the encoder's
output, z is reordered with it by beam search and kept in the incremental state, so stock
fairseq-generate and fairseq-interactive decode a checkpoint.
"""
import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.transformer import TransformerConfig, TransformerEncoderBase, tiny_architecture
from torch import Tensor, nn

from .transformer_nd import TransformerNDModel, transformer_nd_base


def mean_over_tokens(states: Tensor, padding_mask: Tensor) -> Tensor:
    """B x C mean of T x B x C encoder outputs over the positions that are not padding."""
    keep = (~padding_mask).t().unsqueeze(-1).type_as(states)
    return (states * keep).sum(0) / keep.sum(0).clamp(min=1)


def sample_gaussian(mu: Tensor, logvar: Tensor) -> Tensor:
    """z = mu + exp(logvar / 2) * noise, differentiable in mu and logvar."""
    return mu + (0.5 * logvar).exp() * torch.randn_like(mu)


class CVAEEncoder(TransformerEncoderBase):
    """fairseq's encoder, plus the prior and recognition networks; z joins its output."""

    def __init__(self, cfg, dictionary, embed_tokens, latent_dim: int):
        super().__init__(cfg, dictionary, embed_tokens)
        dim = cfg.encoder.embed_dim
        hidden = max(2 * latent_dim, 100)
        self.prior = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 2 * latent_dim))
        self.recognition = nn.Linear(2 * dim, 2 * latent_dim)
        self.latent_to_memory = nn.Linear(latent_dim, dim)

    def forward(self, src_tokens, src_lengths=None, return_all_hiddens=False, token_embeddings=None,
                response_tokens=None):
        """fairseq's encoder output with z appended to ``encoder_out`` (one more position) and,
        in ``cvae``, the prior's and (given ``response_tokens``) the recognition network's
        mu and logvar, the query c and z, for the criterion."""
        out = super().forward(src_tokens, src_lengths, return_all_hiddens, token_embeddings)
        query = mean_over_tokens(out["encoder_out"][0], src_tokens.eq(self.padding_idx))
        mu_p, logvar_p = self.prior(query).chunk(2, dim=-1)
        cvae = {"mu_p": mu_p, "logvar_p": logvar_p, "query": query}
        if response_tokens is None:  # generation: from the prior
            z = sample_gaussian(mu_p, logvar_p)
        else:
            response = mean_over_tokens(super().forward(response_tokens)["encoder_out"][0],
                                        response_tokens.eq(self.padding_idx))
            mu_q, logvar_q = self.recognition(torch.cat([query, response], dim=-1)).chunk(2, dim=-1)
            z = sample_gaussian(mu_q, logvar_q)
            cvae.update(mu_q=mu_q, logvar_q=logvar_q)
        cvae["z"] = z
        memory = self.latent_to_memory(z).unsqueeze(0).type_as(out["encoder_out"][0])
        out["encoder_out"] = [torch.cat([out["encoder_out"][0], memory], dim=0)]
        mask = out["encoder_padding_mask"][0]
        out["encoder_padding_mask"] = [torch.cat([mask, mask.new_zeros(mask.size(0), 1)], dim=1)]
        out["cvae"] = cvae
        return out


@register_model("transformer_cvae")
class TransformerCVAEModel(TransformerNDModel):
    """``transformer_nd`` with z: ``encoder`` is a ``CVAEEncoder``, ``bag_of_words`` the
    bag-of-words network (training only)."""

    @staticmethod
    def add_args(parser):
        TransformerNDModel.add_args(parser)
        parser.add_argument("--cvae-latent-dim", type=int, metavar="N",
                            help="size of the latent z (default 256, the paper's DailyDialog setting)")

    @classmethod
    def build_encoder(cls, args, src_dict, embed_tokens):
        return CVAEEncoder(TransformerConfig.from_namespace(args), src_dict, embed_tokens, args.cvae_latent_dim)

    @classmethod
    def build_model(cls, args, task):
        model = super().build_model(args, task)
        dim = args.encoder_embed_dim
        model.bag_of_words = nn.Sequential(nn.Linear(dim + args.cvae_latent_dim, 400), nn.Tanh(),
                                           nn.Linear(400, len(task.target_dictionary)))
        return model

    def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
        """Teacher-forced: z from the recognition network on the response (``prev_output_tokens``
        holds it, after the leading EOS); the decoder's ``extra`` gets ``cvae``: mu_q, logvar_q,
        mu_p, logvar_p (B x |z|) and ``bow_logits`` (B x V)."""
        encoder_out = self.encoder(src_tokens, src_lengths=src_lengths, return_all_hiddens=True,
                                   response_tokens=prev_output_tokens)
        x, extra = self.decoder(prev_output_tokens, encoder_out=encoder_out, src_lengths=src_lengths,
                                return_all_hiddens=True, **kwargs)
        cvae = encoder_out["cvae"]
        extra["cvae"] = {key: cvae[key] for key in ("mu_q", "logvar_q", "mu_p", "logvar_p")}
        extra["cvae"]["bow_logits"] = self.bag_of_words(torch.cat([cvae["query"], cvae["z"]], dim=-1))
        return x, extra


def cvae_defaults(args):
    args.cvae_latent_dim = getattr(args, "cvae_latent_dim", None) or 256


@register_model_architecture("transformer_cvae", "transformer_cvae")
def transformer_cvae_base(args):
    """The sizes of ``transformer_nd`` (the paper's), z of 256."""
    cvae_defaults(args)
    transformer_nd_base(args)


@register_model_architecture("transformer_cvae", "transformer_cvae_tiny")
def transformer_cvae_tiny(args):
    """The sizes of ``transformer_nd_tiny``, z of 256."""
    cvae_defaults(args)
    tiny_architecture(args)
