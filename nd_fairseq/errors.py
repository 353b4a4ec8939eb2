"""The plugin's configuration errors, shown by the fairseq command lines as one line.

A bad flag, checkpoint or model raises ``ConfigError`` (a ValueError) with a message that says
why and what to do; fairseq's CLIs would bury it under ~20 lines of traceback, so the plugin's
import installs a ``sys.excepthook`` that prints ``error: <message>`` instead (exit status 1,
as for any uncaught exception). Other exceptions keep their traceback, and
``ND_FAIRSEQ_TRACEBACK=1`` shows it for ours too.
"""
import os
import sys


class ConfigError(ValueError):
    """A flag, checkpoint or model that cannot work; the message says why and what to do."""


def _one_line(previous_hook):
    def hook(exc_type, exc, tb):
        if issubclass(exc_type, ConfigError) and not os.environ.get("ND_FAIRSEQ_TRACEBACK"):
            print(f"error: {exc}", file=sys.stderr)
        else:
            previous_hook(exc_type, exc, tb)

    hook.nd_fairseq = True
    return hook


def show_config_errors_as_one_line() -> None:
    if not getattr(sys.excepthook, "nd_fairseq", False):
        sys.excepthook = _one_line(sys.excepthook)
