#!/usr/bin/env python3
"""The bundled example: a QONNX jet-tagging MLP (16-64-32-32-5, 8-bit weights, 8-bit ReLU activations).

    python examples/jet_tagging_mlp.py            # (re)writes examples/jet_tagging_mlp.onnx, seed 0
    python examples/jet_tagging_mlp.py --check    # also compiles it to HLS, runs C simulation on 500 inputs and
                                                  # checks every output against the golden model and qonnx
"""
from __future__ import annotations

import argparse
import copy
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "jet_tagging_mlp.onnx")
SIZES = (16, 64, 32, 32, 5)
QONNX = "qonnx.custom_op.general"


def build(seed: int = 0, w_bits: int = 8) -> onnx.ModelProto:
    """Quant(input, 8b, 2^-4) -> [MatMul(Quant(W, 8b narrow)) + Quant(b, 16b) -> Relu -> Quant(8b unsigned)]x3
    -> MatMul + bias -> Quant(16b): the hls4ml jet-tagging benchmark's shape, with QONNX quantizers. `w_bits`
    narrows the weights (scale 2^-(w_bits-1): the same range, coarser steps, more of them zero)."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def quant(x, name, bits, frac, signed=True, narrow=False):
        inits.extend([numpy_helper.from_array(np.float32(2.0 ** -frac), f"{name}_scale"),
                      numpy_helper.from_array(np.float32(0), f"{name}_zeropt"),
                      numpy_helper.from_array(np.float32(bits), f"{name}_bits")])
        nodes.append(helper.make_node("Quant", [x, f"{name}_scale", f"{name}_zeropt", f"{name}_bits"], [name],
                                      name=name, domain=QONNX, signed=int(signed), narrow=int(narrow),
                                      rounding_mode="ROUND"))
        return name

    h = quant("global_in", "quant_in", 8, 4)
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
        w = rng.normal(0, 1.0 / np.sqrt(n_in), size=(n_in, n_out)).astype(np.float32)
        b = rng.normal(0, 0.1, size=n_out).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"fc{i}_w"), numpy_helper.from_array(b, f"fc{i}_b")]
        wq = quant(f"fc{i}_w", f"fc{i}_wq", w_bits, w_bits - 1, narrow=True)
        bq = quant(f"fc{i}_b", f"fc{i}_bq", 16, 12)
        nodes.append(helper.make_node("MatMul", [h, wq], [f"fc{i}_mm"], name=f"fc{i}"))
        nodes.append(helper.make_node("Add", [f"fc{i}_mm", bq], [f"fc{i}_out"], name=f"fc{i}_bias"))
        h = f"fc{i}_out"
        if i < len(SIZES) - 1:
            nodes.append(helper.make_node("Relu", [h], [f"relu{i}"], name=f"relu{i}"))
            h = quant(f"relu{i}", f"act{i}", 8, 4, signed=False)
    h = quant(h, "quant_out", 16, 8)
    graph = helper.make_graph(nodes, "jet_tagging_mlp",
                              [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, ["N", SIZES[0]])],
                              [helper.make_tensor_value_info(h, TensorProto.FLOAT, ["N", SIZES[-1]])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)],
                              producer_name="edgecc-example")
    model.ir_version = 8
    return model


def inputs(n: int = 500, seed: int = 1) -> np.ndarray:
    """Jet-like features: mostly off the input grid, every 4th row exactly on rounding ties, a few saturating."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2.0, size=(n, SIZES[0]))
    x[::4] = np.round(x[::4] * 16) / 16 + 1 / 32   # ties: halfway between two codes of the 2^-4 grid
    x[1::50] *= 8                                  # beyond +-8: the input quantizer saturates
    return x.astype(np.float32)


def qonnx_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    m = copy.deepcopy(model)
    for vi in list(m.graph.input) + list(m.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_value = len(x)
    w = ModelWrapper(m).transform(InferShapes())
    return execute_onnx(w, {"global_in": x})[w.graph.output[0].name].astype(np.float64)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "out_jet_hls"))
    args = ap.parse_args()
    model = build()
    onnx.save(model, MODEL)
    print(f"wrote {os.path.relpath(MODEL)}")
    if not args.check:
        return 0
    import edgecc

    x = inputs()
    graph = edgecc.load(MODEL)
    project = edgecc.compile(graph, backend="hls", out=args.out, board="zcu104")
    print(f"compiled to {os.path.relpath(args.out)}: predicted latency {project.report['latency_cycles']} cycles")
    result = project.run_result(x, quiet=False)
    reference = qonnx_reference(model, x)
    vs_ref = int(np.sum(np.any(graph.golden(x) != reference, axis=1)))
    vs_csim = int(np.sum(np.any(result.outputs != reference, axis=1)))
    print(f"C simulation vs golden model: {result.vectors} vectors, {result.mismatches} mismatches")
    print(f"golden model vs qonnx execute_onnx: {vs_ref} mismatches; C simulation vs qonnx: {vs_csim} mismatches")
    ok = result.mismatches == 0 and vs_ref == 0 and vs_csim == 0
    print("every output matched bit for bit" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
