"""``python -m nd_fairseq``: the plugin's own command-line flags with their help.

fairseq's ``--help`` lists only the generic options (for stock tasks as for ours), because it
prints before the task's and the criterion's options are added; this lists ours.
"""
import argparse
import dataclasses

from fairseq.dataclass.utils import gen_parser_from_dataclass
from fairseq.tasks.translation import TranslationConfig

from .criterions.negative_distillation import NegativeDistillationCriterionConfig
from .tasks.negative_distillation import NegativeDistillationConfig


def _own_fields(cls, parent):
    inherited = {f.name for f in dataclasses.fields(parent)}
    return [f.name for f in dataclasses.fields(cls) if f.name not in inherited or f.name == "label_smoothing"]


def main():
    parser = argparse.ArgumentParser(
        prog="fairseq-train --user-dir nd_fairseq",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Flags added by nd_fairseq (besides fairseq's own). Models: --arch transformer_nd, "
        "transformer_nd_small, transformer_nd_tiny (fairseq's transformer options apply).",
    )
    for title, cls, parent in [
        ("--task negative_distillation (plus all of --task translation's options)",
         NegativeDistillationConfig, TranslationConfig),
        ("--criterion negative_distillation (plus label_smoothed_cross_entropy's options)",
         NegativeDistillationCriterionConfig, NegativeDistillationCriterionConfig.__mro__[1]),
    ]:
        group = parser.add_argument_group(title)
        full = argparse.ArgumentParser(add_help=False)
        gen_parser_from_dataclass(full, cls())
        wanted = {"--" + name.replace("_", "-") for name in _own_fields(cls, parent)}
        for action in full._actions:
            if set(action.option_strings) & wanted:
                group._add_action(action)
    parser.print_help()


if __name__ == "__main__":
    main()
