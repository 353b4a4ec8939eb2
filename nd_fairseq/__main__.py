"""``python -m nd_fairseq``: every task, criterion and model this plugin registers, with the
command-line flags it adds and their help.

fairseq's ``--help`` lists only the generic options (for stock tasks as for ours), because it
prints before the task's and the criterion's options are added; this lists ours. The listing
is read from fairseq's registries (filtered to this package), so that a new component cannot be
left out: a component's flags are those its class adds to, or changes the default of, the
nearest fairseq class it extends.
"""
import argparse
import dataclasses

from fairseq.criterions import CRITERION_DATACLASS_REGISTRY
from fairseq.dataclass.utils import gen_parser_from_dataclass
from fairseq.models import ARCH_MODEL_REGISTRY, MODEL_REGISTRY
from fairseq.tasks import TASK_DATACLASS_REGISTRY

import nd_fairseq  # noqa: F401  (registers the components)

PACKAGE = __name__.split(".")[0] if __name__ != "__main__" else "nd_fairseq"


def is_ours(cls) -> bool:
    return cls.__module__.split(".")[0] == PACKAGE


def _default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING


def foreign_dataclass_base(cls):
    """The nearest dataclass ``cls`` extends that is not this package's (FairseqDataclass at least)."""
    return next(base for base in cls.__mro__[1:] if dataclasses.is_dataclass(base) and not is_ours(base))


def own_dataclass_flags(cls):
    """The flags of ``cls``'s fields that its fairseq base lacks or defaults otherwise."""
    inherited = {f.name: f for f in dataclasses.fields(foreign_dataclass_base(cls))}
    return {"--" + f.name.replace("_", "-") for f in dataclasses.fields(cls)
            if f.name not in inherited or _default(f) != _default(inherited[f.name])}


def _model_flags(cls):
    parser = argparse.ArgumentParser(add_help=False)
    cls.add_args(parser)
    return parser


def own_model_flags(cls):
    """The flags ``cls.add_args`` adds beyond the fairseq model it extends."""
    base = next(b for b in cls.__mro__[1:] if not is_ours(b) and hasattr(b, "add_args"))
    known = {s for action in _model_flags(base)._actions for s in action.option_strings}
    return {s for action in _model_flags(cls)._actions for s in action.option_strings} - known


def components():
    """(title, parser holding every flag, the flags to show), one per registered component."""
    out = []
    for kind, registry in (("task", TASK_DATACLASS_REGISTRY), ("criterion", CRITERION_DATACLASS_REGISTRY)):
        for name, cls in sorted(registry.items()):
            if not is_ours(cls):
                continue
            base = foreign_dataclass_base(cls)
            base_name = next((n for n, c in registry.items() if c is base), None)
            also = f" (plus --{kind} {base_name}'s options)" if base_name else ""
            parser = argparse.ArgumentParser(add_help=False)
            gen_parser_from_dataclass(parser, cls())
            out.append((f"--{kind} {name}{also}", parser, own_dataclass_flags(cls)))
    for name, cls in sorted(MODEL_REGISTRY.items()):
        if not is_ours(cls):
            continue
        archs = ", ".join(sorted(a for a, model in ARCH_MODEL_REGISTRY.items() if model is cls))
        out.append((f"--arch {archs} (model {name}; plus fairseq's transformer options)", _model_flags(cls),
                    own_model_flags(cls)))
    return out


def main():
    description = argparse.ArgumentParser(
        prog="fairseq-train --user-dir nd_fairseq",
        description="Flags added by nd_fairseq (besides fairseq's own), for each task, criterion and model it "
        "registers. A criterion's flags apply when it is chosen (two criteria may share a flag's name).",
    )
    sections = [description.format_help()]
    for title, full, wanted in components():
        # one parser per section: criteria may share a flag's name
        section = argparse.ArgumentParser(add_help=False, usage=argparse.SUPPRESS,
                                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        group = section.add_argument_group(title)
        for action in full._actions:
            if set(action.option_strings) & wanted:
                group._add_action(action)
        if not wanted:
            group.description = "(no flags of its own)"
        sections.append(section.format_help().strip("\n") + "\n")
    print("\n".join(sections))


if __name__ == "__main__":
    main()
