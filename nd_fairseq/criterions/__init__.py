from . import negative_distillation  # noqa: F401
