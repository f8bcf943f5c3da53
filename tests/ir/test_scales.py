"""Non-power-of-two scales: TFLite's quantized multiplier and integer requantization against literal ports of
TFLite's and gemmlowp's code, and the float32 input recipe against onnxruntime's QuantizeLinear and qonnx's Quant."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from edgecc.ir.scales import (multiply_by_quantized_multiplier, power_of_two, quantize_float32, quantized_multiplier,
                              values_of_codes)
from edgecc.ir.types import FixedType


def tflite_quantize_multiplier(m: float) -> tuple[int, int]:
    """tensorflow/lite/kernels/internal/quantization_util.cc QuantizeMultiplier, in doubles as TFLite computes it."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)   # TfLiteRound: half away from 0
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def test_quantized_multiplier_is_tflites_on_the_exact_ratio():
    rng = np.random.default_rng(0)
    s_in, s_w, s_out = (rng.uniform(1e-4, 0.1, 3000).astype(np.float32) for _ in range(3))
    for a, b, c in zip(s_in, s_w, s_out):
        exact = Fraction(float(a)) * Fraction(float(b)) / Fraction(float(c))
        m0, e = quantized_multiplier(exact)
        assert (1 << 30) <= m0 < (1 << 31)
        assert (m0, e) == tflite_quantize_multiplier(float(a) * float(b) / float(c))
        assert abs(Fraction(m0) * Fraction(2) ** (e - 31) / exact - 1) <= Fraction(1, 1 << 31)


def test_quantized_multiplier_edges():
    assert quantized_multiplier(Fraction(1, 2)) == (1 << 30, 0)
    assert quantized_multiplier(Fraction(1)) == (1 << 30, 1)
    assert quantized_multiplier(Fraction((1 << 31) - 1, 1 << 31)) == ((1 << 31) - 1, 0)
    assert quantized_multiplier(Fraction((1 << 32) - 1, 1 << 32)) == (1 << 30, 1)    # rounds up to 1: the carry
    assert quantized_multiplier(Fraction(1, 1 << 40)) == (0, 0)                       # everything rounds to 0


# ---- gemmlowp's fixedpoint.h and TFLite's MultiplyByQuantizedMultiplier, as written there (int32 arithmetic) ----
def _c_div(a: int, b: int) -> int:
    """C's integer division (truncating toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    overflow = a == b == -(1 << 31)
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    return (1 << 31) - 1 if overflow else _c_div(ab + nudge, 1 << 31)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def tflite_multiply_by_quantized_multiplier(x: int, m0: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x * (1 << left), m0), right)


def test_multiply_by_quantized_multiplier_is_tflites_int32_kernel():
    rng = np.random.default_rng(1)
    for _ in range(300):
        m0 = int(rng.integers(1 << 30, 1 << 31))
        shift = int(rng.integers(-20, 4))
        bound = (1 << 31) >> max(shift, 0)
        x = rng.integers(-bound, bound, size=200)
        x[:4] = [0, 1, -1, bound - 1]
        got = multiply_by_quantized_multiplier(x.astype(np.int64), m0, shift)
        want = [tflite_multiply_by_quantized_multiplier(int(v), m0, shift) for v in x]
        assert got.tolist() == want
        # beyond int32 (Python ints): the same two roundings on exact integers
        wide = multiply_by_quantized_multiplier(x.astype(object) << 40, m0, shift)
        left, right = max(shift, 0), max(-shift, 0)
        assert [int(v) for v in wide] == [rounding_divide_by_pot((((int(v) << 40) * (m0 << left)) + (1 << 30)) >> 31,
                                                                 right) for v in x]


def test_multiply_by_quantized_multiplier_rounds_twice_as_tflite_does():
    """The product is rounded to an integer before the right shift: 3209 * M0 / 2^31 = 1823.78 -> 1824, then
    1824 / 2^6 = 28.5 -> 29, where the exact 28.4966 rounds to 28 (TFLite's answer: the IR defines this one)."""
    assert int(multiply_by_quantized_multiplier(np.array([3209]), 1220485818, -6)[0]) == 29
    assert tflite_multiply_by_quantized_multiplier(3209, 1220485818, -6) == 29


def test_power_of_two():
    assert [power_of_two(Fraction(v)) for v in (1, 2, 0.25, 3, 0.3)] == [0, 1, -2, None, None]


# ---- the input recipe ----------------------------------------------------------------------------------------------
def _ort_quantize_linear(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    onnx_type = {np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8}[dtype]
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    graph = helper.make_graph([node], "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
                              [helper.make_tensor_value_info("y", onnx_type, [None])],
                              [numpy_helper.from_array(np.float32(scale), "s"),
                               numpy_helper.from_array(np.array(zero_point, dtype=dtype), "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x.astype(np.float32)})[0].astype(np.int64)


def _near_ties(scale: float, rng) -> np.ndarray:
    s = np.float32(scale)
    k = rng.integers(-300, 300, 3000)
    ties = ((k + 0.5) * s).astype(np.float32)
    return np.concatenate([ties, np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(-np.inf)),
                           rng.normal(0, 3, 3000).astype(np.float32),
                           np.array([0.0, -0.0, 1e30, -1e30, np.inf, -np.inf, 1e-45, -1e-45], dtype=np.float32)])


@pytest.mark.parametrize("scale, zero_point, dtype", [(0.02731552, 143, np.uint8), (0.1, 3, np.uint8),
                                                      (1 / 3, 0, np.int8), (0.0157, -5, np.int8)])
def test_quantize_float32_is_onnxruntimes_quantize_linear(scale, zero_point, dtype):
    x = _near_ties(scale, np.random.default_rng(2))
    info = np.iinfo(dtype)
    got = quantize_float32(x, float(np.float32(scale)), zero_point, False, "ROUND", int(info.min) - zero_point,
                           int(info.max) - zero_point) + zero_point
    np.testing.assert_array_equal(got, _ort_quantize_linear(x, scale, zero_point, dtype))


@pytest.mark.parametrize("rounding", ["ROUND", "FLOOR", "CEIL", "DOWN", "UP"])
def test_quantize_float32_with_the_zero_point_first_is_qonnx_quant(rounding):
    from qonnx.custom_op.general.intquant import int_quant

    scale, zero_point = np.float32(0.0413), np.float32(3)
    x = _near_ties(float(scale), np.random.default_rng(3))
    want = int_quant(x, scale, zero_point, np.float32(8), True, False, rounding) / scale
    got = quantize_float32(x, float(scale), 3, True, rounding, -128 - 3, 127 - 3)
    np.testing.assert_array_equal(got, np.round(want).astype(np.int64))


def test_output_values_are_exact_codes_times_the_scale():
    t = FixedType(9, 9)
    factor = np.array(Fraction(float(np.float32(0.0113243))), dtype=object)
    codes = np.array([[-141, 0, 114]])
    values = values_of_codes(t, factor, codes)
    assert [Fraction(v) for v in values.ravel()] == [c * Fraction(float(np.float32(0.0113243))) for c in (-141, 0, 114)]


def test_output_values_of_wide_codes_are_exact_or_refused():
    from edgecc.errors import ModelError

    t = FixedType(40, 40)
    s = Fraction(float(np.float32(0.0113243)))           # 24 significant bits: 40 + 24 > 53, checked one by one
    factor = np.array(s, dtype=object)
    small = values_of_codes(t, factor, np.array([[3, -5]]))
    assert [Fraction(v) for v in small.ravel()] == [3 * s, -5 * s]
    with pytest.raises(ModelError, match="float64 cannot hold"):
        values_of_codes(t, factor, np.array([[(1 << 38) + 1]]))


def test_a_typed_constant_requantized_with_another_scale_is_exact():
    """codes c of scale 0.013 quantized again at scale 0.02 with zero point 3: round(c * 0.013 / 0.02) exactly (half
    to even), clamped to [-128 - 3, 127 - 3]; a power-of-two scale gives codes at its frac and no factor."""
    from edgecc.ir.quantizers import requantize_constant_scaled

    from .test_types import reference_round

    s_in, s_out = Fraction(float(np.float32(0.013))), Fraction(float(np.float32(0.02)))
    codes = np.array([10, -7, 33, 127, -128, 1000])
    got, t, factor = requantize_constant_scaled(codes, FixedType(11, 11), np.array(s_in, dtype=object),
                                                np.float32(0.02), np.array(3), -128, 127, "ROUND")
    want = [min(max(reference_round(int(c) * s_in / s_out, "ROUND"), -131), 124) for c in codes]
    assert got.tolist() == want and t.frac == 0 and Fraction(np.ravel(factor)[0]) == s_out
    po2, t2, f2 = requantize_constant_scaled(codes, FixedType(11, 11), np.array(s_in, dtype=object),
                                             np.float32(0.25), np.array(0), -128, 127, "FLOOR")
    assert f2 is None and t2.frac == 2
    assert po2.tolist() == [min(max(reference_round(int(c) * s_in * 4, "FLOOR"), -128), 127) for c in codes]
