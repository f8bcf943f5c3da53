"""Each IR op's golden semantics against an independent reference: exact rationals (Fractions) or float64 where
float64 is exact. Graphs are built directly in the IR."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from edgecc.ir.golden import run_codes
from edgecc.ir.graph import Graph, Node, Tensor
from edgecc.ir.ops import op_def
from edgecc.ir.passes import infer_accumulators
from edgecc.ir.types import ROUNDING_MODES, FixedType

from .test_types import reference_round


def boundary_graph(in_type: FixedType, shape) -> Graph:
    g = Graph("t")
    g.add_tensor(Tensor("x", tuple(shape)))
    g.add_tensor(Tensor("xq", tuple(shape), in_type))
    g.inputs = ["x"]
    g.add_node(Node("in", "Quantize", ["x"], ["xq"], {"rounding": in_type.rounding, "lo": in_type.min_int,
                                                      "hi": in_type.max_int}))
    return g


def finish(g: Graph, out: str) -> Graph:
    g.outputs = [out]
    infer_accumulators.run(g, None)
    return g


def dense_graph(x_t, w_codes, w_t, b_codes=None, b_t=None, relu=False):
    k, m = w_codes.shape
    g = boundary_graph(x_t, (k,))
    g.add_tensor(Tensor("w", (k, m), w_t, w_codes))
    inputs = ["xq", "w"]
    if b_codes is not None:
        g.add_tensor(Tensor("b", (m,), b_t, b_codes))
        inputs.append("b")
    g.add_tensor(Tensor("y", (m,)))
    g.add_node(Node("fc", "Dense", inputs, ["y"], {"activation": "relu" if relu else None}))
    return finish(g, "y")


def value(code, t):
    return Fraction(int(code)) / Fraction(2) ** t.frac if t.frac >= 0 else Fraction(int(code) * 2 ** -t.frac)


@pytest.mark.parametrize("relu", [False, True])
def test_dense_matches_float64_reference(relu):
    rng = np.random.default_rng(3)
    x_t, w_t, b_t = FixedType(8, 3), FixedType(6, 1), FixedType(12, 2)
    w = rng.integers(w_t.min_int, w_t.max_int, size=(20, 7), endpoint=True)
    b = rng.integers(b_t.min_int, b_t.max_int, size=7, endpoint=True)
    g = dense_graph(x_t, w, w_t, b, b_t, relu)
    xc = rng.integers(x_t.min_int, x_t.max_int, size=(500, 20), endpoint=True)
    got = g.tensor("y").type.to_float(run_codes(g, [xc])[0])
    want = (xc * x_t.step) @ (w * w_t.step) + b * b_t.step
    if relu:
        want = np.maximum(want, 0)
    np.testing.assert_array_equal(got, want)


def test_dense_exact_beyond_int64_with_python_ints():
    x_t, w_t = FixedType(40, 10), FixedType(30, 2)
    w = np.array([[w_t.max_int, w_t.min_int], [w_t.min_int, 12345]], dtype=object)
    g = dense_graph(x_t, w, w_t)
    acc_t = g.node("fc").attrs["accumulator_type"]
    assert acc_t.width > 64
    xc = np.array([[x_t.min_int, x_t.max_int], [x_t.max_int, x_t.max_int], [-3, 77]], dtype=object)
    got = run_codes(g, [xc])[0]
    for r in range(3):
        for j in range(2):
            exact = sum(value(xc[r, i], x_t) * value(w[i, j], w_t) for i in range(2))
            assert value(got[r, j], g.tensor("y").type) == exact


def test_accumulator_is_exactly_as_wide_as_the_weights_need():
    x_t, w_t = FixedType(4, 4, False), FixedType(4, 4)
    w = np.array([[7, -8], [7, 1], [7, 0]])
    g = dense_graph(x_t, w, w_t)
    acc = g.node("fc").attrs["accumulator_type"]
    # column 0 reaches 3*7*15 = 315 and never goes below 0; column 1 reaches -8*15 = -120 and 15
    assert (acc.min_int <= -120) and (acc.max_int >= 315)
    assert acc == FixedType.covering(-120, 315, 0)
    worst = run_codes(g, [np.array([[15, 15, 15], [15, 0, 0]])])[0]
    assert worst.tolist() == [[315, -105], [105, -120]]


def test_add_aligns_fractions_exactly():
    a_t, b_t = FixedType(6, 2), FixedType(9, 7, False)
    g = boundary_graph(a_t, (4,))
    g.add_tensor(Tensor("c", (4,), b_t, np.array([0, 1, 511, 300])))
    g.add_tensor(Tensor("y", (4,)))
    g.add_node(Node("add", "Add", ["xq", "c"], ["y"]))
    finish(g, "y")
    xc = np.array([[-32, 31, 5, -1]])
    got = run_codes(g, [xc])[0]
    y_t = g.tensor("y").type
    for j in range(4):
        assert value(got[0, j], y_t) == value(xc[0, j], a_t) + value(g.tensor("c").data[j], b_t)


@pytest.mark.parametrize("mode", ROUNDING_MODES)
@pytest.mark.parametrize("saturate", [True, False])
def test_quantize_rounds_then_clamps_or_wraps(mode, saturate):
    in_t = FixedType(10, 4)
    out_t = FixedType(5, 2, True, mode, "SAT" if saturate else "WRAP")
    g = boundary_graph(in_t, (1,))
    g.add_tensor(Tensor("y", (1,), out_t))
    g.add_node(Node("q", "Quantize", ["xq"], ["y"], {"rounding": mode, "lo": out_t.min_int, "hi": out_t.max_int}))
    finish(g, "y")
    codes = np.arange(in_t.min_int, in_t.max_int + 1).reshape(-1, 1)
    got = run_codes(g, [codes])[0].ravel()
    for c, q in zip(codes.ravel(), got):
        r = reference_round(value(c, in_t) * 2 ** out_t.frac, mode)
        want = min(max(r, out_t.min_int), out_t.max_int) if saturate else ((r + 16) % 32) - 16
        assert q == want, (c, mode)


def test_quantize_with_a_narrower_clamp_range():
    in_t, out_t = FixedType(10, 6), FixedType(8, 4, True, "ROUND", "SAT")
    g = boundary_graph(in_t, (1,))
    g.add_tensor(Tensor("y", (1,), out_t))
    g.add_node(Node("q", "Quantize", ["xq"], ["y"], {"rounding": "ROUND", "lo": -100, "hi": 27}))
    finish(g, "y")
    got = run_codes(g, [np.array([[-512], [511], [7], [6]])])[0].ravel()
    assert got.tolist() == [-100, 27, 7, 6]


def test_relu_and_reshape():
    t = FixedType(6, 3)
    g = boundary_graph(t, (2, 3))
    g.add_tensor(Tensor("r", (2, 3)))
    g.add_tensor(Tensor("y", (6,)))
    g.add_node(Node("relu", "Relu", ["xq"], ["r"]))
    g.add_node(Node("flat", "Reshape", ["r"], ["y"]))
    finish(g, "y")
    assert g.tensor("r").type == FixedType(5, 2, False)
    x = np.array([[[-32, -1, 0], [1, 31, -5]]])
    assert run_codes(g, [x])[0].tolist() == [[0, 0, 0, 1, 31, 0]]


def test_every_op_infers_the_type_it_evaluates_into():
    rng = np.random.default_rng(0)
    x_t, w_t = FixedType(7, 2), FixedType(5, 0)
    g = dense_graph(x_t, rng.integers(-16, 16, size=(9, 4)), w_t)
    node = g.node("fc")
    out_t = op_def(node).infer(g, node)
    codes = run_codes(g, [rng.integers(x_t.min_int, x_t.max_int, size=(300, 9), endpoint=True)])[0]
    assert codes.min() >= out_t.min_int and codes.max() <= out_t.max_int
