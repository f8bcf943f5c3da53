"""--calibrate and --accuracy-budget on a float classifier (an MLP trained on scikit-learn's digits): precisions from
the ranges the calibration inputs reach keep top-1 agreement with the float model (onnxruntime) on held-back
inputs; a budget search finds a cheaper design than uniform 16 bits at the same agreement on the calibration set."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgecc
from edgecc.calibrate import calibrate, top1_agreement
from models import qonnx_mlp
from test_cli import assert_clean_error, edgecc as cli

CAL = 500   # digits 0..499 calibrate; 1200.. are held back (the classifier trains on 0..1199)


@pytest.fixture(scope="module")
def digits():
    sklearn = pytest.importorskip("sklearn")  # a bench/test dependency (make setup installs it)
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    assert sklearn
    d = load_digits()
    x = d.data / 16.0
    clf = MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=300, random_state=0).fit(x[:1200], d.target[:1200])
    nodes, inits, h = [], [], "x"
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        inits += [numpy_helper.from_array(w.T.astype(np.float32), f"W{i}"),
                  numpy_helper.from_array(b.astype(np.float32), f"B{i}")]
        nodes.append(helper.make_node("Gemm", [h, f"W{i}", f"B{i}"], [f"g{i}"], name=f"fc{i}", transB=1))
        h = f"g{i}"
        if i < len(clf.coefs_) - 1:
            nodes.append(helper.make_node("Relu", [h], [f"r{i}"], name=f"relu{i}"))
            h = f"r{i}"
    graph = helper.make_graph(nodes, "digits_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
                              [helper.make_tensor_value_info(h, TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    import onnxruntime as ort

    reference = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x.astype(np.float32)})[0]
    return model, x, reference


def test_calibrated_model_agrees_with_float_on_held_back_inputs(digits, tmp_path):
    model, x, reference = digits
    onnx.save(model, str(tmp_path / "m.onnx"))
    np.save(tmp_path / "cal.npy", x[:CAL])
    code, out, err = cli("compile", tmp_path / "m.onnx", "-b", "c", "-o", tmp_path / "out", "--calibrate",
                         tmp_path / "cal.npy")
    assert code == 0, err
    assert "fc0: 16 bits" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    cal = report["calibration"]
    assert cal["samples"] == CAL and set(cal["layers"]) == {"fc0", "fc1", "fc2"}
    assert cal["input"] == "ufixed<16,1,ROUND,SAT>"   # pixels / 16 lie in [0, 1]
    graph = calibrate(model, x[:CAL])
    held = top1_agreement(graph.golden(x[1200:]), reference[1200:])
    print(f"\ncalibrated 16-bit: top-1 agreement with float on {len(x) - 1200} held-back digits {held:.2%}")
    assert held >= 0.99
    result = edgecc.Project(str(tmp_path / "out")).run_result(x[1200:1400])
    assert result.mismatches == 0


def test_accuracy_budget_finds_a_cheaper_design_at_the_same_agreement(digits):
    model, x, reference = digits
    graph = calibrate(model, x[:CAL], budget=0.0, backend="rtl")
    cal = graph.meta["calibration"]
    agreement = top1_agreement(graph.golden(x[:CAL]), reference[:CAL])
    print(f"\nuniform 16 bits: cost {cal['uniform_cost']:.3f}, agreement {cal['uniform_agreement']:.2%}; searched: "
          f"cost {cal['cost']:.3f}, agreement {cal['agreement']:.2%}, widths "
          f"{ {k: v['width'] for k, v in cal['layers'].items()} }")
    assert cal["cost"] < 0.5 * cal["uniform_cost"]
    assert cal["agreement"] >= cal["uniform_agreement"]
    assert agreement >= cal["uniform_agreement"] - 0.01        # against onnxruntime's float, not only the wide run
    assert all(v["width"] < 16 for v in cal["layers"].values())
    held = top1_agreement(graph.golden(x[1200:]), reference[1200:])
    assert held >= 0.95


def test_calibration_errors_are_one_line(tmp_path, digits):
    model, x, _ = digits
    onnx.save(model, str(tmp_path / "m.onnx"))
    np.save(tmp_path / "cal.npy", x[:20])
    code, _, err = cli("compile", tmp_path / "m.onnx", "-o", tmp_path / "o1", "--accuracy-budget", "0.01")
    assert_clean_error(code, err, 2, "--accuracy-budget needs --calibrate")
    code, _, err = cli("compile", tmp_path / "m.onnx", "-o", tmp_path / "o2", "--calibrate", tmp_path / "missing.npy")
    assert_clean_error(code, err, 2, "cannot read calibration data")
    onnx.save(qonnx_mlp(), str(tmp_path / "q.onnx"))
    np.save(tmp_path / "q.npy", np.zeros((4, 16)))
    code, _, err = cli("compile", tmp_path / "q.onnx", "-o", tmp_path / "o3", "--calibrate", tmp_path / "q.npy")
    assert_clean_error(code, err, 2, "for float models")
    code, _, err = cli("compile", tmp_path / "m.onnx", "-o", tmp_path / "o4", "--calibrate", tmp_path / "cal.npy",
                       "--precision", "fixed<8,3>")
    assert_clean_error(code, err, 2, "without --precision")
    assert not any((tmp_path / f"o{k}").exists() for k in range(1, 5))
