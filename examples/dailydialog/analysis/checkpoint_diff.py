"""Whether two fairseq checkpoints hold the same weights, bit for bit.

    python examples/dailydialog/analysis/checkpoint_diff.py A.pt B.pt

Prints how many of the model's tensors differ and the largest absolute difference; exits 1 if
any differs. RESULTS.md uses it to tell a run's own draw from an arithmetic change: two trainings
with the same flags and seed, saved after a few updates (``--max-update 20``), are bit-identical
exactly when they did the same float operations in the same order (e.g. the same thread count).
"""
import argparse
import sys

import torch

import nd_fairseq  # noqa: F401 (allows the one non-tensor class fairseq's checkpoints hold, as torch.load needs)


def weight_differences(a, b):
    """(names of the tensors that differ, largest absolute difference) of two state dicts."""
    if a.keys() != b.keys():
        raise ValueError(f"the checkpoints hold different tensors: {sorted(a.keys() ^ b.keys())[:5]}")
    shapes = [name for name in a if a[name].shape != b[name].shape]
    if shapes:
        raise ValueError(f"{shapes[0]} has shape {tuple(a[shapes[0]].shape)} against {tuple(b[shapes[0]].shape)}")
    differ = [name for name in a if not torch.equal(a[name], b[name])]
    largest = max((float((a[n].double() - b[n].double()).abs().max()) for n in differ), default=0.0)
    return differ, largest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="a fairseq checkpoint (.pt)")
    parser.add_argument("b", help="another checkpoint of the same architecture")
    args = parser.parse_args(argv)
    models = []
    for path in (args.a, args.b):
        try:
            models.append(torch.load(path, map_location="cpu")["model"])
        except (OSError, KeyError, RuntimeError, EOFError) as error:
            sys.exit(f"error: {path}: not a readable fairseq checkpoint ({error})")
    try:
        differ, largest = weight_differences(*models)
    except ValueError as error:
        sys.exit(f"error: {args.a} and {args.b}: {error}")
    print(f"{len(differ)} of {len(models[0])} tensors differ; largest absolute difference {largest:.3g}"
          + (f" (first: {differ[0]})" if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
