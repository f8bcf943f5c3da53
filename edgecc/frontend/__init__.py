"""Model files in: picks the reader by file type and returns the model-level ir.Graph."""
from __future__ import annotations

import os

from ..errors import ModelError, UnsupportedOp


def read_model(model):
    """An .onnx path or onnx.ModelProto -> model-level Graph (quantizers not yet folded into types)."""
    if isinstance(model, (str, os.PathLike)):
        ext = os.path.splitext(os.fspath(model))[1].lower()
        if ext in (".h5", ".keras"):
            raise UnsupportedOp(f"Keras/QKeras models ({ext}) are not supported yet; export to ONNX or QONNX")
        if ext != ".onnx":
            raise ModelError(f"cannot tell the format of {os.fspath(model)!r}: expected .onnx, .h5 or .keras")
    from .onnx import load_onnx

    return load_onnx(model)


def supported_onnx_ops() -> list[str]:
    """The ONNX (and QONNX) op types the frontend reads."""
    from .onnx import supported_ops

    return supported_ops()
