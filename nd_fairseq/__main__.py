"""``python -m nd_fairseq``: the plugin's own command-line flags with their help.

fairseq's ``--help`` lists only the generic options (for stock tasks as for ours), because it
prints before the task's and the criterion's options are added; this lists ours.
"""
import argparse
import dataclasses

from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterionConfig
from fairseq.dataclass import FairseqDataclass
from fairseq.dataclass.utils import gen_parser_from_dataclass
from fairseq.tasks.translation import TranslationConfig

from .criterions.face import FaceConfig
from .criterions.negative_distillation import NegativeDistillationCriterionConfig
from .criterions.negative_training import NegativeTrainingConfig
from .criterions.token_unlikelihood import TokenUnlikelihoodConfig
from .criterions.vocab_unlikelihood import VocabUnlikelihoodConfig
from .tasks.negative_distillation import NegativeDistillationConfig

LSCE = "plus label_smoothed_cross_entropy's options"


def _own_fields(cls, parent):
    inherited = {f.name for f in dataclasses.fields(parent)}
    return [f.name for f in dataclasses.fields(cls)
            if f.name not in inherited or (f.name == "label_smoothing" and cls is NegativeDistillationCriterionConfig)]


def main():
    description = argparse.ArgumentParser(
        prog="fairseq-train --user-dir nd_fairseq",
        description="Flags added by nd_fairseq (besides fairseq's own). Models: --arch transformer_nd, "
        "transformer_nd_small, transformer_nd_tiny (fairseq's transformer options apply). A criterion's flags "
        "apply when it is chosen (two criteria may share a flag's name).",
    )
    sections = [description.format_help()]
    for title, cls, parent in [
        ("--task negative_distillation (plus all of --task translation's options)",
         NegativeDistillationConfig, TranslationConfig),
        (f"--criterion negative_distillation ({LSCE})", NegativeDistillationCriterionConfig,
         LabelSmoothedCrossEntropyCriterionConfig),
        ("--criterion face (FACE)", FaceConfig, FairseqDataclass),
        (f"--criterion vocab_unlikelihood (UL; {LSCE})", VocabUnlikelihoodConfig,
         LabelSmoothedCrossEntropyCriterionConfig),
        (f"--criterion token_unlikelihood ({LSCE})", TokenUnlikelihoodConfig, LabelSmoothedCrossEntropyCriterionConfig),
        (f"--criterion negative_training (NT; {LSCE})", NegativeTrainingConfig,
         LabelSmoothedCrossEntropyCriterionConfig),
    ]:
        # one parser per section: criteria may share a flag's name (--ul-alpha)
        section = argparse.ArgumentParser(add_help=False, usage=argparse.SUPPRESS,
                                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        group = section.add_argument_group(title)
        full = argparse.ArgumentParser(add_help=False)
        gen_parser_from_dataclass(full, cls())
        wanted = {"--" + name.replace("_", "-") for name in _own_fields(cls, parent)}
        for action in full._actions:
            if set(action.option_strings) & wanted:
                group._add_action(action)
        sections.append(section.format_help().strip("\n") + "\n")
    print("\n".join(sections))


if __name__ == "__main__":
    main()
