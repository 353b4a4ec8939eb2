"""Response-level evaluation of dialogue systems: ``python -m nd_fairseq.eval --help``."""
