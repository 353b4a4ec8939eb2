"""Response-level evaluation of dialogue systems: ``python -m nd_eval --help``."""
