"""infer_scales: scale factors through the graph; a quantizer between factors that differ by a power of two stays an
exact shift (retyped), any other becomes a Requantize whose integers resolve from the exact ratio; a bias of another
scale lands on the accumulator's grid; what cannot mix scales is refused clearly."""
from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import onnx
import pytest
from onnx import helper

import edgecc
from edgecc.errors import UnsupportedOp
from edgecc.ir.graph import Graph
from edgecc.ir.scales import quantized_multiplier
from helpers import probe_inputs
from models import QonnxBuilder, qonnx_scaled_mlp

from .lowering import lowered_until

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data")


def _shared_scale_mlp(second_scale: float, rounding: str = "ROUND") -> onnx.ModelProto:
    """x -> Quant(s) -> Dense (power-of-two weights) -> Quant(s) -> Quant(second_scale): the factors of the
    activations are s, s x 2^-6 (the accumulator) and then second_scale."""
    rng = np.random.default_rng(3)
    b = QonnxBuilder(6, name="shared")
    s = np.float32(0.0413)
    h = b.quant("x", 8, 0, scale=s, rounding=rounding)
    h = b.quant(b.dense(h, rng.normal(0, 0.5, size=(6, 4)), w_frac=6), 10, 0, scale=s, rounding=rounding)
    return b.model(b.quant(h, 8, 0, scale=np.float32(second_scale), rounding=rounding), 4)


def test_power_of_two_ratios_stay_exact_shifts_with_the_models_rounding():
    s = float(np.float32(0.0413))
    graph = edgecc.load(_shared_scale_mlp(2 * s, rounding="FLOOR"))
    ops = [n.op for n in graph.compute_nodes()]
    assert ops == ["Dense", "Quantize", "Quantize"]      # no Requantize: every ratio is a power of two
    acc_q, half = (n for n in graph.compute_nodes() if n.op == "Quantize")
    assert graph.tensor(acc_q.output).type.frac == 0 and graph.tensor(half.output).type.frac == -1
    assert [Fraction(v) for v in np.ravel(graph.tensor(half.output).scale)] == [Fraction(s)]
    # the exact answer: floor(x / 2), the codes' value (x * s) halved
    x = probe_inputs(graph, 300, seed=1)
    from edgecc.ir.golden import quantize_inputs, run_codes

    env = run_codes(graph, quantize_inputs(graph, [x]))[0]
    assert set(np.unique(graph.golden(x) / s)).issubset(set(range(-256, 256, 2)))
    assert env.min() >= -128 and env.max() <= 127


def test_other_ratios_become_a_requantize_with_tflites_integers():
    graph, config, run = lowered_until(onnx.load(os.path.join(DATA, "ort_qdq_mlp.onnx")), "infer_scales")
    assert run(graph, config) is True
    req = [n for n in graph.nodes if n.op == "Requantize"]
    assert len(req) == 3 and all(len(n.attrs["ratio"]) == graph.tensor(n.inputs[0]).shape[-1] for n in req)
    lowered = edgecc.load(onnx.load(os.path.join(DATA, "ort_qdq_mlp.onnx")))
    for node in (n for n in lowered.nodes if n.op == "Requantize"):
        in_t, out_t = lowered.tensor(node.inputs[0]), lowered.tensor(node.output)
        ratios = [Fraction(f) / Fraction(np.ravel(out_t.scale)[0]) for f in np.ravel(in_t.scale)]
        step = Fraction(2) ** (out_t.type.frac - in_t.type.frac)
        assert list(zip(node.attrs["multiplier"], node.attrs["exponent"])) == \
            [quantized_multiplier(r * step) for r in ratios]


def test_a_bias_at_the_float32_product_of_the_scales_keeps_its_codes():
    """onnxruntime writes the int32 bias at scale float32(s_x * s_w): within 2^-24 of the accumulator's exact
    s_x * s_w, so every code rounds to itself."""
    model = onnx.load(os.path.join(DATA, "ort_qdq_cnn.onnx"))
    ints = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    graph = edgecc.load(model)
    for layer, original in (("conv1", "b1_quantized"), ("conv2", "b2_quantized"), ("fc", "b3_quantized")):
        node = graph.node(layer)
        bias = graph.tensor(node.inputs[2])
        assert bias.type.frac == graph.tensor(node.inputs[0]).type.frac + graph.tensor(node.inputs[1]).type.frac
        np.testing.assert_array_equal(np.asarray(bias.data), ints[original])


def test_a_floor_quantizer_between_scales_of_no_power_of_two_ratio_is_refused():
    with pytest.raises(UnsupportedOp, match="FLOOR quantizer between scales"):
        edgecc.load(_shared_scale_mlp(0.05, rounding="FLOOR"))


def test_an_add_of_tensors_of_different_scales_is_refused():
    b = QonnxBuilder(4)
    a = b.quant("x", 8, 0, scale=np.float32(0.03))
    c = b.quant("x", 8, 0, scale=np.float32(0.05))
    b.nodes.append(helper.make_node("Add", [a, c], ["s"], name="join"))
    with pytest.raises(UnsupportedOp, match="different scales"):
        edgecc.load(b.model(b.quant("s", 10, 0, scale=np.float32(0.05)), 4))


def test_scales_and_requantize_survive_the_ir_json():
    graph = edgecc.load(qonnx_scaled_mlp())
    again = Graph.from_json(graph.to_json())
    x = probe_inputs(graph, 200, seed=2)
    np.testing.assert_array_equal(again.golden(x), graph.golden(x))
    node = next(n for n in again.nodes if n.op == "Requantize")
    assert isinstance(node.attrs["multiplier"][0], int)


def test_clip_bounds_of_a_scaled_tensor_are_codes_of_its_real_step():
    """Clip(0, 1.3) of codes whose step is 0.0413: [0, floor(1.3 / 0.0413)] = [0, 31], compared exactly."""
    b = QonnxBuilder(4)
    x = b.quant("x", 8, 0, scale=np.float32(0.0413))
    lo, hi = b.const(np.float32(0.0)), b.const(np.float32(1.3))
    b.nodes.append(helper.make_node("Clip", [x, lo, hi], ["c"], name="clip"))
    graph = edgecc.load(b.model("c", 4))
    clip = graph.node("clip")
    assert (clip.attrs["lo"], clip.attrs["hi"]) == (0, int(Fraction(float(np.float32(1.3)))
                                                          / Fraction(float(np.float32(0.0413)))))
    x = np.linspace(-2, 2, 400, dtype=np.float32).reshape(-1, 4)
    got = graph.golden(x)
    assert got.min() == 0 and np.isclose(got.max(), 31 * float(np.float32(0.0413)))
