"""Self-BLEU (Zhu et al. 2018, Texygen): each response scored with BLEU against all the other
responses as its references, averaged over the responses; higher means the responses resemble
each other more (less diverse).

On a fixed random sample of SAMPLE responses (drawn with ``random.Random(0)``, so the same
query indices for every system of a test set), each against the other SAMPLE - 1: against all
6,841 responses of a test set nearly every n-gram of a generic system is found somewhere, and
Self-BLEU saturates (0.995-0.996 for two of our systems whose Dist-2 differs by 30%); with 1,000
it separates them (0.95 for Standard, 0.89 for ND on DailyDialog).

The score of one response is nltk's ``sentence_bleu(others, response, weights, smoothing
method1)``, Texygen's choice. Computed here rather than by calling nltk because nltk recounts
every reference for every hypothesis, N - 1 references for each of N responses (hours for a
test set). What BLEU needs of the references is, per n-gram of the response, its largest count
in any single other response, and the other responses' length closest to the response's: both
follow from each n-gram's largest and second-largest count over all responses (and the length
multiset), so every response is scored exactly, in one pass. Tested against nltk itself.
"""
import bisect
import math
import random
from collections import Counter
from typing import Dict, List, Sequence, Tuple

EPSILON = 0.1  # nltk's SmoothingFunction().method1: 0.1 matches for a precision with none
SAMPLE = 1000


def _ngram_tables(lines: Sequence[Sequence[str]], n: int) -> Tuple[List[Counter], Dict[tuple, tuple]]:
    """Each line's n-gram counts, and for every n-gram (the largest count in one line, how many
    lines have it, the second largest over the lines once one line with the largest is left out)."""
    per_line = [Counter(zip(*(tokens[k:] for k in range(n)))) for tokens in lines]
    best: Dict[tuple, list] = {}
    for counts in per_line:
        for gram, c in counts.items():
            top = best.get(gram)
            if top is None:
                best[gram] = [c, 1, 0]
            elif c > top[0]:
                best[gram] = [c, 1, top[0]]
            elif c == top[0]:
                top[1] += 1
            elif c > top[2]:
                top[2] = c
    return per_line, {g: (c, k, second if k == 1 else c) for g, (c, k, second) in best.items()}


def _closest_other_length(lengths_sorted: List[int], length: int) -> int:
    """The length closest to ``length`` among ``lengths_sorted`` with one ``length`` removed
    (ties: the shorter, as nltk's closest_ref_length)."""
    at = bisect.bisect_left(lengths_sorted, length)
    if at + 1 < len(lengths_sorted) and lengths_sorted[at + 1] == length:
        return length  # another response of the same length
    candidates = []
    if at > 0:
        candidates.append(lengths_sorted[at - 1])
    if at + 1 < len(lengths_sorted):
        candidates.append(lengths_sorted[at + 1])
    return min(candidates, key=lambda r: (abs(r - length), r))


def sampled(lines: Sequence, sample: int = SAMPLE) -> List:
    """The fixed random sample of ``sample`` lines Self-BLEU is computed on (all of them when fewer)."""
    if len(lines) <= sample:
        return list(lines)
    return [lines[i] for i in sorted(random.Random(0).sample(range(len(lines)), sample))]


def self_bleu(lines: Sequence[Sequence[str]], max_n: int = 4, sample: int = SAMPLE) -> float:
    """Mean over the sampled responses (``sampled``) of BLEU-``max_n`` (uniform weights, nltk
    method1 smoothing) of each against the other sampled ones; 0 for fewer than two."""
    lines = sampled(lines, sample)
    if len(lines) < 2:
        return 0.0
    tables = [_ngram_tables(lines, n) for n in range(1, max_n + 1)]
    lengths = sorted(len(tokens) for tokens in lines)
    total = 0.0
    for i, tokens in enumerate(lines):
        log_precisions = []
        for per_line, best in tables:
            matched, count = 0, 0
            for gram, c in per_line[i].items():
                top, holders, second = best[gram]
                others_max = second if c == top and holders == 1 else top
                matched += min(c, others_max)
                count += c
            if matched == 0 and not log_precisions:
                break  # no unigram in common: nltk's BLEU is 0
            log_precisions.append(math.log((matched or EPSILON) / max(1, count)))
        else:
            hyp_len = len(tokens)
            ref_len = _closest_other_length(lengths, hyp_len)
            penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
            total += penalty * math.exp(math.fsum(lp / max_n for lp in log_precisions))
    return total / len(lines)
