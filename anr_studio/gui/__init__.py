"""The desktop studio: the only package that imports PySide6, vispy or pyqtgraph."""

# Mesa's llvmpipe OpenGL and Triton each carry their own LLVM; loading Triton (which torch
# imports lazily, e.g. when training builds torchvision ops) after a GL context exists crashes
# the process. Importing it here, before any GL context, keeps the two apart.
try:  # noqa: SIM105 - triton is optional
    import torch._dynamo  # noqa: F401
except Exception:  # pragma: no cover - CPU builds without triton
    pass
