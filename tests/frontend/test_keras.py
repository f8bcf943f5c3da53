"""The Keras / QKeras frontend: the zoo bit for bit against QKeras's own `model.predict` (off-grid inputs and exact
rounding ties included), each layer form and quantizer path, the file formats and the command line, and the clear
one-line refusals. That every backend matches the golden model is tests/test_parity.py's job (keras_* cases)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from suite import keras_available

if not keras_available():
    if os.environ.get("EDGECC_REQUIRE_TOOLS") == "1":
        pytest.fail("tensorflow, tf-keras and qkeras are not installed (EDGECC_REQUIRE_TOOLS=1)",
                    pytrace=False)
    pytest.skip("tensorflow, tf-keras and qkeras are not installed (pip install 'edgecc[keras]')",
                allow_module_level=True)

import edgecc  # noqa: E402
from edgecc.errors import UnsupportedOp  # noqa: E402
from helpers import probe_inputs  # noqa: E402
from models_keras import ZOO, keras_modules, predict, unit_variance  # noqa: E402

N = 2000
# tf_keras and QKeras warn about their own internals while the models here are built and saved
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
REPO = os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture(scope="module")
def tk():
    return keras_modules()


def half_steps(graph) -> np.ndarray:
    """Every rounding tie of the input quantizer ((code + 1/2) * step for each code of its range), and the codes
    themselves, laid out over the input shape."""
    q = graph.input_quantizers()[0]
    t = graph.tensor(q.output).type
    lo, hi = int(q.attrs["lo"]), int(q.attrs["hi"])
    values = np.concatenate([np.arange(lo - 1, hi + 1) + 0.5, np.arange(lo, hi + 1)]).astype(np.float64)
    size = int(np.prod(graph.tensor(graph.inputs[0]).shape))
    rows = -(-len(values) // size)
    x = np.resize(np.random.default_rng(0).permutation(values), rows * size)
    return np.ldexp(x, -t.frac).reshape((rows,) + graph.tensor(graph.inputs[0]).shape)


def exact_against_predict(model, graph, x) -> None:
    golden, reference = graph.golden(x), predict(model, x)
    differ = np.any((golden != reference).reshape(len(x), -1), axis=1)
    assert not differ.any(), f"{int(differ.sum())} of {len(x)} vectors differ from QKeras"


@pytest.mark.parametrize("name", sorted(ZOO))
def test_golden_is_bit_exact_against_qkeras_predict(name):
    model = ZOO[name]()
    graph = edgecc.load(model)
    x = probe_inputs(graph, N, seed=1)        # a quarter exact ties, on-grid, off-grid and saturating values
    ties = half_steps(graph)
    assert np.any(np.ldexp(ties, graph.tensor(graph.input_quantizers()[0].output).type.frac) % 1 == 0.5)
    exact_against_predict(model, graph, np.concatenate([x, ties]))


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_accumulators_fit_float32(name):
    """Why predict is the exact reference here: every sum QKeras forms in float32 needs at most 24 bits."""
    graph = edgecc.load(ZOO[name]())
    widths = {n.name: n.attrs["accumulator_type"].width for n in graph.nodes if "accumulator_type" in n.attrs}
    assert widths and max(widths.values()) <= 24, widths


def _quantizer_kinds(model) -> set[str]:
    kinds = set()
    for layer in model.layers:
        for attr in ("quantizer", "activation", "kernel_quantizer_internal", "depthwise_quantizer_internal",
                     "bias_quantizer_internal", "gamma_quantizer_internal"):
            q = getattr(layer, attr, None)
            name = type(q).__name__
            if not name.startswith("quantized_"):
                continue
            if name == "quantized_bits":
                name += {None: "", 1: "_alpha1", "auto_po2": "_auto_po2"}.get(q.alpha, "?")
                name += "_unsigned" if not q.keep_negative else ""
                name += "_symmetric" if q.symmetric and not isinstance(q.alpha, str) else ""
            if name == "quantized_relu" and q.negative_slope:
                name += "_slope"
            kinds.add(name)
    return kinds


def test_the_zoo_uses_every_quantizer_kind_and_both_table_paths():
    kinds = set().union(*(_quantizer_kinds(make()) for make in ZOO.values()))
    assert {"quantized_bits", "quantized_bits_alpha1", "quantized_bits_auto_po2", "quantized_bits_unsigned",
            "quantized_bits_symmetric", "quantized_relu", "quantized_relu_slope", "quantized_po2",
            "quantized_relu_po2", "quantized_tanh", "quantized_sigmoid"} <= kinds, kinds
    ops = {name: {n.name: n.op for n in edgecc.load(make()).nodes} for name, make in ZOO.items()}
    assert ops["mlp"]["tanh_table"] == "Table" and ops["cnn2d"]["sigmoid_table"] == "Table"
    assert ops["cnn1d"]["relu_po2"] == "Table"
    # on an accumulator (no quantized input): QKeras's hard sigmoid and tanh as exact arithmetic, no table
    assert ops["mlp"]["sigmoid_linear"] == "Quantize" and ops["mlp"]["sigmoid_linear_slope"] == "Mul"
    assert ops["cnn1d"]["tanh_linear"] == "Quantize"


def test_batch_normalization_folds_where_exact():
    cnn1d, cnn2d, dw = (edgecc.load(ZOO[k]()) for k in ("cnn1d", "cnn2d", "depthwise"))
    # float kernel: folded into it (the Conv gets the bias); power-of-two scales: folded into the quantized kernel
    assert not [n for n in cnn2d.nodes if n.op == "Mul"] and len(cnn2d.node("conv1").inputs) == 3
    assert not [n for n in dw.nodes if n.op == "Mul"] and len(dw.node("pw").inputs) == 3
    # scales 3/4 and 5/4 on a quantized kernel would widen every weight: a per-channel Mul and Add instead
    assert [n.op for n in cnn1d.nodes if n.name.startswith("bn1")] == ["Mul", "Add"]


def test_batch_normalization_with_arbitrary_parameters_is_within_one_step(tk):
    """Float32 parameters that are not dyadic: the golden model computes x * s + t exactly with TensorFlow's own
    float32 s and t, QKeras rounds in float32 before its quantizer: at most one output step apart, and rarely."""
    tf, keras, qk = tk
    rng = np.random.default_rng(7)
    x = keras.Input((12, 3), name="x")
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_in")(x)
    h = qk.QConv1D(4, 3, kernel_quantizer=qk.quantized_bits(6, 0, alpha=1),
                   bias_quantizer=qk.quantized_bits(8, 3), name="conv")(h)
    bn = keras.layers.BatchNormalization(name="bn")
    y = qk.QActivation(qk.quantized_bits(8, 3), name="q")(bn(h))
    model = keras.Model(x, y)
    model.get_layer("conv").set_weights([rng.normal(0, 0.5, size=w.shape).astype(np.float32)
                                         for w in model.get_layer("conv").get_weights()])
    bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.3, 4), rng.normal(0, 0.3, 4),
                    rng.uniform(0.5, 2.0, 4)])
    graph = edgecc.load(model)
    xs = probe_inputs(graph, N, seed=2)
    steps = np.abs(graph.golden(xs) - predict(model, xs)) * 2 ** 4
    assert steps.max() <= 1
    assert np.mean(steps == 0) > 0.99


def test_sequential_and_nested_models_and_remaining_layers(tk):
    """A Sequential model nested in a functional one; SeparableConv2D, ZeroPadding2D, strided SAME pooling,
    grouped Conv2D, LeakyReLU, Reshape and ReLU(max_value) — float layers on dyadic values, so predict is exact."""
    tf, keras, qk = tk
    block = keras.Sequential([
        keras.layers.ZeroPadding2D(((1, 0), (0, 1)), input_shape=(6, 6, 4), name="pad"),
        keras.layers.SeparableConv2D(4, (3, 3), depth_multiplier=2, name="sep"),
        keras.layers.LeakyReLU(0.25, name="leaky"),
        qk.QActivation(qk.quantized_bits(8, 3), name="q_sep"),
    ], name="block")
    x = keras.Input((6, 6, 4), name="x")
    h = qk.QActivation(qk.quantized_bits(6, 2), name="q_in")(x)
    h = block(h)
    h = keras.layers.Conv2D(4, (2, 2), groups=2, padding="same", name="grouped")(h)
    h = keras.layers.ReLU(max_value=3.0, name="relu6ish")(h)
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_g")(h)
    h = keras.layers.AveragePooling2D(2, strides=2, padding="same", name="avg")(h)
    h = keras.layers.Reshape((-1,), name="reshape")(h)
    y = qk.QDense(3, kernel_quantizer=qk.quantized_bits(6, 0, alpha=1), name="fc")(h)
    model = keras.Model(x, y)
    rng = np.random.default_rng(11)
    for layer in [*block.layers, *model.layers]:
        if layer.get_weights() and not isinstance(layer, keras.Model):
            layer.set_weights([rng.integers(-8, 9, size=w.shape).astype(np.float32) / 16
                               for w in layer.get_weights()])
    graph = edgecc.load(model)
    assert {"Pad", "Conv", "LeakyRelu", "Clip", "AvgPool", "Reshape", "Dense"} <= {n.op for n in graph.nodes}
    exact_against_predict(model, graph, probe_inputs(graph, 1000, seed=3))


def test_one_dimensional_layers(tk):
    """ZeroPadding1D, DepthwiseConv1D, AveragePooling1D SAME (windows of 2 and 1), Conv1D SAME with dilation,
    GlobalMaxPooling1D and a float Dense: dyadic float weights, so predict is exact."""
    tf, keras, qk = tk
    x = keras.Input((10, 3), name="x")
    h = qk.QActivation(qk.quantized_bits(6, 2), name="q_in")(x)
    h = keras.layers.ZeroPadding1D((2, 1), name="pad")(h)
    h = keras.layers.DepthwiseConv1D(3, depth_multiplier=2, name="dw")(h)
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_dw")(h)
    h = keras.layers.AveragePooling1D(2, padding="same", name="avg")(h)
    h = keras.layers.Conv1D(4, 2, dilation_rate=2, padding="same", name="conv")(h)
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_conv")(h)
    h = keras.layers.GlobalMaxPooling1D(name="gmp")(h)
    model = keras.Model(x, keras.layers.Dense(2, name="fc")(h))
    rng = np.random.default_rng(12)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.integers(-8, 9, size=w.shape).astype(np.float32) / 16
                               for w in layer.get_weights()])
    graph = edgecc.load(model)
    assert graph.node("dw").attrs["groups"] == 3 and graph.node("conv").attrs["pads"] == (1, 1)
    exact_against_predict(model, graph, probe_inputs(graph, 1000, seed=5))


def test_float_keras_model_takes_the_default_precision(tk):
    """No quantizer anywhere: like a float ONNX model, every layer's result is rounded to the default type."""
    tf, keras, qk = tk
    model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(6,), name="d1"),
                              keras.layers.Dense(3, name="d2"), keras.layers.Softmax(name="sm")])
    graph = edgecc.load(model)
    assert not graph.meta["quantized"]
    ops = [n.op for n in graph.compute_nodes()]
    assert ops[:4] == ["Dense", "Quantize", "Dense", "Quantize"] and ops[-1] == "Softmax"
    assert graph.node("d1").attrs["activation"] == "relu"
    x = np.random.default_rng(0).uniform(-2, 2, size=(200, 6))
    assert np.abs(graph.golden(x) - predict(model, x)).max() < 0.05


def test_h5_through_the_command_line(tk, tmp_path):
    """compile an .h5 with the CLI, run its C simulation against the golden model, and its outputs are QKeras's."""
    from edgecc.cli import main

    model = ZOO["mlp"]()
    path = tmp_path / "mlp.h5"
    model.save(path)
    out = tmp_path / "out"
    assert main(["compile", str(path), "-b", "c", "-o", str(out)]) == 0
    graph = edgecc.load(str(path))
    x = np.concatenate([probe_inputs(graph, 300, seed=5), half_steps(graph)])
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), predict(model, x))


def test_keras_and_saved_model_formats_read_the_same_model(tk, tmp_path):
    tf, keras, qk = tk
    x = keras.Input((8,), name="x")
    h = qk.QActivation("quantized_bits(8,3,alpha=1)", name="q_in")(x)
    h = qk.QDense(4, kernel_quantizer="quantized_bits(6,0,alpha='auto_po2')", bias_quantizer="quantized_bits(8,3)",
                  name="fc")(h)
    model = keras.Model(x, qk.QActivation("quantized_relu(6,2)", name="relu")(h))
    model.get_layer("fc").set_weights([np.random.default_rng(1).normal(0, 0.5, size=w.shape).astype(np.float32)
                                       for w in model.get_layer("fc").get_weights()])
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "saved")                      # a SavedModel folder
    reference = edgecc.load(model)
    xs = probe_inputs(reference, 500, seed=4)
    for source in (tmp_path / "m.keras", tmp_path / "saved"):
        graph = edgecc.load(str(source))
        np.testing.assert_array_equal(graph.golden(xs), predict(model, xs))


# ---- refusals: one clear line naming the layer -------------------------------------------------------------------
def _dense_model(tk, kernel_quantizer=None, activation=None, name="fc"):
    tf, keras, qk = tk
    x = keras.Input((6,), name="x")
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_in")(x)
    h = qk.QDense(4, kernel_quantizer=kernel_quantizer, name=name)(h)
    if activation is not None:
        h = qk.QActivation(activation, name="act")(h)
    model = keras.Model(x, h)
    model.get_layer(name).set_weights([np.random.default_rng(2).normal(0, 0.7, size=w.shape).astype(np.float32)
                                       for w in model.get_layer(name).get_weights()])
    return model


def test_alpha_auto_is_refused_naming_the_layer(tk):
    tf, keras, qk = tk
    with pytest.raises(UnsupportedOp, match=r"node 'fc_auto': kernel quantizer .*not powers of two"):
        edgecc.load(_dense_model(tk, qk.quantized_bits(6, 0, alpha="auto"), name="fc_auto"))


@pytest.mark.parametrize("activation, fragment", [
    ("quantized_tanh(6, use_real_tanh=True)", "uses the real sigmoid/tanh"),
    ("quantized_relu(6, 2, use_sigmoid=1)", "use_sigmoid"),
    ("quantized_bits(6, 2, alpha='auto_po2')", "scales by each batch"),
    ("quantized_relu_po2(4)", "power-of-two quantizer"),
    ("binary()", "binary is not supported"),
    ("quantized_bits(6, 2, use_stochastic_rounding=True)", "stochastic rounding"),
])
def test_inexact_activation_quantizers_are_refused_naming_the_layer(tk, activation, fragment):
    with pytest.raises(UnsupportedOp, match="node 'act'") as e:
        edgecc.load(_dense_model(tk, activation=activation))
    assert fragment in str(e.value)


def test_an_unsupported_layer_is_refused_on_one_line_with_exit_2(tk, tmp_path):
    tf, keras, qk = tk
    x = keras.Input((4, 2), name="x")
    model = keras.Model(x, keras.layers.LSTM(3, name="lstm")(x))
    with pytest.raises(UnsupportedOp, match="node 'lstm': Keras layer LSTM is not supported"):
        edgecc.load(model)
    path = tmp_path / "lstm.h5"
    model.save(path)
    proc = subprocess.run([sys.executable, "-m", "edgecc", "compile", str(path), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.path.abspath(REPO)})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "node 'lstm': Keras layer LSTM is not supported" in lines[0]
    assert not (tmp_path / "out").exists()


def test_unbuilt_sequential_model_is_refused(tk):
    tf, keras, qk = tk
    with pytest.raises(UnsupportedOp, match="no layer graph"):
        edgecc.load(keras.Sequential([keras.layers.Dense(2)]))


def test_unit_variance_makes_rsqrt_exact():
    v = unit_variance(1e-3, 2)
    assert np.all(np.float32(v + np.float32(1e-3)) == np.float32(1.0))


def test_tensorflow_is_imported_only_for_keras_input():
    code = ("import sys, edgecc; g = edgecc.load(sys.argv[1]); from edgecc.cli import main; main(['ops']); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'")
    example = os.path.join(REPO, "examples", "jet_tagging_mlp.onnx")
    proc = subprocess.run([sys.executable, "-c", code, example], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.path.abspath(REPO)})
    assert proc.returncode == 0, proc.stderr
