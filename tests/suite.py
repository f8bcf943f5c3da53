"""The suite every backend must pass: models with the executor that defines each one's reference answer, and the
compile options that select each micro-architecture and composition."""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

import edgecc
from edgecc.config import CompileConfig, LayerConfig
from edgecc.ir.types import parse_type
from models_cnn import CNN_MODELS, GEOMETRY_MODELS, float_cnn, table_activations
from models import (QonnxBuilder, float_mlp, qdq_mlp, qonnx_float_bias_mlp, qonnx_mlp, qonnx_ops_model,
                    qonnx_scaled_mlp, qonnx_two_branches)

DATA = os.path.join(os.path.dirname(__file__), "data")


def ort_quantized(name: str) -> onnx.ModelProto:
    """A model onnxruntime's quantize_static wrote (tests/data/make_ort_qdq_models.py): scales that are not powers
    of two, per-channel weights, zero points."""
    return onnx.load(os.path.join(DATA, f"ort_qdq_{name}.onnx"))

QONNX_CASES = {
    "round_unsigned_act": dict(rounding="ROUND"),
    "floor_signed_act": dict(rounding="FLOOR", act_signed=True),
    "ceil_narrow_unsigned": dict(rounding="CEIL", act_narrow=True),
    "half_up_signed_narrow": dict(rounding="HALF_UP", act_signed=True, act_narrow=True),
    "up_deep": dict(rounding="UP", sizes=(12, 20, 16, 6)),
    "half_down_wide": dict(rounding="HALF_DOWN", in_bits=12, in_frac=8, act_bits=10, act_frac=6),
    "down_no_output_quant": dict(rounding="DOWN", out_quant=False),
    "w4_pruned": dict(w_bits=4, w_frac=3, sizes=(16, 13, 6), prune=0.3),   # 4-bit weights, a third zero
    "w3_dense": dict(w_bits=3, w_frac=2, sizes=(18, 9, 4), rounding="HALF_UP"),
}

QDQ_CASES = {
    "uint8_zp0": dict(act_dtype="uint8", act_zp=0),
    "uint8_zp128": dict(act_dtype="uint8", act_zp=128),
    "uint8_zp10": dict(act_dtype="uint8", act_zp=10),
    "int8": dict(act_dtype="int8", frac=3, w_frac=7),
}


# A node name written to break out of a C string, a comment or a Verilog module (names are untrusted text).
HOSTILE = 'fc1"; system("rm -rf /"); /* */ \n`define x module endmodule\\'


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
    h1 = b.quant(b.relu(b.dense("flat", rng.normal(0, 0.3, size=(16, 16)), rng.normal(0, 0.1, size=16), name="fc1")),
                 8, 4, signed=False)
    h2 = b.quant(b.relu(b.dense(h1, rng.normal(0, 0.3, size=(16, 16)), rng.normal(0, 0.1, size=16), name="fc2")),
                 8, 4, signed=False)
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
    out["qonnx_ops"] = (qonnx_ops_model(), "qonnx")
    out["qonnx_two_branches"] = (qonnx_two_branches(), "qonnx")
    # CNNs: exact against qonnx, but for two arithmetic choices the ONNX graph leaves to the compiler, where the
    # golden model is within one output step of qonnx's float: the softmax, at the output or before a Dense (the
    # IR's integer algorithm, edgecc/ir/ops_pointwise.py), and an average over three taps with no quantizer after
    # it (rounded onto 2^-(f + ceil(log2 3)), edgecc/ir/ops_spatial.py)
    step = ("table_activations", "grouped_pools", "conv1d_geometry")
    out.update({f"cnn_{k}": (make(), "qonnx_step" if k in step else "qonnx")
                for k, make in {**CNN_MODELS, **GEOMETRY_MODELS}.items()})
    out["cnn_table_activations_no_softmax"] = (table_activations(softmax=False), "qonnx")
    out["cnn_float"] = (float_cnn(), "float")
    # scales that are not powers of two (TFLite's integer requantization, the IR's Requantize): the golden model is
    # within one output step of the float32 reference executor
    out["ort_qdq_mlp"] = (ort_quantized("mlp"), "ort_scaled")
    out["ort_qdq_cnn"] = (ort_quantized("cnn"), "ort_scaled")
    out["qonnx_scaled"] = (qonnx_scaled_mlp(), "qonnx_scaled")
    return out


# table_activations' tables sized and typed by the config (the layers by the names edgecc gives them): a 64-entry
# sigmoid, a tanh whose input is quantized FLOOR to 9 bits, a softmax with 12-bit exponential and reciprocal tables
TABLE_CONFIG = CompileConfig(layers={
    "sig8": LayerConfig(table_input=parse_type("fixed<6,3,ROUND,SAT>")),
    "tanh16": LayerConfig(table_input=parse_type("fixed<9,3,FLOOR,SAT>")),
    "softmax25": LayerConfig(table_input=parse_type("fixed<8,4,ROUND,SAT>"),
                             table_type=parse_type("ufixed<12,1,ROUND,SAT>"))})


def _reuse(**layers: int) -> CompileConfig:
    return CompileConfig(layers={name: LayerConfig(reuse_factor=r) for name, r in layers.items()})


@dataclass(frozen=True)
class Case:
    """A suite entry: a model, how it is lowered (edgecc.load options) and compiled (edgecc.compile options).

    The model is an ONNX `model`, or a `loader` that builds one on first use (a Keras model: TensorFlow is started
    only by the tests that lower it)."""

    model: onnx.ModelProto | None = None
    load: dict = field(default_factory=dict)
    compile: dict = field(default_factory=dict)   # FPGA options (board, ii): the C backend runs on its own board
    fpga_only: bool = False   # a variant in FPGA compile options only: on a CPU it is the case it varies
    slow_vectors: int = 1000  # vectors on Icarus and under --stress (a CNN's frames are many cycles each)
    loader: Callable[[], object] | None = None

    def runs_on(self, backend) -> bool:
        return not self.fpga_only or backend.board_kind == "fpga"

    def graph(self):
        return edgecc.load(self.model if self.model is not None else self.loader(), **self.load)

    def options_for(self, backend) -> dict:
        """The compile options that apply to a backend: an FPGA board or II target means nothing to a CPU."""
        return self.compile if backend.board_kind == "fpga" else {}


# A CNN's whole-frame form (every window position built in parallel) is a design for a large part: the suite
# compiles it for one at the default board's clock, so the scheduler keeps it fully parallel (on pynq-z2 it folds
# what it can, and some do not fit at all: tests/schedule/test_solver.py covers that).
WHOLE_FRAME = {"io_type": "parallel", "board": "vu13p", "clock_ns": 10.0}


def cases() -> dict[str, Case]:
    """Every model of `models()` as it is, plus the variants that select other micro-architectures and compositions:
    every layer folded to one II (lock-step), one folded layer feeding a fully parallel one and a folded branch
    joining a parallel one (streams, FIFOs), a fast clock, float constants kept exact, a wrapping input."""
    out = {name: Case(model, compile=WHOLE_FRAME, slow_vectors=100) if "cnn" in name
           else Case(model) for name, (model, _) in models().items()}
    # the streaming form of the CNNs (HLS io_stream; RTL pixels over ready/valid with window generators)
    for name in ("cnn_cnn1d", "cnn_cnn2d_geometry", "cnn_depthwise_separable", "cnn_residual_block",
                 "cnn_table_activations", "cnn_float", "ort_qdq_cnn"):
        out[f"{name}_stream"] = Case(out[name].model, compile={"io_type": "stream"}, fpga_only=True,
                                     slow_vectors=100)
    out["cnn_table_config"] = Case(out["cnn_table_activations"].model, load={"config": TABLE_CONFIG},
                                   compile=WHOLE_FRAME, slow_vectors=100)
    # every layer folded by 4 (the scheduler alone would rather pay LUTs for a parallel design than 128 DSPs)
    out["ii4"] = Case(qonnx_mlp(seed=21, layer_names=["fc1", "fc2"]), load={"config": _reuse(fc1=4, fc2=4)},
                      compile={"ii": 4})
    out["stream_folded_then_parallel"] = Case(qonnx_mlp(sizes=(16, 12, 6), seed=3, layer_names=["fc1", "fc2"]),
                                              load={"config": _reuse(fc1=4)})
    out["stream_residual_fifo"] = Case(residual_mlp(), load={"config": _reuse(fc2=4)})
    out["stream_branches"] = Case(qonnx_two_branches(), load={"config": _reuse(fb1=2, fb2=3)})
    out["residual_fast_clock"] = Case(residual_mlp(), compile={"board": "vu13p"}, fpga_only=True)
    out["float_bias_exact"] = Case(qonnx_float_bias_mlp())
    out["float_wrap_input"] = Case(float_mlp(seed=6), load={"precision": "fixed<8,3,FLOOR,WRAP>"})
    out["hostile_names"] = Case(qonnx_mlp(sizes=(8, 6, 3), seed=12, layer_names=[HOSTILE, "0" + HOSTILE]))
    out.update(keras_cases())
    return out


def keras_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "tf_keras", "qkeras"))


def keras_cases() -> dict[str, Case]:
    """The QKeras zoo (tests/models_keras.py), read by the Keras frontend."""
    if not keras_available():
        return {}
    from models_keras import ZOO

    out = {"keras_mlp": Case(loader=ZOO["mlp"])}
    for name in ("cnn1d", "cnn2d", "depthwise"):
        out[f"keras_{name}"] = Case(loader=ZOO[name], compile=WHOLE_FRAME, slow_vectors=100)
    return out
