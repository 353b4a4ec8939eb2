"""The shell scripts a user runs: --help, set-up misuse, the test runner's file argument."""
import json
import os
import shlex
import subprocess

import pytest

from .helpers import DEMO_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bash(*args, **kwargs):
    return subprocess.run(["bash", *args], capture_output=True, text=True, cwd=ROOT, **kwargs)


@pytest.mark.parametrize("script", ["preprocess/binarize.sh", "preprocess/prepare_dailydialog.sh", "examples/demo.sh",
                                    "examples/dailydialog/run.sh", "examples/dailydialog/study.sh"])
def test_help_prints_the_usage(script, tmp_path):
    out = bash(script, "--help")
    assert out.returncode == 0 and out.stderr == ""
    assert f"bash {script}" in out.stdout  # the usage line of the script's header
    assert not any(tmp_path.iterdir())


def test_run_sh_refuses_an_unknown_system_before_any_work(tmp_path):
    out = bash("examples/dailydialog/run.sh", str(tmp_path), "cpu", str(tmp_path / "work"),
               env={**os.environ, "SYSTEMS": "standard nd-wo-everything"})
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last == "error: SYSTEMS: unknown system 'nd-wo-everything' (run.sh --help lists them)"
    assert not (tmp_path / "work").exists()


RUN_SH_SYSTEMS = ["teacher", "standard", "nd", "nd-wo-pred", "nd-wo-att", "nd-wo-hid", "nd-fixed-alpha", "nd-hard",
                  "nd-random", "teacher-bottom", "nd-teacher-bottom", "face", "face-count-eos", "adalabel", "cvae",
                  "ul", "nt", "standard-refined", "nd-token", "nd-token-wo-pred", "nd-token-wo-att",
                  "nd-token-wo-hid", "standard-long", "adalabel-long", "ul-logdiff", "nd-risefall", "nd-peak130"]


@pytest.mark.parametrize("config", ["cpu", "gpu", "paper"])
def test_every_run_sh_training_is_one_fairseq_train_accepts(config, tmp_path):
    """Each system's command, as run.sh would run it, parses with fairseq-train's own parser
    (a flag that its criterion lacks, e.g. --label-smoothing for FACE, is refused there)."""
    from fairseq import options

    # no epochs to count in the paper configuration
    scaled_to_the_run = ("standard-long", "adalabel-long", "nd-risefall", "nd-peak130")
    systems = [s for s in RUN_SH_SYSTEMS if config != "paper" or s not in scaled_to_the_run]
    out = bash("examples/dailydialog/run.sh", str(tmp_path), config, str(tmp_path / "work"),
               env={**os.environ, "SYSTEMS": " ".join(systems), "PRINT_TRAINING": "1"})
    assert out.returncode == 0, out.stderr
    commands = [shlex.split(line) for line in out.stdout.splitlines()]
    trained = {os.path.basename(cmd[cmd.index("--save-dir") + 1]) for cmd in commands}
    assert trained == set(systems)
    for cmd in commands:
        assert cmd[0] == "fairseq-train"
        args = options.parse_args_and_arch(options.get_training_parser(), cmd[1:])
        assert args.task == "negative_distillation"
        system = os.path.basename(args.save_dir).removesuffix("-long")
        assert args.arch.startswith({"adalabel": "transformer_adalabel", "cvae": "transformer_cvae"}.get(
            system, "transformer_nd")), system
    assert not (tmp_path / "work").exists()


def printed_trainings(tmp_path, **env):
    out = bash("examples/dailydialog/run.sh", str(tmp_path), "cpu", str(tmp_path / "work"),
               env={**os.environ, "PRINT_TRAINING": "1", **env})
    assert out.returncode == 0, out.stderr
    commands = {}
    for line in out.stdout.splitlines():
        cmd = shlex.split(line)
        commands[os.path.basename(cmd[cmd.index("--save-dir") + 1])] = cmd
    return commands


def flag(cmd, name):
    return cmd[len(cmd) - 1 - cmd[::-1].index(name) + 1]  # the last occurrence wins in fairseq's parser


def test_seed_and_student_epochs_name_the_systems_and_set_their_flags(tmp_path):
    commands = printed_trainings(tmp_path, SYSTEMS="standard nd adalabel", SEED="2", STUDENT_EPOCHS="6")
    # Standard's and AdaLabel's 6 epochs are their long runs', trained once per seed; the teacher keeps seed 1
    assert set(commands) == {"standard-long-seed2", "teacher", "nd-ep6-seed2", "adalabel-long-seed2"}
    assert flag(commands["teacher"], "--seed") == "1" and flag(commands["teacher"], "--max-epoch") == "4"
    for name in ("standard-long-seed2", "nd-ep6-seed2", "adalabel-long-seed2"):
        assert flag(commands[name], "--seed") == "2"
    assert flag(commands["nd-ep6-seed2"], "--max-epoch") == "6"
    assert flag(commands["nd-ep6-seed2"], "--nd-gamma") == str(6 * 800)  # 1.14 x 6 epochs of 701 updates
    # standard-ep6 needs the long run only up to epoch 6; asked for itself, or once finished, it runs to its end
    upto = commands["standard-long-seed2"]
    long = printed_trainings(tmp_path, SYSTEMS="standard-long", SEED="2")["standard-long-seed2"]
    assert flag(upto, "--max-epoch") == "6" and flag(long, "--max-epoch") == "15"
    assert upto[:upto.index("--max-epoch")] == long[:long.index("--max-epoch")]
    assert upto[upto.index("--max-epoch") + 2:] == long[long.index("--max-epoch") + 2:]
    assert flag(long, "--best-checkpoint-metric") == "nll_loss"
    assert "--keep-interval-updates" not in long and flag(long, "--patience") == "11"
    # AdaLabel's long run: its own model and loss, the same stopping rule and checkpoints
    ada_upto = commands["adalabel-long-seed2"]
    ada_long = printed_trainings(tmp_path, SYSTEMS="adalabel-long", SEED="2")["adalabel-long-seed2"]
    assert flag(ada_upto, "--max-epoch") == "6" and flag(ada_long, "--max-epoch") == "15"
    assert flag(ada_long, "--criterion") == "adalabel" and flag(ada_long, "--arch").startswith("transformer_adalabel")
    for same in ("--patience", "--best-checkpoint-metric", "--save-interval-updates", "--lr-scheduler"):
        assert flag(ada_long, same) == flag(long, same)
    assert "--keep-interval-updates" not in ada_long
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "standard-long-seed2.done").touch()
    finished = printed_trainings(tmp_path, SYSTEMS="standard", SEED="2", STUDENT_EPOCHS="6")["standard-long-seed2"]
    assert finished == long
    default = printed_trainings(tmp_path, SYSTEMS="nd nd-token")
    assert set(default) == {"teacher", "nd", "nd-token"}
    assert flag(default["nd"], "--seed") == "1" and flag(default["nd"], "--nd-gamma") == "2400"
    assert "--nd-feature-norm" not in default["nd"] and flag(default["nd-token"], "--nd-feature-norm") == "token"
    risefall = printed_trainings(tmp_path, SYSTEMS="nd-risefall", STUDENT_EPOCHS="6")["nd-risefall-ep6"]
    assert flag(risefall, "--nd-gamma") == str(6 * 701 // 2)  # the peak at the middle of 4,206 updates
    peak = printed_trainings(tmp_path, SYSTEMS="nd-peak130", STUDENT_EPOCHS="10", SEED="2")["nd-peak130-ep10-seed2"]
    assert flag(peak, "--nd-gamma") == "9113"  # 1.3 x 7,010 updates, rounded down


def test_teacher_epochs_name_the_teacher_and_its_students(tmp_path):
    commands = printed_trainings(tmp_path, SYSTEMS="standard nd nd-teacher-bottom", TEACHER_EPOCHS="10",
                                 STUDENT_EPOCHS="10", SEED="2")
    assert set(commands) == {"standard-long-seed2", "teacher-ep10", "teacher-bottom-ep10",
                             "nd-teacher10-ep10-seed2", "nd-teacher-bottom-teacher10-ep10-seed2"}
    for teacher in ("teacher-ep10", "teacher-bottom-ep10"):
        assert flag(commands[teacher], "--max-epoch") == "10" and flag(commands[teacher], "--seed") == "1"
    student = commands["nd-teacher10-ep10-seed2"]
    assert flag(student, "--teacher-path") == str(tmp_path / "work" / "teacher-ep10" / "checkpoint_best.pt")
    assert flag(student, "--max-epoch") == "10" and flag(student, "--nd-gamma") == str(10 * 800)
    bottom = commands["nd-teacher-bottom-teacher10-ep10-seed2"]
    assert flag(bottom, "--teacher-path") == str(tmp_path / "work" / "teacher-bottom-ep10" / "checkpoint_best.pt")
    # the recipe's teacher keeps its name and 4 epochs when TEACHER_EPOCHS is not given
    assert flag(printed_trainings(tmp_path, SYSTEMS="nd")["teacher"], "--max-epoch") == "4"


@pytest.mark.parametrize("env, message", [
    ({"SEED": "0"}, "error: SEED must be a positive integer, got '0'"),
    ({"TEACHER_EPOCHS": "4.5"}, "error: TEACHER_EPOCHS must be a positive integer, got '4.5'"),
    ({"STUDENT_EPOCHS": "x"}, "error: STUDENT_EPOCHS must be a positive integer, got 'x'"),
    ({"SPLIT": "train"}, "error: SPLIT must be test or valid, got 'train'"),
    ({"DECODINGS": "greedy topp5"}, "error: DECODINGS: unknown decoding 'topp5'"),
    ({"SYSTEMS": "standard-long", "STUDENT_EPOCHS": "4"}, "error: standard-long takes no STUDENT_EPOCHS"),
    ({"SYSTEMS": "nd adalabel-long", "STUDENT_EPOCHS": "4"}, "error: adalabel-long takes no STUDENT_EPOCHS"),
    ({"SYSTEMS": "nd nd-peak1.3"}, "error: SYSTEMS: 'nd-peak1.3': nd-peak takes a percentage of the run's updates"),
])
def test_run_sh_refuses_bad_switches_before_any_work(tmp_path, env, message):
    out = bash("examples/dailydialog/run.sh", str(tmp_path), "cpu", str(tmp_path / "work"), env={**os.environ, **env})
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith(message)
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("system", ["nd-risefall", "nd-peak130"])
def test_schedules_scaled_to_the_run_refuse_the_paper_configuration(tmp_path, system):
    out = bash("examples/dailydialog/run.sh", str(tmp_path), "paper", str(tmp_path / "work"),
               env={**os.environ, "SYSTEMS": system})
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == f"error: SYSTEMS: {system} is for cpu and gpu"
    assert not (tmp_path / "work").exists()


def test_setup_env_refuses_to_be_sourced():
    out = bash("-c", "source examples/setup_env.sh; echo still here $-")
    assert "run it with bash" in out.stderr
    assert "still here" in out.stdout and "e" not in out.stdout.split("still here")[1]  # no set -e left behind


def test_run_sh_runs_only_the_files_it_is_given():
    out = bash("tests/run.sh", "tests/test_scripts.py", "--collect-only")
    assert out.returncode == 0, out.stderr
    collected = [line for line in out.stdout.splitlines() if "::" in line]
    assert collected and all(line.startswith("tests/test_scripts.py::") for line in collected)


def test_demo_runs_resumes_and_reports(tiny_demo):
    """The README's first command on a few hundred pairs for one epoch: a line per epoch, a table of the three
    systems, logs and the plot in the work folder; run again, every step is skipped and it succeeds."""
    folder, first = tiny_demo
    work = folder / "work" / "demo"
    assert "epoch 1 train:" in first.stdout and "alpha" in first.stdout
    table = [line.split("|")[1].strip() for line in first.stdout.splitlines() if "| greedy |" in line]
    assert sorted(table) == ["nd", "standard", "teacher"]
    for name in ("teacher", "standard", "nd"):
        assert (work / "logs" / f"{name}.log").stat().st_size > 0
    assert (work / "nd_training.png").exists() and (work / "results.json").exists()
    again = bash("examples/demo.sh", str(work), str(folder / "pairs"), env=DEMO_ENV)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("(done before") == 7  # data, 3 trainings, 3 decodings


@pytest.mark.parametrize("name", ["baselines_vs_standard", "nd_vs_standard", "eval_speed", "bootstrap_speed",
                                  "source_entropy_speed"])
def test_the_benchmarks_are_importable_modules(name):
    """python -m examples.benchmarks.NAME, each importing its siblings as a package (no sys.path edits)."""
    out = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-c",
                          f"import examples.benchmarks.{name} as m; print(callable(m.main))"],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr[-2000:]
    source = open(os.path.join(ROOT, "examples", "benchmarks", f"{name}.py")).read()
    assert "sys.path" not in source


def test_the_epochs_figure_pairs_systems_at_equal_epochs(tmp_path):
    import json

    rows = {"standard-ep2": 0.007, "standard-ep3": 0.01, "standard": 0.5, "nd": 0.015, "nd-ep6": 0.02,
            "nd-seed2": 1.0}
    (tmp_path / "r.json").write_text(json.dumps({k: {"greedy": {"dist-2": v, "bleu-4": 0.02}}
                                                 for k, v in rows.items()}))
    out = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "examples/dailydialog/epochs_figure.py",
                          str(tmp_path / "r.json"), str(tmp_path / "f.png"), "--systems", "standard", "nd"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    table = [line for line in out.stdout.splitlines() if line.startswith("| standard |") or line.startswith("| nd |")]
    # standard-ep3 wins over the plain standard row at 3 epochs; nd (3 epochs) is paired with it; no seed-2 rows
    assert table == ["| standard | 2 | 0.0070 | 0.0200 | 1.00x |", "| standard | 3 | 0.0100 | 0.0200 | 1.00x |",
                     "| nd | 3 | 0.0150 | 0.0200 | 1.50x |", "| nd | 6 | 0.0200 | 0.0200 | |"]
    assert (tmp_path / "f.png").stat().st_size > 0


def test_paper_tables_take_ratios_to_standard_of_the_same_decoding(tmp_path):
    import json

    metrics = ["dist-1", "dist-2", "dist-3", "lf", "kl-1", "kl-2", "bleu-3", "bleu-4"]

    def row(dist2, bleu4):
        return {**{m: 0.5 for m in metrics}, "dist-2": dist2, "bleu-4": bleu4, "mean-length": 7.0,
                "at-limit": 0.0, "distinct-responses": 10}

    results = {"standard": {"greedy": row(0.01, 0.02), "beam5": row(0.02, 0.04), "topp9": row(0.4, 0.01)},
               "nd": {"greedy": row(0.015, 0.019), "beam5": row(0.01, 0.04), "topp9": row(0.5, 0.01)}}
    (tmp_path / "r.json").write_text(json.dumps(results))
    script = [os.path.join(ROOT, ".venv", "bin", "python"), "examples/dailydialog/paper_tables.py",
              str(tmp_path / "r.json")]
    out = subprocess.run(script + ["--set", "baselines"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    nd_rows = [line.split(" | ") for line in out.stdout.splitlines() if line.startswith("| ND (`nd`) | ours")]
    # greedy 0.015/0.01 and 0.019/0.02; beam 5 0.01/0.02 and 0.04/0.04; sampled 0.5/0.4 (seed 2: not run)
    assert [r[10:12] for r in nd_rows[:3]] == [["1.50x", "0.95x"], ["0.50x", "1.00x"], ["1.25x", "1.00x"]]
    assert "not run" in nd_rows[3]
    assert any(line.startswith("| NT (`nt`) | ours | not run") for line in out.stdout.splitlines())
    out = subprocess.run(script + ["--frontier", str(tmp_path / "f.png")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "f.png").stat().st_size > 0


def targets_json(path, baseline, systems):
    """A seeds.py --json file: systems = {system: {seed: (dist-2 ratio, its low end, bleu-4 ratio)}}."""
    def ratios(d2, low, b4):
        return {"dist-2": {"ratio": d2, "low": low, "high": d2 + 0.1}, "bleu-4": {"ratio": b4, "low": b4 - 0.05,
                                                                                    "high": b4 + 0.05}}
    data = {"baseline": baseline, "decoding": "greedy", "resamples": 10,
            "systems": {name: {str(seed): {"metrics": {}, "ratios": ratios(*r)} for seed, r in seeds.items()}
                        for name, seeds in systems.items()}}
    path.write_text(json.dumps(data))
    return str(path)


def test_the_targets_figure_says_which_targets_each_system_misses(tmp_path):
    short = targets_json(tmp_path / "ep3.json", "standard", {
        "nd": {1: (1.7, 1.3, 0.96), 2: (1.5, 1.25, 0.95), 3: (1.4, 1.21, 0.97)},  # mean 1.53, 0.96: met
        "adalabel": {1: (1.6, 1.1, 1.0), 2: (1.3, 1.25, 0.86)}})
    long = targets_json(tmp_path / "ep15.json", "standard-ep15", {"nd-ep15": {1: (1.7, 1.6, 0.9), 2: (1.5, 1.4, 0.9),
                                                                              3: (1.6, 1.5, 0.93)}})
    out = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "examples/dailydialog/targets_figure.py",
                          str(tmp_path / "t.png"), short, long], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    verdicts = out.stdout.strip().splitlines()[-3:]
    assert verdicts == ["nd / standard: meets the targets",
                        "adalabel / standard: not met: 2 of 3 seeds; mean Dist-2 1.450x < 1.5x; "
                        "a lower bound 1.100x < 1.2x; mean BLEU-4 0.930x < 0.95x",
                        "nd-ep15 / standard-ep15: not met: mean BLEU-4 0.910x < 0.95x"]
    assert "| nd / standard | 2 | 1.50 [1.25, 1.60] | 0.95 [0.90, 1.00] |" in out.stdout
    assert (tmp_path / "t.png").stat().st_size > 0


def test_the_targets_figure_refuses_a_file_that_is_not_seeds_json(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"nd": {"greedy": {"dist-2": 0.1}}}))
    out = subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "examples/dailydialog/targets_figure.py",
                          str(tmp_path / "t.png"), str(tmp_path / "r.json")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {tmp_path / 'r.json'}: not a seeds.py --json file ('baseline')"
    assert not (tmp_path / "t.png").exists()
