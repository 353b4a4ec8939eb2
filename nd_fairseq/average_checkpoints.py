"""Average the weights of several checkpoints into one, as fairseq's ``scripts/average_checkpoints.py``.

    python -m nd_fairseq.average_checkpoints --inputs CKPT [CKPT ...] --output AVG.pt
    python -m nd_fairseq.average_checkpoints --inputs SAVE_DIR --num-update-checkpoints 5 --output AVG.pt
    python -m nd_fairseq.average_checkpoints --inputs SAVE_DIR --num-update-checkpoints 5 --upto-update 2103 ...

Why here: that script is not part of the installed fairseq package, and under torch >= 2.6 it
cannot read fairseq checkpoints (``weights_only``). Running it from this package allows the one
non-tensor class they hold (see ``nd_fairseq/__init__.py``). The output keeps everything but the
weights from the first input (the newest with ``--num-*-checkpoints``), so it decodes and
validates like any checkpoint.
"""
import argparse
import os
import re
import sys

import torch

from preprocess.textio import InputError, run_cli

_NUMBERED = {"epoch": re.compile(r"^checkpoint(\d+)\.pt$"), "update": re.compile(r"^checkpoint_\d+_(\d+)\.pt$")}


def last_checkpoints(save_dir, n, kind, upto=None):
    """The paths of the ``n`` highest-numbered epoch or update checkpoints of ``save_dir``
    (numbered ``upto`` at most, when given)."""
    numbered = []
    for name in os.listdir(save_dir):
        m = _NUMBERED[kind].match(name)
        if m and (upto is None or int(m.group(1)) <= upto):
            numbered.append((int(m.group(1)), name))
    numbered.sort(reverse=True)
    if len(numbered) < n:
        at_most = "" if upto is None else f" numbered {upto} at most"
        raise InputError(f"{save_dir}: {len(numbered)} {kind} checkpoints{at_most}, fewer than the {n} asked for")
    return [os.path.join(save_dir, name) for _, name in numbered[:n]]


def trained_updates(save_dir):
    """How many updates the run of ``save_dir`` has made (its ``checkpoint_last.pt``)."""
    path = os.path.join(save_dir, "checkpoint_last.pt")
    if not os.path.exists(path):
        raise InputError(f"{save_dir}: no checkpoint_last.pt, so how far the run got is unknown")
    return torch.load(path, map_location="cpu")["optimizer_history"][-1]["num_updates"]


def average_checkpoints(paths):
    """The state of ``paths[0]`` with its "model" weights replaced by the mean over ``paths``
    (floating-point tensors averaged in float32 at least, then cast back; others must agree)."""
    states = []
    for path in paths:
        try:
            states.append(torch.load(path, map_location="cpu"))
        except (OSError, RuntimeError, EOFError) as e:
            raise InputError(f"{path}: cannot read as a checkpoint ({str(e).splitlines()[0]})") from e
    first = states[0]["model"]
    for path, state in zip(paths[1:], states[1:]):
        if state["model"].keys() != first.keys() or any(state["model"][k].shape != v.shape for k, v in first.items()):
            raise InputError(f"{path}: its weights do not match those of {paths[0]} (another model)")
    averaged = {}
    for key, value in first.items():
        if value.is_floating_point():
            total = sum(state["model"][key].to(torch.promote_types(value.dtype, torch.float32)) for state in states)
            averaged[key] = (total / len(states)).to(value.dtype)
        else:
            averaged[key] = value
    return {**states[0], "model": averaged}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nd_fairseq.average_checkpoints",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", nargs="+", required=True,
                        help="checkpoint files, or one save dir with --num-epoch/--num-update-checkpoints")
    parser.add_argument("--output", required=True, help="where to write the averaged checkpoint")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--num-epoch-checkpoints", type=int, help="average the last N checkpointN.pt of the dir")
    group.add_argument("--num-update-checkpoints", type=int,
                       help="average the last N checkpoint_E_U.pt (--save-interval-updates) of the dir")
    parser.add_argument("--upto-update", type=int,
                        help="with --num-update-checkpoints: the last N numbered this update at most (e.g. the "
                        "end of epoch E of a longer run); the run must have got that far")
    args = parser.parse_args(argv)
    n, kind = (args.num_epoch_checkpoints, "epoch") if args.num_epoch_checkpoints else (
        args.num_update_checkpoints, "update")
    if args.upto_update is not None and args.num_update_checkpoints is None:
        raise InputError("--upto-update goes with --num-update-checkpoints")
    if n is not None:
        if len(args.inputs) != 1 or not os.path.isdir(args.inputs[0]):
            raise InputError(f"--num-{kind}-checkpoints needs one save dir as --inputs, got {' '.join(args.inputs)}")
        if n < 1:
            raise InputError(f"--num-{kind}-checkpoints must be >= 1, got {n}")
        if args.upto_update is not None:
            done = trained_updates(args.inputs[0])
            if done < args.upto_update:
                raise InputError(f"{args.inputs[0]}: the run stopped at update {done}, before --upto-update "
                                 f"{args.upto_update}")
        paths = last_checkpoints(args.inputs[0], n, kind, args.upto_update)
    else:
        paths = args.inputs
    state = average_checkpoints(paths)
    tmp = args.output + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, args.output)
    print(f"averaged {len(paths)} checkpoints into {args.output}: {' '.join(paths)}", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
