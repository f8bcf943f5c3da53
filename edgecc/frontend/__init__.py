"""Model files in: picks the reader by file type and returns the model-level ir.Graph."""
from __future__ import annotations

import os

from ..errors import ModelError


def read_model(model):
    """An .onnx path or onnx.ModelProto, or a Keras / QKeras model (object, .h5, .keras or SavedModel folder)
    -> model-level Graph (quantizers not yet folded into types)."""
    from .keras import KERAS_EXTENSIONS, is_keras_model, is_saved_model_dir

    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        ext = os.path.splitext(path)[1].lower()
        if ext in KERAS_EXTENSIONS or is_saved_model_dir(path):
            from .keras import load_keras

            return load_keras(path)
        if os.path.isdir(path):
            raise ModelError(f"{path!r} is a folder but not a SavedModel (no saved_model.pb in it)")
        if ext != ".onnx":
            raise ModelError(f"cannot tell the format of {path!r}: expected .onnx, .h5, .keras or a SavedModel "
                             "folder")
    elif is_keras_model(model):
        from .keras import load_keras

        return load_keras(model)
    from .onnx import load_onnx

    return load_onnx(model)


def supported_onnx_ops() -> list[str]:
    """The ONNX (and QONNX) op types the frontend reads."""
    from .onnx import supported_ops

    return supported_ops()


def supported_keras_layers() -> list[str]:
    """The Keras and QKeras layer classes the frontend reads (without importing TensorFlow)."""
    from .keras import supported_layers

    return supported_layers()
