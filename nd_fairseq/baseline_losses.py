"""The baselines' formulas as plain functions (the paper's Table 3 systems), each tested
against a loop written from its definition.

FACE (Jiang et al., WWW 2019; the authors' ``face/face.py``): frequency-aware cross entropy.
Vocabulary unlikelihood (Li et al., ACL 2020; ParlAI ``projects/dialogue_unlikelihood/agents.py``,
``SequenceVocabUnlikelihoodAgentTrait``): penalise the tokens the model over-produces.
Negative training (He & Glass, ACL 2020; cloudygoose/negativetraining_acl2020
``seq2seq/neg_freq_posttrain_seq2seq.py``): lower the likelihood of frequent responses.
Token-level unlikelihood (Welleck et al., ICLR 2020; ``custom/candidate_penalty_ce_loss.py``
of facebookresearch/unlikelihood_training): the response's previous tokens as negative
candidates.
AdaLabel (Wang et al., ACL 2021; lemon234071/AdaLabel ``onmt/utils/loss.py``, ``AdaLabLoss``):
adaptive label smoothing, its smoothing distribution from an auxiliary decoder.
CVAE (Zhao et al., ACL 2017; snakeztc/NeuralDialog-CVAE ``models/cvae.py``): the KL between
recognition and prior networks, its annealing, and the bag-of-words loss.
"""
import torch
from torch import Tensor

from .losses import log1m_softmax_at


def response_token_counts(tokens: Tensor, mask: Tensor, eos: int, vocab_size: int, count_eos: bool = False) -> Tensor:
    """How often each token id occurs in a batch of responses, each cut after its first EOS
    (as FACE's ``clean_preds`` cuts the model's predictions). The EOS itself is not counted,
    as FACE's ``update_frequency`` skips it; ``count_eos`` counts it too.

    Args: tokens (B, T) long; mask bool (B, T), True at the positions that exist (not padding).
    Returns: (vocab_size,) float64 counts.
    """
    eos_at = (tokens == eos) & mask
    # positions after the first EOS of their row: an EOS at some earlier position
    after_eos = (eos_at.long().cumsum(-1) - eos_at.long()) > 0
    keep = mask & ~after_eos
    if not count_eos:
        keep = keep & ~eos_at
    counts = torch.zeros(vocab_size, dtype=torch.float64, device=tokens.device)
    return counts.index_add_(0, tokens[keep], torch.ones_like(tokens[keep], dtype=torch.float64))


def face_pre_weights(counts: Tensor) -> Tensor:
    """FACE's pre-weights from token counts: with RF = counts / sum(counts),
    w_c = 1 - RF_c / max RF, renormalised so that sum_c w_c = |V|. All ones while nothing has
    been counted, or where every token is equally frequent (no token to favour).
    Args: counts (V,). Returns: (V,) float32."""
    total = counts.sum()
    if total <= 0:
        return torch.ones_like(counts, dtype=torch.float32)
    rf = counts / total
    weights = 1.0 - rf / rf.max()
    if weights.sum() <= 0:
        return torch.ones_like(counts, dtype=torch.float32)
    return (weights / weights.sum() * counts.numel()).float()


def face_post_weights(counts: Tensor, predicted: Tensor, target: Tensor) -> Tensor:
    """FACE's post-weights, one per position: 1 + relu(f(predicted) - f(target)) / sum f, with
    f the token counts. Args: counts (V,); predicted, target (B, T) long. Returns: (B, T) float32."""
    total = counts.sum()
    if total <= 0:
        return torch.ones(target.shape, dtype=torch.float32, device=target.device)
    return (1.0 + torch.relu(counts[predicted] - counts[target]) / total).float()


def weighted_nll(lprobs: Tensor, target: Tensor, weights: Tensor, mask: Tensor) -> Tensor:
    """sum over valid positions t of weights_t * (-log p(y_t)): FACE's loss, the reference's
    ``CrossEntropyLoss(weight=w, reduction='sum')`` (pre-weights, weights_t = w[y_t]) or its
    per-position post-weighting. Args: lprobs (B, T, V) log-probabilities; target, weights, mask
    (B, T). Returns: a float32 scalar."""
    nll = -lprobs.float().gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return torch.where(mask, weights * nll, 0.0).sum()


def previous_token_candidates(target: Tensor, pad: int) -> Tensor:
    """Welleck et al.'s candidates C_t = {y_1 .. y_t-1} - {y_t} of each position, as a mask over
    earlier positions: out[b, t, s] is True when y_s is a candidate of position t, counting each
    distinct token once (at its first occurrence); padding is never a candidate nor a position.
    Args: target (B, T) long. Returns: bool (B, T, T)."""
    length = target.size(1)
    earlier = torch.ones(length, length, dtype=torch.bool, device=target.device).tril(-1)  # [t, s]: s < t
    same = target.unsqueeze(2) == target.unsqueeze(1)  # [b, t, s]: y_t == y_s
    seen_before = (same & earlier).any(-1)  # [b, s]: y_s occurred before s
    valid = target.ne(pad)
    return (earlier & ~same & (valid & ~seen_before).unsqueeze(1) & valid.unsqueeze(2))


def token_unlikelihood(logits: Tensor, target: Tensor, pad: int) -> Tensor:
    """-sum_t sum_{c in C_t} log(1 - p(c | y_<t)), with C_t the previous-token candidates.
    Args: logits (B, T, V); target (B, T). Returns: a float32 scalar."""
    candidates = previous_token_candidates(target, pad)
    tokens = target.unsqueeze(1).expand(-1, target.size(1), -1)  # [b, t, s] = y_s
    log1m = log1m_softmax_at(logits, tokens)  # log(1 - p_t(y_s))
    return -torch.where(candidates, log1m, 0.0).sum()


def over_production_weights(generated: Tensor, human: Tensor, weighting: str, threshold: float) -> Tensor:
    """The vocabulary-unlikelihood weight of every token, from how often the model generated it
    and how often humans used it (counts over the same batches): with p_gen, p_hum the two
    relative frequencies,
      uniform: 1 where p_gen - p_hum >= threshold;
      logdiff: log((p_gen - p_hum) / 0.001) there;
      kldiv:   p_gen * log(p_gen / p_hum) where both are > 0, p_gen > p_hum and this exceeds threshold;
    0 (not penalised) elsewhere and for tokens never generated.
    Args: generated, human (V,) counts. Returns: (V,) float32."""
    p_gen = generated / generated.sum().clamp(min=1)
    p_hum = human / human.sum().clamp(min=1)
    produced = generated > 0
    if weighting == "kldiv":
        both = produced & (human > 0) & (p_gen > p_hum)
        value = torch.where(both, p_gen * (p_gen.log() - p_hum.log()), 0.0)
        return torch.where(both & (value > threshold), value, 0.0).float()
    over = produced & (p_gen - p_hum >= threshold)
    if weighting == "uniform":
        return over.float()
    if weighting == "logdiff":
        return torch.where(over, torch.log((p_gen - p_hum).clamp(min=threshold) / 0.001), 0.0).float()
    raise ValueError(f"over_production_weights: unknown weighting '{weighting}'")


def vocab_unlikelihood(logits: Tensor, generated: Tensor, weights: Tensor, mask: Tensor):
    """(sum over generated tokens with a weight of -w(y) log(1 - p(y)), how many such tokens):
    the unlikelihood of the model's own generation, teacher-forced on it.
    Args: logits (B, T, V) of the model forced on ``generated`` (B, T); weights (V,);
    mask (B, T) True at generated tokens. Returns: (float32 scalar, long scalar)."""
    token_weights = weights[generated]
    penalised = mask & (token_weights != 0)
    log1m = log1m_softmax_at(logits, generated.unsqueeze(-1)).squeeze(-1)
    return -torch.where(penalised, token_weights * log1m, 0.0).sum(), penalised.sum()


def frequent_responses(history: dict, responses, threshold: float):
    """Which responses are frequent: a share of the responses in ``history`` (response ->
    count) above ``threshold`` (NT's r_thres). Returns a list of bools, one per response."""
    total = sum(history.values())
    return [total > 0 and history.get(r, 0) / total > threshold for r in responses]


def negative_log_likelihood(lprobs: Tensor, responses: Tensor, negative: Tensor, mask: Tensor, eos: int,
                            eos_weight: float = 0.1) -> Tensor:
    """NT's negative term: sum over the negative responses of sum_t w_t log p(g_t), with
    w_t = eos_weight at EOS and 1 elsewhere; minimising it lowers their likelihood.
    Args: lprobs (B, T, V) log-probabilities of the model forced on ``responses`` (B, T);
    negative bool (B,); mask (B, T) True at tokens. Returns: a float32 scalar."""
    logp = lprobs.float().gather(-1, responses.unsqueeze(-1)).squeeze(-1)
    weights = torch.where(responses == eos, eos_weight, 1.0)
    keep = mask & negative.unsqueeze(1)
    return torch.where(keep, weights * logp, 0.0).sum()


def adalabel_smoothing_distribution(scores: Tensor, target: Tensor, padding_idx: int, temperature: float = 1.5,
                                    last_rank: int = 500) -> tuple[Tensor, Tensor]:
    """AdaLabel's v: softmax(scores / temperature) over the tokens ranked 2..last_rank once the
    gold token and padding are left out (the top-ranked one is dropped too, as the reference's
    ``_get_v`` with top_head 2, top_tail 500).

    v is zero beyond those last_rank - 1 tokens, so it is returned as its support, which keeps
    the KL and epsilon at (N, last_rank) instead of (N, V): at DailyDialog's 18k words that cut
    AdaLabel's step time by 30% (BENCHMARKS.md). The reference drops tokens by thresholds,
    so it would also keep a token tied exactly with rank last_rank; here exactly those ranks.

    Args: scores (N, V), the auxiliary decoder's logits at N target positions; target (N,).
    Returns: probs (N, K) and index (N, K), K = min(last_rank, V) - 1: v[n, index[n, j]] = probs[n, j],
    v zero elsewhere; probs[:, 0] is v's largest.
    """
    ranked = scores.scatter(1, target[:, None], float("-inf"))
    ranked[:, padding_idx] = float("-inf")
    top, index = ranked.topk(min(last_rank, ranked.size(1)), dim=1)  # a positive temperature keeps the ranks
    return (top[:, 1:] / temperature).softmax(dim=1), index[:, 1:]


def adalabel_epsilon(lprobs: Tensor, target: Tensor, v_max: Tensor, margin: float = 0.2,
                     power: float = 2.0) -> Tensor:
    """AdaLabel's smoothing weight of each position, from the model's (detached) distribution p:
    eps = (p_y / p_max)^power * min(1 - p_max, 1 / (1 + max v) - margin).

    Args: lprobs (N, V) log-probabilities; target (N,); v_max (N,), the largest entry of each v.
    Returns: (N,).
    """
    lprobs = lprobs.detach()
    p_max = lprobs.max(dim=1).values.exp()
    p_gold = lprobs.gather(1, target[:, None]).squeeze(1).exp()
    return (p_gold / p_max).pow(power) * torch.minimum(1 - p_max, 1 / (1 + v_max) - margin)


def adalabel_loss(lprobs: Tensor, target: Tensor, epsilon: Tensor, v_probs: Tensor, v_index: Tensor) -> Tensor:
    """Sum over positions of KL(q || p) = sum_c q_c (log q_c - log p_c), with
    q = (1 - eps) onehot(y) + eps v; v (zero at y) given by its support, as
    adalabel_smoothing_distribution returns it; 0 log 0 = 0.

    Args: lprobs (N, V); target (N,); epsilon (N,); v_probs, v_index (N, K). Returns: a scalar.
    """
    q_gold = 1 - epsilon
    q_rest = epsilon[:, None] * v_probs
    gold = torch.xlogy(q_gold, q_gold) - q_gold * lprobs.gather(1, target[:, None]).squeeze(1)
    rest = torch.xlogy(q_rest, q_rest) - q_rest * lprobs.gather(1, v_index)
    return gold.sum() + rest.sum()


def gaussian_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, diag exp(logvar_q)) || N(mu_p, diag exp(logvar_p))) of each row, the CVAE's
    (Zhao et al., ACL 2017; NeuralDialog-CVAE ``gaussian_kld``) between recognition and prior.
    Args: (B, Z) each. Returns: (B,)."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1).sum(-1)


def kl_annealing_weight(update: int, anneal_updates: int) -> float:
    """The CVAE's KL weight: linear from 0 at update 0 to 1 at ``anneal_updates``, then 1."""
    return 1.0 if anneal_updates <= 0 else min(1.0, update / anneal_updates)


def bag_of_words_nll(bow_logits: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """The CVAE's bag-of-words loss: -sum over each response's tokens of log softmax(bow_logits)[y],
    one bag-of-words distribution per response, summed over the batch.
    Args: bow_logits (B, V); target (B, T); mask (B, T) True at tokens. Returns: a scalar."""
    lprobs = bow_logits.float().log_softmax(-1).gather(1, target)
    return -(lprobs * mask).sum()
