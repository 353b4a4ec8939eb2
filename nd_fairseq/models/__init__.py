from . import transformer_nd  # noqa: F401
