"""Time per update and peak memory of ND training vs standard label-smoothed training.

    OMP_NUM_THREADS=1 python -m examples.benchmarks.nd_vs_standard [DATA_BIN] [--arch ...] [--world-size 2]

The same student (same initial weights), the same batches, in one process: each round runs
one standard update (label_smoothed_cross_entropy, Adam) and one ND update (frozen teacher
forward + negative_distillation at alpha = 0.5 with every term on, Adam) on the same batch,
alternating which goes first, so that load from other processes hits both alike. Prints
the median time per update and the peak memory of each, and their ratios.

Peak memory = memory that lives across updates (parameters, gradients, Adam state, and the
teacher's parameters for ND, counted from the tensors) + the peak of what one update
allocates on top, measured on the largest batch in a fresh process per mode as the rise of
the resident set's high-water mark (VmHWM, reset through /proc/self/clear_refs): CPU
PyTorch has no allocator counters.
DATA_BIN defaults to the bundled sample, binarized on the fly. ``--world-size N`` (CPU) runs
the same in N processes on one machine, as fairseq-train --distributed-world-size N
--ddp-backend legacy_ddp does: gloo, each rank with its own teacher and its share of the
batches, gradients all-reduced every update (the time includes that); the figures are rank
0's time and the largest per-process peak memory. With ``--device cuda``
(optionally ``--fp16``: fp16 weights and batches, as fairseq's --fp16 runs its forward and
backward) the transient part is torch.cuda.max_memory_allocated() over one update minus what
was allocated before it, in-process.
"""
import argparse
import copy
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

warnings.filterwarnings("ignore")
logging.getLogger("fairseq").setLevel(logging.WARNING)  # the data-loading chatter of every process
# fairseq is imported after the filters above: it warns while importing
from fairseq import options, tasks, utils  # noqa: E402
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion  # noqa: E402
from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # noqa: E402
from fairseq.distributed import LegacyDistributedDataParallel, ModuleProxyWrapper  # noqa: E402

import nd_fairseq  # noqa: E402
from nd_fairseq.teacher import FrozenTeacher  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sample_databin():
    """The bundled sample, binarized into a temporary folder; returns its bin/."""
    tmp = tempfile.mkdtemp()
    sample = os.path.join(ROOT, "examples/sample")
    binarize = os.path.join(ROOT, "preprocess/binarize.sh")
    # this interpreter's environment, activated or not: its python and fairseq-preprocess come first
    env = {**os.environ, "PYTHON": sys.executable,
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    subprocess.run(["bash", binarize, sample, tmp], check=True, stdout=subprocess.DEVNULL, env=env)
    return os.path.join(tmp, "bin")


def build(databin, arch, max_tokens, device="cpu", fp16=False):
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        databin, "--user-dir", os.path.dirname(nd_fairseq.__file__), "--task", "negative_distillation",
        "--arch", arch, "--criterion", "negative_distillation", "--nd-fixed-alpha", "0.5",
        "--max-tokens", str(max_tokens), "--seed", "1"])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    torch.manual_seed(1)
    # from_checkpoint skips loading a teacher file: a randomly initialised teacher of the
    # same architecture costs exactly what a trained one does
    student = task.build_model(cfg.model, from_checkpoint=True)
    teacher = task.build_model(cfg.model, from_checkpoint=True)
    if device != "cpu":
        student, teacher = student.to(device), teacher.to(device)
    if fp16:
        student, teacher = student.half(), teacher.half()
    nd = task.build_criterion(cfg.criterion)
    task.teacher = FrozenTeacher(teacher, "benchmark")
    standard = LabelSmoothedCrossEntropyCriterion(task, False, 0.1)
    task.load_dataset("train")
    itr = task.get_batch_iterator(task.dataset("train"), max_tokens=max_tokens, seed=1)
    batches = itr.next_epoch_itr(shuffle=True)
    if device != "cpu":
        batches = (utils.move_to_cuda(b) for b in batches)
    return task, student, nd, standard, batches


def persistent_bytes(model, optimizer, extra_models=()):
    total = sum(p.numel() * p.element_size() * 2 for p in model.parameters())  # weights + grads
    for state in optimizer.state.values():
        total += sum(v.numel() * v.element_size() for v in state.values() if torch.is_tensor(v))
    for m in extra_models:
        total += sum(p.numel() * p.element_size() for p in m.parameters())
    return total


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def transient_peak(fn):
    """Bytes by which the resident set's high-water mark rises while fn() runs."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = _status_kb("VmRSS")
    fn()
    return (_status_kb("VmHWM") - before) * 1024


def data_parallel(model, world_size):
    """The model as fairseq-train --ddp-backend legacy_ddp wraps it when world_size > 1."""
    if world_size == 1:
        return model
    return ModuleProxyWrapper(LegacyDistributedDataParallel(model, dist.group.WORLD))


def my_batches(batches, count, rank, world_size):
    """This rank's share of the first ``count`` batches per rank (every rank builds the same
    batch order from the same seed and takes every world_size-th batch)."""
    return [s for _, s in zip(range(count * world_size), batches)][rank::world_size]


def measure_memory(databin, arch, max_tokens, mode, rank=0, world_size=1):
    """Run in a fresh process: persistent + transient bytes of one update of ``mode``."""
    task, student, nd, standard, batches = build(databin, arch, max_tokens)
    samples = my_batches(batches, 30, rank, world_size)
    biggest = max(samples, key=lambda s: s["ntokens"])
    model = data_parallel(student, world_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    update = make_update(task, {mode: model}, {mode: opt}, nd, standard)
    for sample in samples[:2]:  # creates the gradients and the Adam state
        update(mode, sample)
    update(mode, biggest)
    transient = transient_peak(lambda: update(mode, biggest))
    teacher = [task.teacher.model] if mode == "nd" else []
    return persistent_bytes(student, opt, teacher) + transient


def time_updates(databin, arch, max_tokens, rounds, device="cpu", fp16=False, rank=0, world_size=1):
    """Median seconds per update of each mode, interleaved on the same batches; on GPU also
    each mode's peak memory (bytes)."""
    task, student, nd, standard, batches = build(databin, arch, max_tokens, device, fp16)
    plain = {"std": student, "nd": copy.deepcopy(student)}
    models = {k: data_parallel(m, world_size) for k, m in plain.items()}
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-4) for k, m in models.items()}
    update = make_update(task, models, opts, nd, standard)
    samples = my_batches(batches, rounds + 3, rank, world_size)
    for sample in samples[:3]:  # warm-up, also creates the Adam state
        update("std", sample)
        update("nd", sample)
    times = {"std": [], "nd": []}
    for i, sample in enumerate(samples[3:]):
        for mode in (("std", "nd") if i % 2 == 0 else ("nd", "std")):
            start = time.perf_counter()
            update(mode, sample)
            times[mode].append(time.perf_counter() - start)
    result = {"time": {k: statistics.median(v) for k, v in times.items()}}
    if device != "cpu":
        biggest = max(samples, key=lambda s: s["ntokens"])
        result["mem"] = {}
        for mode in ("std", "nd"):
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            update(mode, biggest)
            teacher = [task.teacher.model] if mode == "nd" else []
            result["mem"][mode] = (persistent_bytes(plain[mode], opts[mode], teacher)
                                   + torch.cuda.max_memory_allocated() - before)
    return result


def _rank(rank, world_size, port, outdir, fn, fn_args):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    result = fn(*fn_args, rank=rank, world_size=world_size)
    with open(os.path.join(outdir, f"{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.destroy_process_group()


def in_processes(world_size, fn, *fn_args):
    """fn(*fn_args, rank=r, world_size=world_size) in world_size fresh processes joined by
    gloo; returns the list of their results."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as outdir:
        mp.start_processes(_rank, args=(world_size, port, outdir, fn, fn_args), nprocs=world_size,
                           start_method="fork")
        results = []
        for rank in range(world_size):
            with open(os.path.join(outdir, f"{rank}.json")) as f:
                results.append(json.load(f))
    return results


def make_update(task, models, opts, nd, standard):
    def update(mode, sample):
        model, opt = models[mode], opts[mode]
        model.train()
        opt.zero_grad(set_to_none=False)
        if mode == "nd":
            task.attach_teacher_outputs(sample, model, nd)
            loss, _, _ = nd(model, sample)
            sample.pop("nd_teacher")
        else:
            loss, _, _ = standard(model, sample)
        loss.backward()
        if hasattr(model, "all_reduce_grads"):
            model.all_reduce_grads()
        opt.step()
        if next(model.parameters()).is_cuda:
            torch.cuda.synchronize()

    return update


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_bin", nargs="?", help="fairseq binary data dir (default: the bundled sample)")
    parser.add_argument("--arch", nargs="+", default=["transformer_nd_tiny", "transformer_nd_small"])
    parser.add_argument("--max-tokens", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=30, help="timed updates per mode and arch")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--fp16", action="store_true", help="fp16 weights and batches (cuda)")
    parser.add_argument("--world-size", type=int, default=1,
                        help="processes on this machine, joined by gloo as fairseq's legacy_ddp (cpu)")
    parser.add_argument("--measure-memory", choices=["std", "nd"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.world_size > 1 and args.device != "cpu":
        parser.error("--world-size > 1 is measured on the CPU only (one GPU here)")
    if args.measure_memory:
        print(measure_memory(args.data_bin, args.arch[0], args.max_tokens, args.measure_memory))
        return
    databin = args.data_bin or sample_databin()
    where = (torch.cuda.get_device_name() if args.device != "cpu"
             else f"{args.world_size} process(es) x {torch.get_num_threads()} CPU thread(s)")
    print(f"torch {torch.__version__}, {where}{', fp16' if args.fp16 else ''}, data {databin}")
    print(f"{'arch':24s} {'std ms':>8s} {'ND ms':>8s} {'time x':>7s} {'std MB':>8s} {'ND MB':>8s} {'mem x':>6s}")
    for arch in args.arch:
        if args.world_size > 1:
            t = in_processes(args.world_size, time_updates, databin, arch, args.max_tokens, args.rounds)[0]["time"]
            mem = {mode: max(in_processes(args.world_size, measure_memory, databin, arch, args.max_tokens, mode))
                   for mode in ("std", "nd")}
        else:
            result = time_updates(databin, arch, args.max_tokens, args.rounds, args.device, args.fp16)
            t = result["time"]
            mem = result.get("mem") or {
                mode: int(subprocess.run(
                    [sys.executable, __file__, databin, "--arch", arch, "--max-tokens", str(args.max_tokens),
                     "--measure-memory", mode], capture_output=True, text=True, check=True).stdout.split()[-1])
                for mode in ("std", "nd")
            }
        t = {k: v * 1000 for k, v in t.items()}
        print(f"{arch:24s} {t['std']:8.1f} {t['nd']:8.1f} {t['nd'] / t['std']:7.2f} "
              f"{mem['std'] / 2**20:8.1f} {mem['nd'] / 2**20:8.1f} {mem['nd'] / mem['std']:6.2f}")


if __name__ == "__main__":
    main()
