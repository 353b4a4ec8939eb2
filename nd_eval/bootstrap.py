"""Paired bootstrap of metric ratios between systems decoded on the same queries.

For N resamples of the test queries (drawn with replacement, the same indices for every
system), each metric is recomputed on the resampled responses of system A and of the
baseline B, and the ratio A/B is kept; the interval is the 2.5 and 97.5 percentiles of those
ratios (Efron & Tibshirani's percentile interval; Koehn 2004 for the paired resampling in MT).

Dist-n and LF are corpus-level, so they are recomputed whole on each resample: a resample is
a vector ``w`` of how often each line was drawn, and a metric is a ratio of linear functions
of ``w`` (Dist-n: the number of n-gram types whose count ``w @ C`` is positive, with ``C`` the
line-by-type count matrix, over the n-gram total ``w @ len``). That makes every resample a
sparse matrix product instead of a Python recount. BLEU is the mean of the sentence scores, so
its resample is ``w @ s / lines``. KL-n is not bootstrapped: its support (the n-grams shared by
hypotheses and references) and dialog-eval's per-reference-line weighting change with each
resample in ways that do not reduce to such products; its point ratio is still reported.

A caveat for Dist-n: a resample draws about 63% of the lines, some several times, and repeated
lines add n-grams but no new types, so a resample's Dist-n is lower than the full set's, the
more so the more varied the responses. The ratio's interval is trustworthy when the two systems
are about as repetitive (ND against Standard: 1.46 in [1.40, 1.56]); between a sampled and a
greedy decoding it lies wholly below the full-set ratio (Standard's nucleus samples against its
greedy responses: 36.8, interval [27.4, 29.9]), and only the full-set ratio should be read.
"""
from collections import Counter
from typing import Dict, List, Sequence

import numpy as np
from scipy import sparse

from .metrics import map_unk, sentence_bleu_scores

BOOTSTRAPPED = ["dist-1", "dist-2", "dist-3", "lf", "bleu-3", "bleu-4", "mean-length"]


def resample_weights(lines: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, lines): how often each line is drawn in each resample of ``lines`` lines."""
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, lines, size=(resamples, lines))
    weights = np.zeros((resamples, lines), dtype=np.float64)
    for row, indices in zip(weights, drawn):
        row += np.bincount(indices, minlength=lines)
    return weights


def ngram_incidence(lines: Sequence[Sequence[str]], n: int, vocab=None) -> sparse.csr_matrix:
    """(lines, n-gram types) counts of each n-gram of each line (never across lines),
    tokens outside ``vocab`` mapped to <unk>, as ``metrics.ngram_counts``."""
    types: Dict[tuple, int] = {}
    rows, cols, vals = [], [], []
    for i, tokens in enumerate(lines):
        if vocab is not None:
            tokens = map_unk(tokens, vocab)
        for gram, count in Counter(zip(*(tokens[k:] for k in range(n)))).items():
            rows.append(i)
            cols.append(types.setdefault(gram, len(types)))
            vals.append(count)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(lines), max(len(types), 1)), dtype=np.float64)


class SystemStatistics:
    """Per-line statistics of one system's responses from which every bootstrapped metric of a
    resample ``w`` is computed (``values``)."""

    def __init__(self, hyps, refs, train_counts: Counter, vocab, bleu_scores=None):
        self.lines = len(hyps)
        self.incidence = {n: ngram_incidence(hyps, n, vocab).tocsc() for n in (1, 2, 3)}
        self.ngrams = {n: np.array([max(len(h) - n + 1, 0) for h in hyps], dtype=np.float64) for n in (1, 2, 3)}
        self.length = np.array([len(h) for h in hyps], dtype=np.float64)
        self.low_frequency = np.array([sum(1 for t in h if 1 <= train_counts.get(t, 0) < 100) for h in hyps],
                                      dtype=np.float64)
        scores = sentence_bleu_scores(hyps, refs) if bleu_scores is None else bleu_scores
        self.bleu = {name: np.asarray(values, dtype=np.float64) for name, values in scores.items()}

    def values(self, weights: np.ndarray) -> Dict[str, np.ndarray]:
        """Each metric for each row of ``weights`` (resamples, lines)."""
        out = {}
        for n, incidence in self.incidence.items():
            # types drawn at least once: (w @ C) > 0, computed as (C^T w^T)^T
            present = (incidence.T @ weights.T).T > 0
            out[f"dist-{n}"] = _ratio(present.sum(axis=1), weights @ self.ngrams[n])
        tokens = weights @ self.length
        out["lf"] = _ratio(weights @ self.low_frequency, tokens)
        for name, scores in self.bleu.items():
            out[name] = weights @ scores / self.lines
        out["mean-length"] = tokens / self.lines
        return out


def _ratio(numerator, denominator):
    numerator, denominator = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def paired_bootstrap(systems: List[SystemStatistics], baseline: SystemStatistics, resamples: int, seed: int = 1,
                     chunk: int = 100) -> List[Dict[str, Dict[str, float]]]:
    """For each system: {metric: {"ratio", "low", "high"}}, the ratio to ``baseline`` on the full
    set and the 95% percentile interval of the ratio over ``resamples`` paired resamples."""
    lines = baseline.lines
    for system in systems:
        if system.lines != lines:
            raise ValueError(f"a system has {system.lines} responses, the baseline {lines}")
    full = np.ones((1, lines))
    base_full = baseline.values(full)
    weights = resample_weights(lines, resamples, seed)
    ratios = [{k: [] for k in BOOTSTRAPPED} for _ in systems]
    for start in range(0, resamples, chunk):  # bounded memory: (chunk, n-gram types) at a time
        w = weights[start:start + chunk]
        base = baseline.values(w)
        for system, kept in zip(systems, ratios):
            for key, value in system.values(w).items():
                kept[key].append(_ratio(value, base[key]))
    results = []
    for system, kept in zip(systems, ratios):
        point = system.values(full)
        row = {}
        for key in BOOTSTRAPPED:
            low, high = np.percentile(np.concatenate(kept[key]), [2.5, 97.5])
            row[key] = {"ratio": float(_ratio(point[key], base_full[key])[0]), "low": float(low), "high": float(high)}
        results.append(row)
    return results
