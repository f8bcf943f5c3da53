"""Float constants inside a quantized model keep their exact values; quantizers on typed constants requantize exactly.

The reference is qonnx, which computes MatMul and Add in float32: where float32 rounding of x @ W + b changes a
quantizer's decision, qonnx itself is inexact. Those rows are found independently of edgecc, with exact integers.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from onnx import helper, numpy_helper

import edgecc
from edgecc.config import CompileConfig, LayerConfig
from edgecc.errors import ModelError
from edgecc.ir.types import parse_type
from helpers import probe_inputs
from models import QonnxBuilder, qonnx_float_bias_mlp
from references import _with_batch, qonnx_reference

N = 2000


def off_grid_inputs(graph, n: int) -> np.ndarray:
    """Half probe_inputs (ties, on-grid, off-grid, saturating), half uniformly random off-grid values in range."""
    rng = np.random.default_rng(21)
    t = graph.tensor(graph.hw_inputs()[0]).type
    uniform = rng.uniform(t.min_int, t.max_int, size=(n - n // 2, graph.tensor(graph.inputs[0]).shape[0]))
    return np.concatenate([probe_inputs(graph, n // 2, seed=4), np.ldexp(uniform, -t.frac).astype(np.float32)])


def _codes(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Float values on a power-of-two grid as exact integers: the smallest frac at which all are integral."""
    a = np.asarray(a, dtype=np.float64)
    for frac in range(0, 200):
        scaled = np.ldexp(a, frac)
        if np.all(scaled == np.round(scaled)):
            assert np.max(np.abs(scaled)) < 2.0 ** 40
            return scaled.astype(np.int64), frac
    raise AssertionError("values are not on a power-of-two grid")


def _round_half_even(v: int, shift: int) -> int:
    return round(Fraction(v, 1 << shift))  # Fraction rounds halves to even


def rows_where_float32_changed_a_decision(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """qonnx's output, and per row whether any activation quantizer got other codes from qonnx's float32
    pre-quantizer values than from the exact value of the same layer on qonnx's own quantized inputs."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    w = ModelWrapper(_with_batch(model, len(x))).transform(InferShapes())
    ctx = execute_onnx(w, {"x": x.astype(np.float32)}, return_full_exec_context=True)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    changed = np.zeros(len(x), dtype=bool)
    for quant in (n for n in model.graph.node if n.op_type == "Quant" and n.input[0] in producer):
        node = producer[quant.input[0]]  # (the input and weight quantizers read no node's output)
        relu = node.op_type == "Relu"
        add = producer[node.input[0]] if relu else node
        matmul = producer[add.input[0]]
        xc, fx = _codes(ctx[matmul.input[0]])
        wc, fw = _codes(ctx[matmul.input[1]])
        bc, fb = _codes(inits[add.input[1]])
        frac = max(fx + fw, fb)
        exact = ((xc @ wc) << (frac - fx - fw)) + (bc << (frac - fb))  # x @ W + b at 2**-frac, exactly
        if relu:
            exact = np.maximum(exact, 0)
        _, fq = _codes(inits[quant.input[1]])
        bits = int(inits[quant.input[3]])
        attrs = {a.name: helper.get_attribute_value(a) for a in quant.attribute}
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if attrs["signed"] else (0, (1 << bits) - 1)
        if attrs["narrow"]:
            lo, hi = (lo + 1, hi) if attrs["signed"] else (lo, hi - 1)
        want = np.array([[min(max(_round_half_even(int(v), frac - fq), lo), hi) for v in row] for row in exact])
        got = np.ldexp(ctx[quant.output[0]].astype(np.float64), fq)
        changed |= np.any(got != want, axis=1)
    return np.asarray(ctx[model.graph.output[0].name], dtype=np.float64), changed


def test_float_bias_in_qonnx_mlp_is_exact_and_matches_qonnx_wherever_qonnx_is_exact():
    model = qonnx_float_bias_mlp()
    graph = edgecc.load(model)
    for dense in (n for n in graph.nodes if n.op == "Dense"):
        bias = graph.tensor(dense.inputs[2])
        assert bias.type.frac >= 24  # the biases' own exact grid, not the default fixed<16,6>
    x = off_grid_inputs(graph, N)
    reference, float32_changed = rows_where_float32_changed_a_decision(model, x)
    np.testing.assert_array_equal(reference, qonnx_reference(model, x))
    golden = graph.golden(x)
    mismatch = np.any(golden != reference, axis=1)
    print(f"\nfloat bias vs qonnx on {N} rows: {np.sum(~mismatch)} match bit for bit; float32 changed a quantizer "
          f"decision in {np.sum(float32_changed)} rows, of which {np.sum(mismatch)} change the output")
    np.testing.assert_array_equal(golden[~float32_changed], reference[~float32_changed])
    assert not np.any(mismatch & ~float32_changed)
    assert 0 < np.sum(float32_changed) < N // 10  # the hazards do bite, in a few rows only


def test_float_bias_rounded_to_the_default_type_differs_from_qonnx():
    """The behaviour before exact float constants: biases rounded to fixed<16,6> (forced here by the config)."""
    model = qonnx_float_bias_mlp()
    default = parse_type("fixed<16,6>", "ROUND", "SAT")
    names = [n.name for n in model.graph.node if n.op_type == "MatMul"]
    old = edgecc.load(model, config=CompileConfig(layers={n: LayerConfig(bias_type=default) for n in names}))
    exact = edgecc.load(model)
    x = off_grid_inputs(exact, N)
    reference, float32_changed = rows_where_float32_changed_a_decision(model, x)
    old_mismatch = np.any(old.golden(x) != reference, axis=1)
    print(f"\nbiases rounded to {default}: {np.sum(old_mismatch)} of {N} rows differ from qonnx, "
          f"{np.sum(old_mismatch & ~float32_changed)} of them where qonnx is exact")
    assert np.sum(old_mismatch & ~float32_changed) > N // 20
    np.testing.assert_array_equal(exact.golden(x)[~float32_changed], reference[~float32_changed])


def test_config_bias_type_wins_over_the_exact_type():
    model = qonnx_float_bias_mlp()
    name = next(n.name for n in model.graph.node if n.op_type == "MatMul")
    cfg = CompileConfig(layers={name: LayerConfig(bias_type=parse_type("fixed<12,4>", "ROUND", "SAT"))})
    graph = edgecc.load(model, config=cfg)
    bias = graph.tensor(graph.node(name).inputs[2])
    assert str(bias.type) == "fixed<12,4>"
    exact = numpy_helper.to_array(next(i for i in model.graph.initializer
                                       if i.name == next(n for n in model.graph.node if n.op_type == "Add").input[1]))
    assert bias.data.tolist() == np.round(np.ldexp(exact.astype(np.float64), 8)).astype(np.int64).tolist()


def test_float_constant_holds_exactly_the_float32_value():
    b = QonnxBuilder(4)
    x = b.quant("x", 8, 4)
    c = b.const(np.array([0.1, -3.0, 0.0, 1024.0]))  # 0.1 as float32 is 13421773 * 2**-27
    b.nodes.append(helper.make_node("Add", [x, c], ["y"], name="offset"))
    graph = edgecc.load(b.model("y", 4))
    t = graph.tensor(graph.node("offset").inputs[1])
    assert t.type.frac == 27
    assert t.data.tolist() == [13421773, -3 << 27, 0, 1024 << 27]


def test_float_constant_too_wide_for_one_type_names_node_constant_and_fix():
    b = QonnxBuilder(2)
    x = b.quant("x", 8, 4)
    c = b.const(np.array([1e-30, 100.0]))
    b.nodes.append(helper.make_node("Add", [x, c], ["y"], name="offset"))
    with pytest.raises(ModelError, match=r"node 'offset': bias 'c2_b' .* needs 125 bits .*finest 1e-30 .*"
                                         r"layers: \{offset: \{bias: 'fixed<24,8>'\}\}"):
        edgecc.load(b.model("y", 2))


def test_float_model_constants_keep_the_default_precision():
    from models import float_mlp

    graph = edgecc.load(float_mlp(seed=2))
    for dense in (n for n in graph.nodes if n.op == "Dense"):
        assert [str(graph.tensor(t).type) for t in dense.inputs[1:]] == ["fixed<16,6>", "fixed<16,6>"]


@pytest.mark.parametrize("rounding", ["ROUND", "FLOOR", "HALF_DOWN", "UP"])
def test_quant_on_a_quantized_constant_requantizes_its_codes_like_qonnx(rounding):
    rng = np.random.default_rng(8)
    b = QonnxBuilder(8)
    x = b.quant("x", 8, 4)
    w = b.quant(b.const(rng.normal(0, 0.5, size=(8, 6))), 10, 8)
    w = b.quant(w, 5, 3, rounding=rounding)  # a coarser quantizer on the already quantized weights
    b.nodes.append(helper.make_node("MatMul", [x, w], ["y"], name="mm"))
    model = b.model("y", 6)
    graph = edgecc.load(model)
    assert graph.tensor(graph.node("mm").inputs[1]).type.frac == 3
    xs = probe_inputs(graph, 500)
    np.testing.assert_array_equal(graph.golden(xs), qonnx_reference(model, xs))


def test_infinite_float_constant_names_node_and_constant():
    b = QonnxBuilder(2)
    x = b.quant("x", 8, 4)
    c = b.const(np.array([np.inf, 1.0]))
    b.nodes.append(helper.make_node("Add", [x, c], ["y"], name="offset"))
    with pytest.raises(ModelError, match=r"node 'offset': constant 'c2' holds inf"):
        edgecc.load(b.model("y", 2))
