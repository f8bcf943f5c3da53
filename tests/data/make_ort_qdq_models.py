#!/usr/bin/env python3
"""Writes the onnxruntime-quantized models the suite reads: a float MLP and a float CNN (random weights, fixed
seeds) quantized by onnxruntime's `quantize_static` (QDQ format, per-channel int8 weights, uint8 activations,
MinMax calibration on a small random data set). Every scale is then an arbitrary float32 (not a power of two) and
every activation has a zero point, as a real post-training quantization leaves them.

    python tests/data/make_ort_qdq_models.py     # rewrites tests/data/ort_qdq_mlp.onnx and ort_qdq_cnn.onnx

The models:
    MLP  x[16] -> Gemm 16->24 -> Relu -> Gemm 24->16 -> Relu -> Gemm 16->5
    CNN  x[1, 8, 8] -> Conv 3x3 1->4 pad 1 -> Relu -> MaxPool 2x2 -> Conv 3x3 4->8 -> Relu -> Flatten -> Gemm 32->10
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
MLP = os.path.join(HERE, "ort_qdq_mlp.onnx")
CNN = os.path.join(HERE, "ort_qdq_cnn.onnx")
CALIBRATION_VECTORS = 32


def _init(name: str, a) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def _model(nodes, inits, in_shape, n_out, name) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n_out])
    m = helper.make_model(helper.make_graph(nodes, name, [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def float_mlp(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    sizes = (16, 24, 16, 5)
    nodes, inits, h = [], [], "x"
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        inits += [_init(f"w{i}", rng.normal(0, 1 / np.sqrt(n_in), size=(n_out, n_in))),
                  _init(f"b{i}", rng.normal(0, 0.2, size=n_out))]
        last = i == len(sizes) - 2
        out = "y" if last else f"g{i}"
        nodes.append(helper.make_node("Gemm", [h, f"w{i}", f"b{i}"], [out], name=f"fc{i}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"], name=f"relu{i}"))
            h = f"r{i}"
    return _model(nodes, inits, (sizes[0],), sizes[-1], "ort_mlp")


def float_cnn(seed: int = 1) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    inits = [_init("w1", rng.normal(0, 0.4, (4, 1, 3, 3))), _init("b1", rng.normal(0, 0.1, 4)),
             _init("w2", rng.normal(0, 0.25, (8, 4, 3, 3))), _init("b2", rng.normal(0, 0.1, 8)),
             _init("w3", rng.normal(0, 0.2, (10, 32))), _init("b3", rng.normal(0, 0.1, 10))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("Flatten", ["r2"], ["f"], name="flatten", axis=1),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1)]
    return _model(nodes, inits, (1, 8, 8), 10, "ort_cnn")


class RandomCalibration:
    """onnxruntime's CalibrationDataReader protocol: `get_next` gives one input dict, then None."""

    def __init__(self, shape: tuple[int, ...], seed: int):
        rng = np.random.default_rng(seed)
        self.batches = iter([{"x": rng.normal(0, 1, size=(1, *shape)).astype(np.float32)}
                             for _ in range(CALIBRATION_VECTORS)])

    def get_next(self):
        return next(self.batches, None)


def quantize(model: onnx.ModelProto, in_shape: tuple[int, ...], path: str, seed: int) -> onnx.ModelProto:
    """onnxruntime's post-training static quantization of `model`, QDQ format, per-channel weights."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with tempfile.TemporaryDirectory() as tmp:
        float_path = os.path.join(tmp, "float.onnx")
        onnx.save(model, float_path)
        quantize_static(float_path, path, RandomCalibration(in_shape, seed), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    return onnx.load(path)


def main() -> int:
    import logging

    logging.getLogger().setLevel(logging.ERROR)   # quantize_static suggests a pre-processing step we do not need
    for make, shape, path, seed in ((float_mlp, (16,), MLP, 10), (float_cnn, (1, 8, 8), CNN, 11)):
        q = quantize(make(), shape, path, seed)
        print(f"{os.path.relpath(path)}: {os.path.getsize(path)} bytes, "
              f"{', '.join(sorted({n.op_type for n in q.graph.node}))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
