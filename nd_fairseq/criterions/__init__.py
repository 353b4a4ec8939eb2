from . import adalabel, cvae, face, negative_distillation, negative_training, token_unlikelihood, vocab_unlikelihood  # noqa: F401
