"""The bundled digits CNN (examples/digits_cnn.py): the committed ONNX is what the script writes, its golden model
equals qonnx on the whole test split and on probe inputs, and its C build matches the golden model."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import edgecc
from conftest import require_tool
from helpers import compile_run_compare, probe_inputs
from references import qonnx_reference

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")
DIGITS_ONNX = os.path.join(EXAMPLES, "digits_cnn.onnx")
OPS = ["Quant", "Quant", "Quant", "Conv", "Relu", "Quant", "MaxPool", "Quant", "Quant", "Conv", "Relu", "Quant",
       "Flatten", "Quant", "MatMul", "Quant", "Add", "Quant"]


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("digits_cnn", os.path.join(EXAMPLES, "digits_cnn.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(digits):
    return digits.load_data()


def test_digits_cnn_onnx_has_the_documented_graph():
    model = onnx.load(DIGITS_ONNX)
    onnx.checker.check_model(model)
    assert (model.ir_version, model.opset_import[0].version) == (8, 13)
    assert [n.op_type for n in model.graph.node] == OPS
    dims = [d.dim_value or d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 1, 8, 8]
    assert os.path.getsize(DIGITS_ONNX) < 32 * 1024


def test_digits_cnn_onnx_is_what_the_script_writes(digits, data):
    """Retrain (about 2 s) and rebuild: the same graph, quantizers and scales; the weights the same codes. Training
    is seeded and single-threaded, so on one machine the file is byte-identical; another CPU's BLAS kernels may sum
    in another order, so weight codes may differ by one step in a few places, but no more."""
    committed = onnx.load(DIGITS_ONNX)
    params = digits.train(data[0], data[1])
    rebuilt = digits.build(params, data[0])
    def nodes(m):
        return [(n.op_type, n.name, list(n.input), list(n.output), [str(a) for a in n.attribute])
                for n in m.graph.node]

    assert nodes(rebuilt) == nodes(committed)
    old = {i.name: numpy_helper.to_array(i) for i in committed.graph.initializer}
    new = {i.name: numpy_helper.to_array(i) for i in rebuilt.graph.initializer}
    assert sorted(old) == sorted(new)
    # parameters (what a Quant reads as its input) compared as codes on their grid; scales, zero points, bits exactly
    steps = {n.input[0]: float(old[n.input[1]]) for n in committed.graph.node
             if n.op_type == "Quant" and n.input[0] in old}
    for name in sorted(old):
        if name not in steps:
            np.testing.assert_array_equal(old[name], new[name], err_msg=name)
            continue
        codes_old, codes_new = np.round(old[name] / steps[name]), np.round(new[name] / steps[name])
        assert np.abs(codes_old - codes_new).max() <= 1, f"{name}: the committed ONNX is stale; rerun the script"
        assert np.mean(codes_old != codes_new) <= 0.02, f"{name}: the committed ONNX is stale; rerun the script"


def test_digits_cnn_golden_equals_qonnx_on_the_test_split(data, digits):
    _, _, x_test, y_test = data
    model = onnx.load(DIGITS_ONNX)
    graph = edgecc.load(DIGITS_ONNX)
    golden = graph.golden(x_test)
    np.testing.assert_array_equal(golden, qonnx_reference(model, x_test))
    assert digits.accuracy(golden, y_test) > 0.95
    x = probe_inputs(graph, 200, seed=3)       # ties, off-grid and saturating pixels too
    np.testing.assert_array_equal(graph.golden(x), qonnx_reference(model, x))


def test_digits_cnn_c_on_the_host_matches_golden(data, tmp_path):
    require_tool("gcc")
    compile_run_compare(DIGITS_ONNX, data[2][:100], tmp_path, backend="c")
