"""Time per training update of each baseline criterion vs Standard's, on the same batches.

    OMP_NUM_THREADS=1 python -m examples.benchmarks.baselines_vs_standard [DATA_BIN] [--arch ...] [--rounds N]

One student initialisation copied for every criterion; each round runs one update (forward,
backward, Adam step, and the criterion's end-of-update bookkeeping) of every criterion on the
same batch, in a rotating order, so that load from other processes hits all alike. UL and NT
are set so that their extra terms are on from the first update (queue 0, history 1), i.e.
every update decodes the batch greedily, as in a DailyDialog run after its first updates.
Prints the median seconds per update of each, its ratio to Standard's and the parameters its
model adds to Standard's (AdaLabel's auxiliary decoder, trained alongside, unused in generation;
the CVAE's latent networks).
DATA_BIN defaults to the bundled sample, binarized on the fly.
"""
import argparse
import copy
import os
import statistics
import time
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from fairseq import options, tasks  # noqa: E402
from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # noqa: E402

import nd_fairseq  # noqa: E402
from examples.benchmarks.nd_vs_standard import sample_databin  # noqa: E402

CRITERIA = {
    "standard": ["--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1"],
    "face": ["--criterion", "face"],
    "token_unlikelihood": ["--criterion", "token_unlikelihood", "--label-smoothing", "0.1"],
    "vocab_unlikelihood": ["--criterion", "vocab_unlikelihood", "--label-smoothing", "0.1", "--ul-queue-size", "0",
                           "--ul-alpha", "1000"],
    "negative_training": ["--criterion", "negative_training", "--label-smoothing", "0.1",
                          "--nt-history-responses", "1"],
    "adalabel": ["--criterion", "adalabel"],
    "cvae": ["--criterion", "cvae", "--label-smoothing", "0.1"],
}
# the criteria whose model has extra modules: --arch transformer_nd* -> this, the shared weights copied
ARCH = {"adalabel": "transformer_adalabel", "cvae": "transformer_cvae"}


def build(databin, arch, max_tokens, flags):
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        databin, "--user-dir", os.path.dirname(nd_fairseq.__file__), "--task", "negative_distillation",
        "--arch", arch, "--max-tokens", str(max_tokens), "--seed", "1", *flags])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    return task, cfg


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("databin", nargs="?", help="fairseq data directory (default: the bundled sample)")
    parser.add_argument("--arch", default="transformer_nd_tiny")
    parser.add_argument("--max-tokens", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds (after 2 warm-up rounds)")
    args = parser.parse_args()
    databin = args.databin or sample_databin()
    task, cfg = build(databin, args.arch, args.max_tokens, CRITERIA["standard"])
    torch.manual_seed(1)
    initial = task.build_model(cfg.model)
    task.load_dataset("train")
    batches = task.get_batch_iterator(task.dataset("train"), max_tokens=args.max_tokens, seed=1).next_epoch_itr(
        shuffle=True)
    systems, extra = {}, {}
    for name, flags in CRITERIA.items():
        arch = args.arch.replace("transformer_nd", ARCH[name], 1) if name in ARCH else args.arch
        task_i, cfg_i = build(databin, arch, args.max_tokens, flags)
        if arch == args.arch:
            model = copy.deepcopy(initial).train()
        else:
            model = task_i.build_model(cfg_i.model).train()
            model.load_state_dict(initial.state_dict(), strict=False)  # the extra modules keep their initialisation
        extra[name] = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in initial.parameters())
        systems[name] = (model, task_i.build_criterion(cfg_i.criterion), torch.optim.Adam(model.parameters(), lr=1e-4))
    times = {name: [] for name in systems}
    names = list(systems)
    for round_, sample in zip(range(args.rounds + 2), batches):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            model, criterion, optimizer = systems[name]
            start = time.perf_counter()
            optimizer.zero_grad()
            loss, _, _ = criterion(model, sample)
            loss.backward()
            optimizer.step()
            if hasattr(criterion, "end_of_update"):
                criterion.end_of_update()
            if round_ >= 2:
                times[name].append(time.perf_counter() - start)
    base = statistics.median(times["standard"])
    print(f"{args.arch}, max_tokens {args.max_tokens}, {args.rounds} rounds, torch threads {torch.get_num_threads()}")
    print(f"{'criterion':<20} {'s/update':>9} {'vs standard':>12} {'extra parameters':>17}")
    for name in names:
        median = statistics.median(times[name])
        share = extra[name] / sum(p.numel() for p in initial.parameters())
        print(f"{name:<20} {median:>9.3f} {median / base:>11.2f}x {extra[name]:>9,} ({share:.0%})")


if __name__ == "__main__":
    main()
