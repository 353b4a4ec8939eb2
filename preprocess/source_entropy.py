"""Source entropy of every (query, response) pair and the negative set D_N (paper, Eq. 4).

    python preprocess/source_entropy.py PAIRS --scores OUT [--negative PREFIX] [--rest PREFIX]

H_src(r) = -sum_{q: (q, r) in D} p(q|r) log p(q|r), with p(q|r) the share of the pairs with
response r whose query is q (responses and queries compared after collapsing whitespace).
Every pair gets the score of its response. PAIRS is a ``query__eou__response`` file, or a
``.src`` file whose parallel ``.tgt`` is given with ``--tgt``. Base 2 by default: the
authors' entropy_score_train.txt holds 1.0, 1.585 (= log2 3) and 0.918 (= H2(1/3, 2/3)).

Selection: pairs are ranked by score, highest first, ties kept in file order (a stable sort),
so reruns give identical files; the top ``--ratio`` (default 0.5, rounded half up) form D_N,
written as PREFIX.src / PREFIX.tgt in the original file order, and ``--rest`` writes the
other pairs (D_b of the paper's Tables 6-7) the same way. ``--all`` writes every pair as
parallel files, for fairseq-preprocess.
"""
import argparse
import collections
import math

import numpy as np

from preprocess.textio import InputError, atomic_outputs, read_lines, read_pair_lines, run_cli


def read_pairs(path, tgt_path=None):
    """[(query, response)] from a __eou__ file or from parallel src/tgt files."""
    if tgt_path is None:
        return [tuple(part.strip() for part in line.split("__eou__", 1)) for line in read_pair_lines(path)]
    src, tgt = read_lines(path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise InputError(f"{path} has {len(src)} lines but {tgt_path} has {len(tgt)}: not parallel")
    for number, (q, r) in enumerate(zip(src, tgt), 1):
        if not q.strip() or not r.strip():
            raise InputError(f"{path if not q.strip() else tgt_path}:{number}: empty line")
    return [(q.strip(), r.strip()) for q, r in zip(src, tgt)]


def source_entropy(pairs, base=2.0):
    """One H_src score per pair (the score of its response), in input order. Linear time:
    H(r) = log n_r - (1/n_r) sum_q c(q, r) log c(q, r), with n_r the pairs of response r."""
    keys = [(" ".join(q.split()), " ".join(r.split())) for q, r in pairs]
    pair_counts = collections.Counter(keys)
    n = collections.Counter(r for _, r in keys)
    c_log_c = collections.defaultdict(float)
    for (_, r), c in pair_counts.items():
        c_log_c[r] += c * math.log(c)
    entropy = {r: (math.log(n_r) - c_log_c[r] / n_r) / math.log(base) for r, n_r in n.items()}
    return [max(0.0, entropy[r]) for _, r in keys]


def ngram_source_entropy(pairs, n=5, base=2.0):
    """One score per pair: Eq. 4 with "(q_i, r) in D" read as "pairs whose response shares an
    n-gram with r", the reading that reproduces the authors' released scores (n = 5 on NLTK
    Treebank tokens; the measurement is in the DailyDialog analysis notes).

    c(u) counts the pairs whose response holds the n-gram u, c(q, u) those among them with
    query q (pairs counted with multiplicity). A distinct pair j gets p_j = min over the
    n-grams u of its response of c(q_j, u) / c(u), and a response r scores
    sum of -p_j log p_j over the distinct pairs j that share an n-gram with r. A response of
    fewer than n tokens has no n-gram and scores 0.
    """
    from nltk.tokenize import TreebankWordTokenizer  # needs no downloaded data, unlike word_tokenize

    tokenize = TreebankWordTokenizer().tokenize
    keys = [(" ".join(q.split()), " ".join(r.split())) for q, r in pairs]
    grams = {}
    for r in set(r for _, r in keys):
        tokens = tokenize(r)
        grams[r] = set(zip(*(tokens[i:] for i in range(n))))
    c = collections.Counter(u for _, r in keys for u in grams[r])
    c_q = collections.Counter((q, u) for q, r in keys for u in grams[r])
    h = {}  # distinct pair -> -p log p
    holders = collections.defaultdict(set)  # n-gram -> distinct pairs whose response holds it
    for q, r in set(keys):
        if grams[r]:
            p = min(c_q[q, u] / c[u] for u in grams[r])
            h[q, r] = -p * math.log(p) / math.log(base)
            for u in grams[r]:
                holders[u].add((q, r))
    score = {}
    for r, us in grams.items():
        linked = set().union(*(holders[u] for u in us)) if us else ()
        score[r] = max(0.0, sum(h[j] for j in linked))
    return [score[r] for _, r in keys]


def top_indices(scores, ratio):
    """Indices of the top ``ratio`` of pairs by score (stable on ties), in file order."""
    if not 0.0 < ratio <= 1.0:
        raise InputError(f"--ratio must be in (0, 1], got {ratio}")
    k = int(ratio * len(scores) + 0.5)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return np.sort(order[:k])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", help="query__eou__response file, or a .src file with --tgt")
    parser.add_argument("--tgt", help="responses parallel to PAIRS (then PAIRS holds the queries)")
    parser.add_argument("--scores", required=True, help="output: one score per pair, aligned with the input")
    parser.add_argument("--base", type=float, default=2.0, help="logarithm base (default 2; e for nats)")
    parser.add_argument("--unit", choices=["response", "ngram"], default="response",
                        help="what links pairs in Eq. 4: the whole response, matched exactly (default), or a "
                        "shared n-gram of NLTK tokens, as the authors' released scores were computed")
    parser.add_argument("--n", type=int, default=5, help="n-gram order for --unit ngram (default 5)")
    parser.add_argument("--ratio", type=float, default=0.5, help="share of pairs in D_N (default 0.5)")
    parser.add_argument("--negative", metavar="PREFIX", help="write D_N as PREFIX.src/PREFIX.tgt")
    parser.add_argument("--rest", metavar="PREFIX", help="write the pairs outside D_N as PREFIX.src/PREFIX.tgt")
    parser.add_argument("--all", metavar="PREFIX", help="write every pair as PREFIX.src/PREFIX.tgt")
    args = parser.parse_args()

    if args.n < 1:
        raise InputError(f"--n must be >= 1, got {args.n}")
    pairs = read_pairs(args.pairs, args.tgt)
    if args.unit == "ngram":
        scores = ngram_source_entropy(pairs, args.n, args.base)
    else:
        scores = source_entropy(pairs, args.base)
    top = top_indices(scores, args.ratio)
    in_top = np.zeros(len(pairs), dtype=bool)
    in_top[top] = True
    subsets = [(args.all, np.arange(len(pairs))), (args.negative, top), (args.rest, np.flatnonzero(~in_top))]
    paths = [args.scores] + [f"{prefix}.{side}" for prefix, _ in subsets if prefix for side in ("src", "tgt")]
    with atomic_outputs(*paths) as files:
        files[0].writelines(f"{s:.6f}\n" for s in scores)
        f = iter(files[1:])
        for prefix, indices in subsets:
            if prefix:
                src, tgt = next(f), next(f)
                for i in indices:
                    src.write(pairs[i][0] + "\n")
                    tgt.write(pairs[i][1] + "\n")
    print(f"{len(pairs)} pairs, mean H_src {np.mean(scores):.4f}, {np.mean(np.asarray(scores) == 0):.1%} "
          f"zero; D_N = top {len(top)} (scores >= {min((scores[i] for i in top), default=0):.4f})")


if __name__ == "__main__":
    run_cli(main)
