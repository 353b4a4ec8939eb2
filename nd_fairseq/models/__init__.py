from . import transformer_adalabel, transformer_nd  # noqa: F401
