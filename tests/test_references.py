"""The golden model against the independent reference executors (qonnx for QONNX, onnxruntime for QDQ, a proven
error bound for float models), bit for bit, on 1000+ inputs with exact rounding ties, saturating values and
negatives. That every backend then matches the golden model is tests/test_parity.py's job."""
from __future__ import annotations

import os

import numpy as np
import pytest

import edgecc
from helpers import compile_run_compare, probe_inputs
from models import float_mlp
from references import ort_reference, qonnx_reference
from suite import models

N = 1200
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "jet_tagging_mlp.onnx")

SUITE = models()


@pytest.mark.parametrize("case", sorted(k for k, v in SUITE.items() if v[1] == "qonnx"))
def test_qonnx_golden_matches_qonnx(case):
    model = SUITE[case][0]
    graph = edgecc.load(model)
    x = probe_inputs(graph, N, seed=1)
    np.testing.assert_array_equal(graph.golden(x), qonnx_reference(model, x))


def test_example_jet_tagging_model(tmp_path, gxx):
    import onnx

    graph = edgecc.load(EXAMPLE)
    x = probe_inputs(graph, N, seed=7)
    np.testing.assert_array_equal(graph.golden(x), qonnx_reference(onnx.load(EXAMPLE), x))
    compile_run_compare(graph, x, tmp_path, board="zcu104")


@pytest.mark.parametrize("case", sorted(k for k, v in SUITE.items() if v[1] == "ort"))
def test_qdq_golden_matches_onnxruntime(case):
    model = SUITE[case][0]
    graph = edgecc.load(model)
    x = probe_inputs(graph, N, seed=2)
    golden = graph.golden(x)
    np.testing.assert_array_equal(golden, ort_reference(model, x))
    np.testing.assert_array_equal(golden, ort_reference(model, x, optimize=True))


def quantization_bound(model, x, default_type) -> tuple[np.ndarray, np.ndarray]:
    """Worst-case |golden - float| per output for a float MLP whose tensors are all rounded to `default_type`:
    half a step at every rounding, propagated through |W| (Relu is 1-Lipschitz). Also which rows stay inside
    the type's range at every layer (saturation is outside any rounding bound)."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    half = default_type.step / 2
    err = np.full(x.shape, half)
    h = x.astype(np.float64)
    limit = default_type.max_int * default_type.step
    inside = np.all(np.abs(h) + err < limit, axis=1)
    nodes = [n for n in model.graph.node if n.op_type in ("Gemm", "MatMul")]
    for k, node in enumerate(nodes):
        w = inits[node.input[1]]
        w = w.T if node.op_type == "Gemm" else w
        err = (np.abs(h) + err) @ np.full(w.shape, half) + err @ np.abs(w) + half + half
        h = h @ w + inits[f"B{k}"]  # float_mlp names its biases B0, B1, ...
        inside &= np.all(np.abs(h) + err < limit, axis=1)
        if k < len(nodes) - 1:
            h = np.maximum(h, 0)
    return err, inside


@pytest.mark.parametrize("use_gemm", [True, False])
def test_float_mlp_golden_is_within_the_quantization_bound(use_gemm):
    from edgecc.config import DEFAULT_PRECISION

    model = float_mlp(seed=4, use_gemm=use_gemm)
    graph = edgecc.load(model)
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 1, size=(N, 10)), probe_inputs(graph, 200, seed=3)])
    simulated = graph.golden(x)
    reference = ort_reference(model, x)
    bound, inside = quantization_bound(model, x, DEFAULT_PRECISION)
    assert inside.sum() > N // 2
    assert np.all((np.abs(simulated - reference) <= bound + 1e-6)[inside])
    assert np.max(np.abs(simulated - reference)) > 0  # the model really is quantized


def test_precision_option_changes_every_unquantized_type(tmp_path, gxx):
    model = float_mlp(seed=9)
    graph = edgecc.load(model, precision="fixed<10,4>")
    for name in graph.hw_inputs() + graph.outputs:
        assert str(graph.tensor(name).type).startswith("fixed<10,4")
    compile_run_compare(graph, probe_inputs(graph, 400), tmp_path)


@pytest.mark.parametrize("overflow", ["WRAP", "SAT_SYM"])
def test_precision_overflow_mode_csim_matches_golden(overflow, tmp_path, gxx):
    graph = edgecc.load(float_mlp(seed=6), precision=f"fixed<8,3,FLOOR,{overflow}>")
    assert graph.tensor(graph.hw_inputs()[0]).type.overflow == overflow
    x = np.random.default_rng(10).uniform(-20, 20, size=(600, 10))  # up to 5 times beyond the input range
    compile_run_compare(graph, x, tmp_path)


@pytest.mark.parametrize("case", sorted(k for k, v in SUITE.items() if v[1] == "qonnx_step"))
def test_golden_is_within_one_step_of_qonnx_where_the_graph_leaves_the_arithmetic_open(case):
    """Softmax is the IR's integer algorithm (exp table, sum, reciprocal table), an unquantized average over three
    taps is rounded onto a grid: every output within one output step of qonnx's float, nearly all of them equal
    (the same table model without its softmax is exact: cnn_table_activations_no_softmax)."""
    model = SUITE[case][0]
    graph = edgecc.load(model)
    x = probe_inputs(graph, N, seed=3)
    diff = np.abs(graph.golden(x).astype(np.int64) - qonnx_reference(model, x).astype(np.int64))
    assert diff.max() <= 1
    assert np.mean(diff == 0) > 0.95


def _output_codes(graph, values: np.ndarray) -> np.ndarray:
    """Output values as codes of the output's real step (2**-frac times its scale: one for the tensor here)."""
    out = graph.tensor(graph.outputs[0])
    step = out.type.step * (float(np.ravel(out.scale)[0]) if out.scale is not None else 1.0)
    return np.round(np.asarray(values, dtype=np.float64) / step).astype(np.int64)


@pytest.mark.parametrize("case", sorted(k for k, v in SUITE.items() if v[1] in ("ort_scaled", "qonnx_scaled")))
def test_golden_is_within_one_step_of_the_float_reference_where_scales_are_not_powers_of_two(case):
    """TFLite's integer requantization (a 31-bit multiplier, two roundings) against the reference executor's float32
    (onnxruntime as it runs the QDQ graph, and with its QLinear fusions; qonnx's execute_onnx): every output within
    one step, on probe inputs (ties, saturation) and on normally distributed ones. The fraction of outputs that
    differ is printed (pytest -s): mostly near-ties, where TFLite's first rounding (of the product to the integer
    the right shift then rounds again) or the float32 sums decide differently, and their effect downstream."""
    model, kind = SUITE[case]
    graph = edgecc.load(model)
    shape = tuple(graph.tensor(graph.inputs[0]).shape)
    x = np.concatenate([probe_inputs(graph, N, seed=5),
                        np.random.default_rng(6).normal(0, 1.5, size=(N,) + shape).astype(np.float32)])
    golden = _output_codes(graph, graph.golden(x))
    references = {"onnxruntime": lambda: ort_reference(model, x),
                  "onnxruntime (optimized)": lambda: ort_reference(model, x, optimize=True)} \
        if kind == "ort_scaled" else {"qonnx": lambda: qonnx_reference(model, x)}
    for name, run in references.items():
        diff = np.abs(golden - _output_codes(graph, run()))
        print(f"{case} vs {name}: {np.mean(diff > 0):.2%} of {diff.size} outputs differ (max {diff.max()} step), "
              f"{np.mean(np.any(diff > 0, axis=1)):.1%} of {len(x)} vectors; probe inputs {np.mean(diff[:N] > 0):.2%}, "
              f"normal inputs {np.mean(diff[N:] > 0):.2%}")
        assert diff.max() <= 1
        assert np.mean(diff > 0) < 0.05


@pytest.mark.parametrize("softmax", [False, True])
def test_resnet8_golden_matches_qonnx(softmax):
    """The MLPerf Tiny ResNet-8 topology on ten images: exact without the softmax, within one step with it."""
    from models_cnn import resnet8

    model = resnet8(softmax=softmax)
    graph = edgecc.load(model)
    x = probe_inputs(graph, 10, seed=4)
    diff = np.abs(graph.golden(x).astype(np.int64) - qonnx_reference(model, x).astype(np.int64))
    assert diff.max() <= (1 if softmax else 0)
