"""assign_default_precision: float inputs and float constants get a type. Overflow modes stay as written
(--precision and the config's `input:` keep SAT, SAT_SYM and WRAP on every quantizer they create, and the golden
model saturates or wraps accordingly, against independent numpy references); a float constant inside a quantized
model gets the exact type of its values (tests/frontend/test_float_constants.py checks that against qonnx)."""
from __future__ import annotations

import numpy as np
import pytest

import edgecc
from edgecc.errors import ModelError
from edgecc.ir.golden import quantize_inputs
from edgecc.ir.quantizers import QuantSpec
from edgecc.ir.types import FixedType
from models import float_mlp

MODES = ("SAT", "SAT_SYM", "WRAP")


def fixed_8_3(codes: np.ndarray, overflow: str) -> np.ndarray:
    """int64 codes brought into 8 bits as `overflow` says: clamp, clamp symmetrically, or two's complement wrap."""
    if overflow == "WRAP":
        return ((codes + 128) % 256) - 128
    return np.clip(codes, -127 if overflow == "SAT_SYM" else -128, 127)


def float_mlp_reference(model, x: np.ndarray, overflow: str) -> np.ndarray:
    """The float MLP with every input, constant and layer result in fixed<8,3,FLOOR,overflow> (constants clamp),
    in int64 numpy: codes at 2**-5, products at 2**-10."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    h = fixed_8_3(np.floor(x * 32).astype(np.int64), overflow)
    gemms = [n for n in model.graph.node if n.op_type == "Gemm"]
    for k, node in enumerate(gemms):
        w = np.clip(np.floor(inits[node.input[1]].T * 32), -128, 127).astype(np.int64)
        b = np.clip(np.floor(inits[node.input[2]] * 32), -128, 127).astype(np.int64)
        acc = h @ w + b * 32
        if k < len(gemms) - 1:
            acc = np.maximum(acc, 0)
        h = fixed_8_3(acc // 32, overflow)  # FLOOR from 2**-10 to 2**-5
    return h / 32.0


def wide_inputs(n: int, features: int) -> np.ndarray:
    """Values on and off the 2**-5 grid, inside fixed<8,3>'s [-4, 4) and up to 5 times beyond it."""
    rng = np.random.default_rng(12)
    x = rng.uniform(-20, 20, size=(n, features))
    x[::3] = np.round(x[::3] * 32) / 32
    return x


@pytest.mark.parametrize("overflow", MODES)
def test_precision_keeps_the_overflow_mode_and_golden_follows_it(overflow):
    model = float_mlp(seed=6)
    precision = f"fixed<8,3,FLOOR,{overflow}>"
    graph = edgecc.load(model, precision=precision)
    quantizers = [n for n in graph.nodes if n.op == "Quantize"]
    assert len(quantizers) == 3  # the input and both layer results
    for q in quantizers:
        assert graph.tensor(q.output).type == FixedType(8, 3, True, "FLOOR", overflow)
    x = wide_inputs(1500, 10)
    codes = quantize_inputs(graph, [x])[0]
    np.testing.assert_array_equal(codes, fixed_8_3(np.floor(x * 32).astype(np.int64), overflow))
    np.testing.assert_array_equal(graph.golden(x), float_mlp_reference(model, x, overflow))


def test_wrapping_input_really_wraps():
    graph = edgecc.load(float_mlp(seed=6), precision="fixed<8,3,FLOOR,WRAP>")
    x = np.array([[4.0, 4.03125, -4.03125, 7.96875, 12.5, -100.5, 3.96875, -4.0, 0.0, 8.0]])
    assert quantize_inputs(graph, [x])[0].tolist() == [[-128, -127, 127, -1, -112, 112, 127, -128, 0, 0]]


@pytest.mark.parametrize("overflow", MODES)
def test_config_input_type_keeps_the_overflow_mode(overflow, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"input: 'fixed<8,3,FLOOR,{overflow}>'\n")
    graph = edgecc.load(float_mlp(seed=6), config=str(cfg))
    port = graph.input_quantizers()[0]
    assert graph.tensor(port.output).type == FixedType(8, 3, True, "FLOOR", overflow)
    x = wide_inputs(600, 10)
    np.testing.assert_array_equal(quantize_inputs(graph, [x])[0],
                                  fixed_8_3(np.floor(x * 32).astype(np.int64), overflow))


@pytest.mark.parametrize("t", [FixedType(8, 3, True, "ROUND", m) for m in MODES]
                         + [FixedType(6, 6, False, "FLOOR", "WRAP"), FixedType(70, 20, True, "CEIL", "SAT_SYM")])
def test_quant_spec_of_a_type_gives_back_that_type(t):
    assert QuantSpec.of_type(t).out_type() == t


def test_sat_sym_only_where_the_range_is_symmetric():
    assert QuantSpec(4, -127, 127, "ROUND", "SAT_SYM").out_type().overflow == "SAT_SYM"
    assert QuantSpec(4, -128, 127, "ROUND", "SAT_SYM").out_type().overflow == "SAT"
    assert QuantSpec(4, -100, 127, "ROUND", "SAT_SYM").out_type().overflow == "SAT"
    assert QuantSpec(4, 0, 254, "ROUND", "SAT_SYM").out_type().overflow == "SAT"


def test_wrap_needs_the_whole_twos_complement_range():
    assert QuantSpec(4, -128, 127, "ROUND", "WRAP").out_type() == FixedType(8, 4, True, "ROUND", "WRAP")
    with pytest.raises(ModelError, match="full two's complement range"):
        QuantSpec(4, -127, 127, "ROUND", "WRAP").out_type()
    with pytest.raises(ModelError, match="unknown overflow mode"):
        QuantSpec(4, -128, 127, "ROUND", "CLAMP")


def test_float_bias_in_a_quantized_model_gets_its_exact_type_and_a_float_model_the_default():
    from edgecc.config import DEFAULT_PRECISION
    from models import qonnx_float_bias_mlp

    from .lowering import lowered_until

    graph, config, run = lowered_until(qonnx_float_bias_mlp(), "assign_default_precision")
    floats = {t for n in graph.nodes for t in n.inputs if graph.tensor(t).is_const and graph.tensor(t).type is None}
    assert floats
    values = {t: graph.tensor(t).data.astype(np.float64) for t in floats}
    run(graph, config)
    for t, v in values.items():
        typed = graph.tensor(t)
        np.testing.assert_array_equal(typed.type.to_float(typed.data), v)  # every float32 value, exactly
    graph, config, run = lowered_until(float_mlp(seed=1), "assign_default_precision")
    consts = [t for n in graph.nodes for t in n.inputs if graph.tensor(t).is_const]
    run(graph, config)
    assert {graph.tensor(t).type.plain() for t in consts} == {DEFAULT_PRECISION.plain()}
