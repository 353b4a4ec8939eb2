from . import face, negative_distillation, token_unlikelihood  # noqa: F401
