from . import face, negative_distillation, token_unlikelihood, vocab_unlikelihood  # noqa: F401
