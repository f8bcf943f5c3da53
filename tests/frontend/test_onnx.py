"""The ONNX frontend: each supported op and quantizer form against a reference executor, and its clear errors."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgecc
from edgecc.errors import ModelError, UnsupportedOp
from helpers import probe_inputs
from models import QonnxBuilder, float_mlp, qdq_mlp
from references import ort_reference, qonnx_reference
from suite import residual_mlp


def test_gemm_alpha_beta_on_quantized_constants_match_qonnx():
    rng = np.random.default_rng(0)
    b = QonnxBuilder(8)
    x = b.quant("x", 8, 4)
    w = b.quant(b.const(rng.normal(0, 0.5, size=(6, 8))), 6, 4, narrow=True)
    c = b.quant(b.const(rng.normal(0, 0.5, size=6)), 10, 6)
    b.nodes.append(helper.make_node("Gemm", [x, w, c], ["y"], name="gemm", transB=1, alpha=0.5, beta=2.0))
    model = b.model("y", 6)
    graph = edgecc.load(model)
    xs = probe_inputs(graph, 500)
    np.testing.assert_array_equal(graph.golden(xs), qonnx_reference(model, xs))


def test_float_gemm_alpha_folds_into_weights_before_quantization():
    model = float_mlp(sizes=(4, 3))
    for a in model.graph.node[0].attribute:
        pass
    model.graph.node[0].attribute.append(helper.make_attribute("alpha", 0.3))
    graph = edgecc.load(model)
    w = numpy_helper.to_array(model.graph.initializer[0]).astype(np.float64).T * np.float64(np.float32(0.3))
    dense = next(n for n in graph.nodes if n.op == "Dense")
    wt = graph.tensor(dense.inputs[1])
    np.testing.assert_array_equal(wt.type.to_float(wt.data), np.round(w * 2 ** 10) / 2 ** 10)


@pytest.mark.parametrize("opset", [11, 13, 17, 19, 21])
def test_opsets_11_to_21_load(opset):
    model = float_mlp(opset=opset)
    model.ir_version = 10 if opset >= 21 else 8
    graph = edgecc.load(model)
    assert [n.op for n in graph.compute_nodes()].count("Dense") == 2


@pytest.mark.parametrize("opset", [10, 22])
def test_opsets_outside_11_to_21_are_refused(opset):
    model = float_mlp(opset=opset)
    with pytest.raises(ModelError, match=f"opset {opset}"):
        edgecc.load(model)


def _set_batch(model, dim):
    model.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    if isinstance(dim, int):
        model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = dim
    else:
        model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = dim
    return model


def test_batch_dimension_one_or_symbolic_is_stripped():
    assert edgecc.load(_set_batch(float_mlp(), 1)).tensor("x").shape == (10,)
    assert edgecc.load(_set_batch(float_mlp(), "batch_size")).tensor("x").shape == (10,)
    with pytest.raises(ModelError, match="batch dimension 4"):
        edgecc.load(_set_batch(float_mlp(), 4))


def test_dynamic_non_batch_dimension_is_refused():
    model = float_mlp()
    model.graph.input[0].type.tensor_type.shape.dim[1].Clear()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "features"
    with pytest.raises(ModelError, match="dynamic dimension 'features'"):
        edgecc.load(model)


def test_reshape_flatten_and_residual_add_match_qonnx():
    model = residual_mlp()
    graph = edgecc.load(model)
    assert {n.op for n in graph.nodes} == {"Quantize", "Reshape", "Dense", "Add"}
    xs = probe_inputs(graph, 1000)
    np.testing.assert_array_equal(graph.golden(xs), qonnx_reference(model, xs))


def test_identity_and_dropout_are_removed():
    model = float_mlp()
    first = model.graph.node[0]
    first.input[0] = "x_id"
    model.graph.node.insert(0, helper.make_node("Dropout", ["x_drop"], ["x_id"], name="drop"))
    model.graph.node.insert(0, helper.make_node("Identity", ["x"], ["x_drop"], name="ident"))
    graph = edgecc.load(model)
    assert not any(n.op in ("Identity", "Dropout") for n in graph.nodes)
    xs = np.random.default_rng(0).normal(size=(50, 10))
    np.testing.assert_array_equal(graph.golden(xs), edgecc.load(float_mlp()).golden(xs))


def test_per_channel_weight_scales_match_qonnx():
    rng = np.random.default_rng(2)
    b = QonnxBuilder(8)
    x = b.quant("x", 8, 4)
    scales = (2.0 ** -np.array([3, 5, 4, 7, 6])).reshape(1, 5)
    w = b.quant(b.const(rng.normal(0, 0.4, size=(8, 5))), 6, 0, narrow=True, scale=scales)
    b.nodes.append(helper.make_node("MatMul", [x, w], ["y"], name="mm"))
    model = b.model("y", 5)
    graph = edgecc.load(model)
    xs = probe_inputs(graph, 500)
    np.testing.assert_array_equal(graph.golden(xs), qonnx_reference(model, xs))


def test_qdq_per_axis_weight_scales_match_onnxruntime():
    model = qdq_mlp(sizes=(6, 4))
    w_s = next(i for i in model.graph.initializer if i.name == "w0_s")
    w_s.CopyFrom(numpy_helper.from_array((2.0 ** -np.array([5, 6, 7, 6])).astype(np.float32), "w0_s"))
    w_zp = next(i for i in model.graph.initializer if i.name == "w0_zp")
    w_zp.CopyFrom(numpy_helper.from_array(np.zeros(4, dtype=np.int8), "w0_zp"))
    for n in model.graph.node:
        if n.name == "w0_DQ":
            n.attribute.append(helper.make_attribute("axis", 0))
    b_s = next(i for i in model.graph.initializer if i.name == "b0_s")
    b_s.CopyFrom(numpy_helper.from_array((2.0 ** -np.array([9, 10, 11, 10])).astype(np.float32), "b0_s"))
    b_zp = next(i for i in model.graph.initializer if i.name == "b0_zp")
    b_zp.CopyFrom(numpy_helper.from_array(np.zeros(4, dtype=np.int32), "b0_zp"))
    for n in model.graph.node:
        if n.name == "b0_DQ":
            n.attribute.append(helper.make_attribute("axis", 0))
    graph = edgecc.load(model)
    xs = probe_inputs(graph, 500)
    np.testing.assert_array_equal(graph.golden(xs), ort_reference(model, xs))


def test_non_power_of_two_scale_and_zero_point_quantize_the_input_as_qonnx_does():
    """Codes at frac 0 with the scale as the tensor's factor; the input quantized by qonnx's own float32 recipe
    (x / s + z in float32, then rounded), so the golden model's codes are qonnx's (its values are exact: code * s
    in float64, where qonnx rounds the product to float32)."""
    b = QonnxBuilder(4)
    x = b.quant("x", 8, 4, scale=0.1, zero_point=3.0)
    model = b.model(x, 4)
    graph = edgecc.load(model)
    q = graph.input_quantizers()[0]
    assert graph.tensor(q.output).type.frac == 0 and (q.attrs["lo"], q.attrs["hi"]) == (-131, 124)
    assert float(np.ravel(graph.tensor(q.output).scale)[0]) == float(np.float32(0.1))
    xs = probe_inputs(graph, 500)
    s = np.float32(0.1)
    np.testing.assert_array_equal(np.round(graph.golden(xs) / s), np.round(qonnx_reference(model, xs) / s))


def test_qonnx_weight_zero_point_is_an_offset_of_its_codes():
    """Asymmetric weights (zero point 3, power-of-two scale): the codes are q - 3 on the scale's grid, no factor,
    and the golden model is qonnx's answer exactly."""
    rng = np.random.default_rng(4)
    b = QonnxBuilder(6)
    x = b.quant("x", 8, 4)
    w = b.quant(b.const(rng.normal(0, 0.5, size=(6, 3))), 8, 5, zero_point=3.0)
    b.nodes.append(helper.make_node("MatMul", [x, w], ["mm"], name="fc"))
    model = b.model(b.quant("mm", 16, 8), 3)
    graph = edgecc.load(model)
    weights = graph.tensor(graph.node("fc").inputs[1])
    assert weights.type.frac == 5 and weights.scale is None
    xs = probe_inputs(graph, 500)
    np.testing.assert_array_equal(graph.golden(xs), qonnx_reference(model, xs))


def test_qdq_non_power_of_two_weight_scale_is_within_one_step_of_onnxruntime():
    model = qdq_mlp()
    s = next(i for i in model.graph.initializer if i.name == "w0_s")
    s.CopyFrom(numpy_helper.from_array(np.float32(0.013), "w0_s"))
    graph = edgecc.load(model)
    assert [n.op for n in graph.compute_nodes()] == ["Dense", "Requantize", "Dense", "Quantize"]
    xs = probe_inputs(graph, 500)
    step = graph.tensor(graph.outputs[0]).type.step
    assert np.max(np.abs(graph.golden(xs) - ort_reference(model, xs))) <= step


def test_unsupported_op_names_node_and_op_and_lists_supported_ops():
    model = float_mlp()
    model.graph.node.append(helper.make_node("Erf", [model.graph.output[0].name], ["sm"], name="head"))
    model.graph.output[0].name = "sm"
    with pytest.raises(UnsupportedOp) as e:
        edgecc.load(model)
    msg = str(e.value)
    assert "'head'" in msg and "Erf" in msg and "Gemm" in msg and "QuantizeLinear" in msg and "Conv" in msg


@pytest.mark.parametrize("change,match", [
    (lambda b: b.inits.__setitem__(1, numpy_helper.from_array(np.float32(0.5), "q1_z")), "zero point"),
    (lambda b: b.nodes[0].attribute.append(helper.make_attribute("rounding_mode", "STOCHASTIC")), "rounding_mode"),
])
def test_quant_forms_not_supported_are_clear_errors(change, match):
    b = QonnxBuilder(4)
    b.quant("x", 8, 4)
    for a in list(b.nodes[0].attribute):
        if a.name == "rounding_mode":
            b.nodes[0].attribute.remove(a)
    change(b)
    with pytest.raises(UnsupportedOp, match=match):
        edgecc.load(b.model("q1_out", 4))


def test_raw_quantize_linear_output_is_refused():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("q", TensorProto.UINT8, ["N", 3])
    g = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="quant")], "g", [x], [y],
                          [numpy_helper.from_array(np.float32(0.5), "s"), numpy_helper.from_array(np.uint8(0), "z")])
    with pytest.raises(UnsupportedOp, match="no DequantizeLinear"):
        edgecc.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))


def test_truncated_file_is_a_model_error(tmp_path):
    data = float_mlp().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cannot read"):
        edgecc.load(str(path))
