"""Types wider than float64's 53 bits and int64's 64, end to end: exact in the golden model, in HLS C simulation
(clamp bounds beyond 64 bits written as decimal codes), in RTL simulation (ports beyond 64 bits), or refused with a
clear error where a format cannot hold them (an HLS port beyond 64 bits, a float64 output that would round)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import edgecc
from conftest import require_simulator
from edgecc.errors import ModelError, UnsupportedOp
from edgecc.ir.golden import quantize_inputs, run_codes
from models import wide_accumulator_graph, wide_port_graph


def integer_inputs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(n, 16)).astype(np.float64)
    x[:2] = [[127] * 16, [-128] * 16]  # every product at its extreme: the clamp bites at both ends
    return x


def reference_wide_accumulator(graph, x: np.ndarray) -> list[list[int]]:
    """The graph's arithmetic from its definition, on exact rationals: sum, round up, clamp, floor."""
    import math

    w = graph.tensor("w")
    clamp = graph.node("clamp")
    c_t, y_t = graph.tensor("clamped").type, graph.tensor("y").type
    rows = []
    for row in x:
        out = []
        for j in range(w.shape[1]):
            acc = sum(Fraction(int(xi)) * Fraction(int(w.data[i, j]), 2 ** w.type.frac) for i, xi in enumerate(row))
            code = min(max(math.ceil(acc * 2 ** c_t.frac), clamp.attrs["lo"]), clamp.attrs["hi"])
            out.append(math.floor(Fraction(code, 2 ** c_t.frac) * Fraction(2) ** y_t.frac))
        rows.append(out)
    return rows


@pytest.fixture(scope="module")
def wide_graph():
    return wide_accumulator_graph()


def test_golden_model_is_exact_beyond_64_bits(wide_graph):
    x = integer_inputs(200)
    got = run_codes(wide_graph, quantize_inputs(wide_graph, [x]))[0]
    assert wide_graph.node("fc").attrs["accumulator_type"].width > 64
    assert [[int(v) for v in row] for row in got] == reference_wide_accumulator(wide_graph, x)
    hi = wide_graph.node("clamp").attrs["hi"]
    assert int(got.max()) == hi >> (wide_graph.tensor("clamped").type.frac - wide_graph.tensor("y").type.frac)


def test_hls_writes_wide_clamp_bounds_as_decimal_codes_and_stays_bit_exact(wide_graph, tmp_path, gxx):
    project = edgecc.compile(wide_graph, backend="hls", out=str(tmp_path / "hls"))
    top = open(tmp_path / "hls" / "firmware" / f"{project.report['top']}.cpp").read()
    assert "from_decimal<" in top and str(wide_graph.node("clamp").attrs["hi"]) in top
    result = project.run_result(integer_inputs(300))
    assert result.mismatches == 0
    np.testing.assert_array_equal(result.codes, result.golden_codes)


def test_rtl_is_bit_exact_beyond_64_bits(wide_graph, tmp_path):
    require_simulator("verilator")
    project = edgecc.compile(wide_graph, backend="rtl", out=str(tmp_path / "rtl"))
    result = project.run_result(integer_inputs(300))
    result.check()
    assert [[int(v) for v in r] for r in result.codes] == [[int(v) for v in r] for r in result.golden_codes]


@pytest.mark.parametrize("width", [60, 70])
def test_wide_ports_on_rtl_are_exact_and_floats_that_would_round_are_refused(width, tmp_path):
    require_simulator("verilator")
    graph = wide_port_graph(width)
    t = graph.tensor(graph.hw_inputs()[0]).type
    project = edgecc.compile(graph, backend="rtl", out=str(tmp_path / "rtl"))
    vectors = open(tmp_path / "rtl" / "tb_data" / "input_codes.txt").read().splitlines()
    assert vectors[0].split() == [str(t.min_int)] * 4 and vectors[1].split() == [str(t.max_int)] * 4
    rng = np.random.default_rng(1)
    inside = rng.uniform(-(2.0 ** (t.integer - 2)), 2.0 ** (t.integer - 2), size=(100, 2, 2))
    result = project.run_result(inside)
    result.check()
    np.testing.assert_array_equal(result.outputs, inside.reshape(100, 4))  # a float64's own bits: exact
    saturated = project.run_result(np.full((3, 2, 2), 1e300))
    saturated.check()
    assert {int(v) for v in np.ravel(saturated.codes)} == {t.max_int}
    with pytest.raises(ModelError, match="float64 cannot hold them exactly"):
        saturated.outputs


def test_hls_port_of_60_bits_is_exact_and_of_70_bits_refused(tmp_path, gxx):
    graph = wide_port_graph(60)
    project = edgecc.compile(graph, backend="hls", out=str(tmp_path / "h60"))
    x = np.random.default_rng(2).uniform(-(2.0 ** 27), 2.0 ** 27, size=(200, 2, 2))
    x[0] = 1e300
    result = project.run_result(x)
    result.check()
    assert int(result.codes[0, 0]) == graph.tensor(graph.outputs[0]).type.max_int
    with pytest.raises(UnsupportedOp, match="70 bits wide; at most 64"):
        edgecc.compile(wide_port_graph(70), backend="hls", out=str(tmp_path / "h70"))
    assert not (tmp_path / "h70").exists()
