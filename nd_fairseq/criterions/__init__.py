from . import face, negative_distillation  # noqa: F401
