"""Independent reference executors: qonnx execute_onnx for QONNX graphs, onnxruntime for QDQ and float graphs."""
from __future__ import annotations

import copy

import numpy as np
import onnx


def _with_batch(model: onnx.ModelProto, n: int) -> onnx.ModelProto:
    m = copy.deepcopy(model)
    for vi in list(m.graph.input) + list(m.graph.output):
        dim = vi.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = n
    del m.graph.value_info[:]
    return m


def qonnx_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    w = ModelWrapper(_with_batch(model, len(x))).transform(InferShapes())
    out = execute_onnx(w, {w.graph.input[0].name: np.asarray(x, dtype=np.float32)})
    return np.asarray(out[w.graph.output[0].name], dtype=np.float64)


def ort_reference(model: onnx.ModelProto, x: np.ndarray, optimize: bool = False) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: np.asarray(x, dtype=np.float32)})
    return np.asarray(out[0], dtype=np.float64)
