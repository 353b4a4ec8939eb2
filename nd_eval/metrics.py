"""Dist-n, LF, KL-n and BLEU-n as the paper computes them.

The paper's Dist/KL/BLEU numbers come from the evaluation code of Csaky et al. (2019),
github.com/ricsinaruto/dialog-eval (code/metrics/), and LF from AdaLabel's script. These
functions compute what that code computes, quirks included (each marked "as dialog-eval"),
so that our numbers can sit next to the paper's; ``kl_exact`` is the textbook divergence on
the same support. Tokens are whitespace-split, never lowercased. Written here rather than
imported because dialog-eval is not a package (it is a script tree with hard-coded paths).
"""
import math
import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, Iterable, List, Optional, Sequence

import sacrebleu
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from .self_bleu import self_bleu

UNK = "<unk>"
BLEU_WEIGHTS = {"bleu-3": (0.33, 0.33, 0.33, 0), "bleu-4": (0.25, 0.25, 0.25, 0.25)}


def map_unk(tokens: Sequence[str], vocab) -> List[str]:
    return [t if t in vocab else UNK for t in tokens]


def ngram_counts(lines: Iterable[Sequence[str]], n: int, vocab=None) -> Counter:
    """n-grams of each line (never across lines), tokens outside ``vocab`` mapped to <unk>."""
    counts = Counter()
    for tokens in lines:
        if vocab is not None:
            tokens = map_unk(tokens, vocab)
        counts.update(zip(*(tokens[i:] for i in range(n))))
    return counts


def distinct(lines, n: int, vocab=None, counts: Optional[Counter] = None) -> float:
    """Corpus-level Dist-n: distinct n-grams / all n-grams of the file (0 when it has none).
    ``counts``: the file's n-gram counts, if already made."""
    counts = ngram_counts(lines, n, vocab) if counts is None else counts
    total = sum(counts.values())
    return len(counts) / total if total else 0.0


def entropy(counts: Counter) -> float:
    """Ent-n (Zhang et al. 2018): the entropy, in nats, of the corpus' n-gram distribution
    (``counts``: every n-gram of every response, never across responses); 0 when it is empty."""
    total = sum(counts.values())
    return -math.fsum(c / total * math.log(c / total) for c in counts.values()) if total else 0.0


def response_statistics(lines, length_limit: int = 50) -> Dict[str, float]:
    """mean-length (tokens a response), at-limit (the share of responses of length_limit tokens or
    more: generation cut them, as --max-len-b does), distinct-responses (how many different
    responses) and top10-share (the share of responses that are one of the ten commonest)."""
    if not lines:
        return {"mean-length": 0.0, "at-limit": 0.0, "distinct-responses": 0, "top10-share": 0.0}
    responses = Counter(" ".join(tokens) for tokens in lines)
    return {
        "mean-length": sum(len(tokens) for tokens in lines) / len(lines),
        "at-limit": sum(1 for tokens in lines if len(tokens) >= length_limit) / len(lines),
        "distinct-responses": len(responses),
        "top10-share": sum(c for _, c in responses.most_common(10)) / len(lines),
    }


def low_frequency_ratio(lines, train_counts: Counter, threshold: int = 100) -> float:
    """LF: share of hypothesis tokens seen 1 <= c < threshold times in the training responses."""
    tokens = [t for line in lines for t in line]
    if not tokens:
        return 0.0
    return sum(1 for t in tokens if 1 <= train_counts.get(t, 0) < threshold) / len(tokens)


def _shared_distributions(hyp: Counter, ref: Counter):
    """Both distributions restricted to the n-grams present in both, renormalised."""
    support = hyp.keys() & ref.keys()
    hyp_total = sum(hyp[k] for k in support)
    ref_total = sum(ref[k] for k in support)
    return ({k: hyp[k] / hyp_total for k in support}, {k: ref[k] / ref_total for k in support})


def _counts(hyps, refs, n, vocab, hyp_counts, ref_counts):
    """The n-gram counts of both files; precomputed ones (from ``evaluate``) are reused."""
    return (
        ngram_counts(hyps, n, vocab) if hyp_counts is None else hyp_counts,
        ngram_counts(refs, n, vocab) if ref_counts is None else ref_counts,
    )


def kl_dialog_eval(hyps, refs, n: int, vocab, hyp_counts=None, ref_counts=None) -> float:
    """KL-n as dialog-eval: per reference line, the mean of log2(P_ref / P_hyp) over its
    n-grams in the shared support, then the mean over the lines that have any (n = 1, 2).

    As dialog-eval, the support test of a reference token uses the raw token, so reference
    tokens outside the vocabulary are skipped as unigrams and as the first word of a bigram,
    while the second word of a bigram is mapped to <unk>.
    """
    if n not in (1, 2):
        raise ValueError("dialog-eval defines KL for unigrams and bigrams only")
    p_hyp, p_ref = _shared_distributions(*_counts(hyps, refs, n, vocab, hyp_counts, ref_counts))
    log_ratio = {k: math.log2(p_ref[k] / p_hyp[k]) for k in p_hyp}  # once per n-gram, not per occurrence
    per_line = []
    for tokens in refs:
        if n == 1:  # raw token: dialog-eval's check precedes the <unk> mapping
            terms = [log_ratio[(word,)] for word in tokens if (word,) in log_ratio]
        else:
            mapped = [t if t in vocab else UNK for t in tokens[1:]]
            terms = [log_ratio[b] for b in zip(tokens, mapped) if b in log_ratio]
        if terms:
            per_line.append(sum(terms) / len(terms))
    return sum(per_line) / len(per_line) if per_line else 0.0


def kl_exact(hyps, refs, n: int, vocab, hyp_counts=None, ref_counts=None) -> float:
    """Textbook KL(P_ref || P_hyp) in bits on the same shared, renormalised support."""
    p_hyp, p_ref = _shared_distributions(*_counts(hyps, refs, n, vocab, hyp_counts, ref_counts))
    return sum(p * math.log2(p / p_hyp[k]) for k, p in p_ref.items())


def _sentence_bleus(pairs) -> List[List[float]]:
    """For each (hyp, ref) of ``pairs``, its sentence score under each BLEU_WEIGHTS."""
    smoothing = SmoothingFunction().method4
    weights = list(BLEU_WEIGHTS.values())
    scores = []
    for hyp, ref in pairs:
        try:
            # one call for all weights: nltk counts the n-gram matches once
            scores.append(sentence_bleu([ref], hyp, weights=weights, smoothing_function=smoothing))
        except (KeyError, ZeroDivisionError):
            scores.append([0.0] * len(weights))
    return scores


def _bleu_sums(pairs) -> List[float]:
    """Sums over ``pairs`` of (hyp, ref) of each BLEU_WEIGHTS score."""
    sums = [0.0] * len(BLEU_WEIGHTS)
    for scores in _sentence_bleus(pairs):
        sums = [s + v for s, v in zip(sums, scores)]
    return sums


def _bleu_means(sums_per_chunk, lines: int) -> Dict[str, float]:
    sums = [sum(values) for values in zip(*sums_per_chunk)]
    return {name: s / lines if lines else 0.0 for name, s in zip(BLEU_WEIGHTS, sums)}


def sacre_bleu(hyps, refs) -> Dict[str, object]:
    """sacreBLEU's corpus BLEU (a fraction) and its signature; the responses are already
    tokenized, hence tok:none (``force``: no detokenization warning)."""
    metric = sacrebleu.metrics.BLEU(tokenize="none", force=True)
    score = metric.corpus_score([" ".join(h) for h in hyps], [[" ".join(r) for r in refs]]).score
    return {"sacrebleu": score / 100, "sacrebleu_signature": str(metric.get_signature())}


def _worker_count(lines: int, parallel_from: int) -> int:
    """Worker processes for the slow scores (nltk BLEU and sacreBLEU, together ~3/4 of the
    time): 0 below ``parallel_from`` lines or on one core, where starting them costs more."""
    workers = min(os.cpu_count() or 1, 8)
    return workers if lines >= parallel_from and workers >= 2 else 0


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))


def _chunks(items, parts: int):
    step = max(1, -(-len(items) // parts))
    return [items[i:i + step] for i in range(0, len(items), step)]


def bleu(hyps, refs, parallel_from: int = 4000) -> Dict[str, float]:
    """BLEU-3/4 as dialog-eval: nltk sentence_bleu per line, one reference, Chen & Cherry
    smoothing method 4, averaged over lines; a line nltk fails on counts 0. From
    ``parallel_from`` lines on, the lines are split over the machine's cores (each line's
    score is unchanged)."""
    pairs = list(zip(hyps, refs))
    workers = _worker_count(len(pairs), parallel_from)
    if not workers:
        return _bleu_means([_bleu_sums(pairs)], len(pairs))
    with _pool(workers) as pool:
        return _bleu_means(pool.map(_bleu_sums, _chunks(pairs, workers)), len(pairs))


def sentence_bleu_scores(hyps, refs, parallel_from: int = 4000) -> Dict[str, List[float]]:
    """{bleu-3, bleu-4: each line's sentence score}, as ``bleu`` computes them before averaging."""
    pairs = list(zip(hyps, refs))
    workers = _worker_count(len(pairs), parallel_from)
    if not workers:
        per_line = _sentence_bleus(pairs)
    else:
        with _pool(workers) as pool:
            per_line = [scores for part in pool.map(_sentence_bleus, _chunks(pairs, workers)) for scores in part]
    return {name: [scores[i] for scores in per_line] for i, name in enumerate(BLEU_WEIGHTS)}


def _counting_metrics(hyps, refs, train, vocab) -> Dict[str, float]:
    """Dist-1/2/3, LF, KL-1/2 and their exact versions, from n-gram counts made once."""
    train_counts = Counter(t for line in train for t in line)
    if vocab is None:
        vocab = set(train_counts)
    hyp_counts = {n: ngram_counts(hyps, n, vocab) for n in (1, 2, 3, 4)}
    ref_counts = {n: ngram_counts(refs, n, vocab) for n in (1, 2)}
    scores = {f"dist-{n}": distinct(hyps, n, counts=hyp_counts[n]) for n in (1, 2, 3)}
    scores.update({f"ent-{n}": entropy(hyp_counts[n]) for n in (1, 2, 3, 4)})
    scores["lf"] = low_frequency_ratio(hyps, train_counts)
    for n in (1, 2):
        scores[f"kl-{n}"] = kl_dialog_eval(hyps, refs, n, vocab, hyp_counts[n], ref_counts[n])
        scores[f"kl-{n}-exact"] = kl_exact(hyps, refs, n, vocab, hyp_counts[n], ref_counts[n])
    return scores


def evaluate(hyps, refs, train, vocab: Optional[set] = None, parallel_from: int = 4000,
             length_limit: int = 50) -> Dict[str, object]:
    """All metrics for one system, sacreBLEU and Self-BLEU included. ``hyps``, ``refs``: token
    lists, aligned; ``train``: token lists of the training responses; ``vocab`` defaults to the
    training tokens; ``length_limit``: the generation's length limit (``at-limit``). From
    ``parallel_from`` lines on, worker processes compute nltk BLEU (in chunks), sacreBLEU and
    Self-BLEU while this process computes the rest; the scores are the same."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    pairs = list(zip(hyps, refs))
    workers = _worker_count(len(pairs), parallel_from)
    if not workers:
        scores = _counting_metrics(hyps, refs, train, vocab)
        scores.update(_bleu_means([_bleu_sums(pairs)], len(pairs)))
        scores.update(sacre_bleu(hyps, refs))
        scores["self-bleu-4"] = self_bleu(hyps)
    else:
        with _pool(workers) as pool:
            sacre = pool.submit(sacre_bleu, hyps, refs)
            self_bleu_4 = pool.submit(self_bleu, hyps)
            bleu_parts = [pool.submit(_bleu_sums, chunk) for chunk in _chunks(pairs, workers)]
            scores = _counting_metrics(hyps, refs, train, vocab)
            scores.update(_bleu_means([part.result() for part in bleu_parts], len(pairs)))
            scores.update(sacre.result())
            scores["self-bleu-4"] = self_bleu_4.result()
    scores.update(response_statistics(hyps, length_limit))
    return scores
