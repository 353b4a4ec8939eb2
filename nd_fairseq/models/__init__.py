from . import transformer_adalabel, transformer_cvae, transformer_nd  # noqa: F401
