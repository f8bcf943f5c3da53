"""The models every backend must pass, with the executor that defines each one's reference answer."""
from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from models import QonnxBuilder, float_mlp, qdq_mlp, qonnx_mlp

QONNX_CASES = {
    "round_unsigned_act": dict(rounding="ROUND"),
    "floor_signed_act": dict(rounding="FLOOR", act_signed=True),
    "ceil_narrow_unsigned": dict(rounding="CEIL", act_narrow=True),
    "half_up_signed_narrow": dict(rounding="HALF_UP", act_signed=True, act_narrow=True),
    "up_deep": dict(rounding="UP", sizes=(12, 20, 16, 6)),
    "half_down_wide": dict(rounding="HALF_DOWN", in_bits=12, in_frac=8, act_bits=10, act_frac=6),
    "down_no_output_quant": dict(rounding="DOWN", out_quant=False),
}

QDQ_CASES = {
    "uint8_zp0": dict(act_dtype="uint8", act_zp=0),
    "uint8_zp128": dict(act_dtype="uint8", act_zp=128),
    "uint8_zp10": dict(act_dtype="uint8", act_zp=10),
    "int8": dict(act_dtype="int8", frac=3, w_frac=7),
}


def residual_mlp(seed: int = 1):
    """x -> Quant -> Reshape/Flatten -> Dense -> Relu -> Quant (h1) -> Dense -> Relu -> Quant (h2) -> h1 + h2 ->
    Quant: a graph whose Add joins two paths of different latency."""
    rng = np.random.default_rng(seed)
    b = QonnxBuilder(16)
    x = b.quant("x", 8, 4)
    shape = b.const(np.array([1, 4, 4]))
    b.inits[-1] = numpy_helper.from_array(np.array([-1, 4, 4], dtype=np.int64), shape)
    b.nodes.append(helper.make_node("Reshape", [x, shape], ["r3"], name="to3d"))
    b.nodes.append(helper.make_node("Flatten", ["r3"], ["flat"], name="flatten", axis=1))
    h1 = b.quant(b.relu(b.dense("flat", rng.normal(0, 0.3, size=(16, 16)), rng.normal(0, 0.1, size=16))), 8, 4,
                 signed=False)
    h2 = b.quant(b.relu(b.dense(h1, rng.normal(0, 0.3, size=(16, 16)), rng.normal(0, 0.1, size=16))), 8, 4,
                 signed=False)
    b.nodes.append(helper.make_node("Add", [h1, h2], ["res"], name="residual"))
    y = b.quant("res", 8, 3, rounding="FLOOR")
    return b.model(y, 16)


def models() -> dict:
    """name -> (ONNX model, reference executor: 'qonnx', 'ort' or 'float')."""
    out = {f"qonnx_{k}": (qonnx_mlp(seed=sum(map(ord, k)) % 1000, **v), "qonnx") for k, v in QONNX_CASES.items()}
    out.update({f"qdq_{k}": (qdq_mlp(seed=len(k), **v), "ort") for k, v in QDQ_CASES.items()})
    out["float_gemm"] = (float_mlp(seed=4, use_gemm=True), "float")
    out["float_matmul_add"] = (float_mlp(seed=4, use_gemm=False), "float")
    out["qonnx_residual"] = (residual_mlp(), "qonnx")
    return out
