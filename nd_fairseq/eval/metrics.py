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

from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

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
    per_line = []
    for tokens in refs:
        terms = []
        for i, word in enumerate(tokens):
            if n == 1:
                if (word,) in p_hyp:  # raw token (dialog-eval's check precedes the <unk> mapping)
                    terms.append(math.log2(p_ref[(word,)] / p_hyp[(word,)]))
            elif i < len(tokens) - 1:
                bigram = (word, tokens[i + 1] if tokens[i + 1] in vocab else UNK)
                if bigram in p_hyp:
                    terms.append(math.log2(p_ref[bigram] / p_hyp[bigram]))
        if terms:
            per_line.append(sum(terms) / len(terms))
    return sum(per_line) / len(per_line) if per_line else 0.0


def kl_exact(hyps, refs, n: int, vocab, hyp_counts=None, ref_counts=None) -> float:
    """Textbook KL(P_ref || P_hyp) in bits on the same shared, renormalised support."""
    p_hyp, p_ref = _shared_distributions(*_counts(hyps, refs, n, vocab, hyp_counts, ref_counts))
    return sum(p * math.log2(p / p_hyp[k]) for k, p in p_ref.items())


def _bleu_sums(pairs) -> List[float]:
    """Sums over ``pairs`` of (hyp, ref) of each BLEU_WEIGHTS score."""
    smoothing = SmoothingFunction().method4
    weights = list(BLEU_WEIGHTS.values())
    sums = [0.0] * len(weights)
    for hyp, ref in pairs:
        try:
            # one call for all weights: nltk counts the n-gram matches once
            scores = sentence_bleu([ref], hyp, weights=weights, smoothing_function=smoothing)
        except (KeyError, ZeroDivisionError):
            scores = [0.0] * len(weights)
        sums = [s + v for s, v in zip(sums, scores)]
    return sums


def bleu(hyps, refs, parallel_from: int = 4000) -> Dict[str, float]:
    """BLEU-3/4 as dialog-eval: nltk sentence_bleu per line, one reference, Chen & Cherry
    smoothing method 4, averaged over lines; a line nltk fails on counts 0. nltk dominates
    the evaluation's time, so from ``parallel_from`` lines on, the lines are split over the
    machine's cores (each line's score is unchanged)."""
    pairs = list(zip(hyps, refs))
    workers = min(os.cpu_count() or 1, 8)
    if len(pairs) < parallel_from or workers < 2:
        sums = _bleu_sums(pairs)
    else:
        step = -(-len(pairs) // workers)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_bleu_sums, [pairs[i:i + step] for i in range(0, len(pairs), step)]))
        sums = [sum(values) for values in zip(*parts)]
    return {name: s / len(pairs) if pairs else 0.0 for name, s in zip(BLEU_WEIGHTS, sums)}


def evaluate(hyps, refs, train, vocab: Optional[set] = None) -> Dict[str, float]:
    """All metrics for one system. ``hyps``, ``refs``: token lists, aligned; ``train``:
    token lists of the training responses; ``vocab`` defaults to the training tokens."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    train_counts = Counter(t for line in train for t in line)
    if vocab is None:
        vocab = set(train_counts)
    hyp_counts = {n: ngram_counts(hyps, n, vocab) for n in (1, 2, 3)}
    ref_counts = {n: ngram_counts(refs, n, vocab) for n in (1, 2)}
    scores = {f"dist-{n}": distinct(hyps, n, counts=hyp_counts[n]) for n in (1, 2, 3)}
    scores["lf"] = low_frequency_ratio(hyps, train_counts)
    for n in (1, 2):
        scores[f"kl-{n}"] = kl_dialog_eval(hyps, refs, n, vocab, hyp_counts[n], ref_counts[n])
    scores.update(bleu(hyps, refs))
    for n in (1, 2):
        scores[f"kl-{n}-exact"] = kl_exact(hyps, refs, n, vocab, hyp_counts[n], ref_counts[n])
    return scores
