"""FixedType and the rounding primitives, against independent references (Fractions, qonnx's int_quant)."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from edgecc.errors import ModelError
from edgecc.ir.types import ROUNDING_MODES, FixedType, parse_type, shift_round

QONNX_MODES = ("ROUND", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN")


def reference_round(v: Fraction, mode: str) -> int:
    """Each rounding mode from its definition, on exact rationals."""
    fl, ce = math.floor(v), math.ceil(v)
    if mode == "FLOOR":
        return fl
    if mode == "CEIL":
        return ce
    if mode == "DOWN":
        return fl if v >= 0 else ce
    if mode == "UP":
        return ce if v >= 0 else fl
    if v - fl != Fraction(1, 2):
        return fl if v - fl < Fraction(1, 2) else ce
    return {"ROUND": fl if fl % 2 == 0 else ce, "HALF_UP": ce if v > 0 else fl, "HALF_DOWN": fl if v > 0 else ce,
            "HALF_POS_INF": ce, "HALF_NEG_INF": fl}[mode]


@pytest.mark.parametrize("mode", ROUNDING_MODES)
@pytest.mark.parametrize("shift", [1, 2, 3, 7])
def test_shift_round_matches_exact_rational_rounding(mode, shift):
    q = np.arange(-300, 301, dtype=np.int64)
    got = shift_round(q, shift, mode)
    want = [reference_round(Fraction(int(v), 1 << shift), mode) for v in q]
    assert got.tolist() == want


@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_shift_round_exact_beyond_int64(mode):
    q = np.array([(1 << 90) + 5, -(1 << 90) - 6, (1 << 70) + (1 << 9)], dtype=object)
    got = shift_round(q, 10, mode)
    assert list(got) == [reference_round(Fraction(int(v), 1 << 10), mode) for v in q]


def test_left_shift_is_exact():
    assert shift_round(np.array([-3, 5]), -4, "ROUND").tolist() == [-48, 80]


@pytest.mark.parametrize("mode", QONNX_MODES)
@pytest.mark.parametrize("signed,narrow,bits", [(True, False, 4), (True, True, 4), (False, False, 3),
                                                (False, True, 3), (True, False, 8)])
def test_float_quantize_matches_qonnx_int_quant(mode, signed, narrow, bits):
    from qonnx.custom_op.general.intquant import int_quant

    from edgecc.ir.quantizers import QuantSpec, int_range

    frac = 2
    x = np.concatenate([np.arange(-80, 81) / 8.0, np.arange(-40, 41) / 4.0 + 1 / 8.0, [-1e9, 1e9, 0.0, -0.0]])
    lo, hi = int_range(bits, signed, narrow)
    spec = QuantSpec(frac, lo, hi, mode, "SAT_SYM" if signed and narrow else "SAT")
    got = spec.out_type().with_modes(rounding=mode).quantize(x, lo, hi) * 2.0 ** -frac
    want = int_quant(x.astype(np.float32), np.float32(2.0 ** -frac), np.float32(0), np.float32(bits), signed, narrow,
                     mode)
    np.testing.assert_array_equal(got, want)


def test_covering_type_is_narrowest():
    assert FixedType.covering(-128, 127, 4) == FixedType(8, 4, True)
    assert FixedType.covering(-129, 127, 4) == FixedType(9, 5, True)
    assert FixedType.covering(0, 255, 0) == FixedType(8, 8, False)
    assert FixedType.covering(0, 256, 0) == FixedType(9, 9, False)
    assert FixedType.covering(0, 0, 3) == FixedType(1, -2, False)


def test_ranges_and_sat_sym():
    t = FixedType(8, 3, True, "ROUND", "SAT_SYM")
    assert (t.min_int, t.max_int) == (-127, 127)
    assert (FixedType(8, 3, False).min_int, FixedType(8, 3, False).max_int) == (0, 255)


def test_wrap_is_twos_complement():
    t = FixedType(4, 4, True, "FLOOR", "WRAP")
    assert t.quantize(np.array([7, 8, 9, -9, 15.5])).tolist() == [7, -8, -7, 7, -1]


def test_parse_type_reads_every_spelling():
    assert parse_type("fixed<16,6>") == FixedType(16, 6, True)
    assert parse_type("ufixed<8, 0, ROUND, SAT>") == FixedType(8, 0, False, "ROUND", "SAT")
    assert parse_type("ap_fixed<8,3,AP_RND_CONV,AP_SAT>") == FixedType(8, 3, True, "ROUND", "SAT")
    assert parse_type("ap_fixed<8,3,AP_RND_INF,AP_SAT_SYM>") == FixedType(8, 3, True, "HALF_UP", "SAT_SYM")
    assert parse_type("fixed<16,6>", "ROUND", "SAT").rounding == "ROUND"
    with pytest.raises(ModelError):
        parse_type("float32")
    with pytest.raises(ModelError):
        parse_type("fixed<8,3,NEAREST>")


def test_ap_type_names():
    assert FixedType(8, 3).ap_type() == "ap_fixed<8,3>"
    assert FixedType(8, 3, False, "ROUND", "SAT").ap_type() == "ap_ufixed<8,3,AP_RND_CONV,AP_SAT>"
    assert FixedType(8, 3, True, "HALF_DOWN", "SAT_SYM").ap_type() == "ap_fixed<8,3,AP_RND_ZERO,AP_SAT_SYM>"
    assert FixedType(12, 4).c_int_type() == "int16_t"


def test_nan_input_is_a_clear_error():
    with pytest.raises(ModelError, match="NaN"):
        FixedType(8, 4).quantize(np.array([np.nan]))


# ---- exact beyond float64's 53 bits --------------------------------------------------------------------------
HARD_FLOATS = [0.49999999999999994, -0.49999999999999994, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 2.0 ** 52 + 1,
               -(2.0 ** 52 + 1), 2.0 ** 52 - 0.5, -(2.0 ** 52 - 0.5), 2.0 ** 51 + 0.5, 2.0 ** 53 + 2, 1e300, -1e300,
               5e-324, -5e-324, 0.5000000000000001, -0.5000000000000001, 0.0, -0.0, 3.0]


@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_round_float_rounds_as_the_exact_value_would(mode):
    from edgecc.ir.types import round_float

    got = round_float(np.array(HARD_FLOATS), mode)
    assert [int(v) for v in got] == [reference_round(Fraction(v), mode) for v in HARD_FLOATS]


def exact_inputs(t: FixedType, seed: int) -> list[float]:
    """Floats that probe a wide type: ties and off-grid values at its finest steps, values of every magnitude,
    the largest floats inside its range and the smallest outside."""
    rng = np.random.default_rng(seed)
    step = Fraction(1, 1 << t.frac)
    top = Fraction(t.max_int + 1) * step  # the first value past the range
    xs = [float(k * step / 2) for k in range(-9, 10)]  # ties and on-grid values at the finest step
    xs += [float(np.nextafter(float(top), 0)), float(top), -float(top), float(np.nextafter(-float(top), 0)),
           -float(top) - float(step), 1e30, -1e30, 1e300, -1e300, 5e-324, -5e-324]
    xs += [float(v) for v in rng.normal(0, 1, 40) * 2.0 ** rng.integers(-t.frac - 4, t.integer + 4, 40)]
    xs += [float(rng.integers(-(1 << 52), 1 << 52)) * 2.0 ** -t.frac + 0.5 * 2.0 ** -t.frac for _ in range(10)]
    return xs


@pytest.mark.parametrize("mode", ROUNDING_MODES)
@pytest.mark.parametrize("width", [60, 70])
@pytest.mark.parametrize("overflow", ["SAT", "SAT_SYM"])
def test_quantize_wide_types_saturates_exactly(mode, width, overflow):
    t = FixedType(width, 10, True, mode, overflow)
    xs = exact_inputs(t, width)
    got = t.quantize(np.array(xs))
    assert got.dtype == (np.int64 if width <= 62 else object)
    want = [min(max(reference_round(Fraction(x) * (1 << t.frac), mode), t.min_int), t.max_int) for x in xs]
    assert [int(v) for v in got] == want


@pytest.mark.parametrize("mode", ROUNDING_MODES)
@pytest.mark.parametrize("width", [60, 70])
def test_quantize_wide_types_wraps_exactly(mode, width):
    t = FixedType(width, 10, True, mode, "WRAP")
    xs = exact_inputs(t, width + 1)
    half = 1 << (width - 1)
    want = [(reference_round(Fraction(x) * (1 << t.frac), mode) + half) % (2 * half) - half for x in xs]
    assert [int(v) for v in t.quantize(np.array(xs))] == want


@pytest.mark.parametrize("width", [60, 70])
def test_saturation_gives_exactly_max_int_and_min_int(width):
    for overflow in ("SAT", "SAT_SYM"):
        t = FixedType(width, 10, True, "ROUND", overflow)
        got = t.quantize(np.array([512.0, 1e30, np.inf, -512.0 - 2.0 ** -40, -1e30, -np.inf]))
        assert [int(v) for v in got] == [t.max_int] * 3 + [t.min_int] * 3
        assert t.min_int == (-t.max_int if overflow == "SAT_SYM" else -t.max_int - 1)


def test_quantize_below_float64_exponents_rounds_by_sign():
    # frac -92: 5e-324 * 2**-92 underflows float64, yet every mode still rounds the exact tiny value correctly
    xs = [5e-324, -5e-324, 1e-300, -1e-300]
    for mode in ROUNDING_MODES:
        t = FixedType(8, 100, True, mode, "SAT")
        want = [reference_round(Fraction(x) / (1 << 92), mode) for x in xs]
        assert t.quantize(np.array(xs)).tolist() == want


@pytest.mark.parametrize("t,codes", [
    (FixedType(60, 10), [1 << 58, -((1 << 53) - 1) << 6, 1, -1, 0, (1 << 53) - 1, -(1 << 59)]),
    (FixedType(70, 10), [(1 << 69) - (1 << 17), -(1 << 69), 3, 0, ((1 << 52) + 1) << 16]),
    (FixedType(16, -1000), [32767, -32768, 1]),
])
def test_to_float_is_exact_where_float64_holds_the_values(t, codes):
    got = t.to_float(np.array(codes, dtype=t.int_dtype()))
    assert got.dtype == np.float64
    assert [Fraction(v) for v in got] == [Fraction(c) / Fraction(2) ** t.frac for c in codes]


@pytest.mark.parametrize("t,code,match", [
    (FixedType(60, 10), (1 << 59) - 1, "need up to 59 significant bits"),
    (FixedType(70, 10), -(1 << 69) + 1, "need up to 69 significant bits"),
    (FixedType(8, -1100), 3, "beyond float64's exponents"),
    (FixedType(8, 1100), 1, "beyond float64's exponents"),
])
def test_to_float_refuses_values_float64_cannot_hold(t, code, match):
    codes = np.array([0, code, 1 << (t.width - 2)], dtype=t.int_dtype())
    with pytest.raises(ModelError, match=match + ".*float64 cannot hold them exactly.*integer codes"):
        t.to_float(codes)


def test_to_fractions_is_exact_at_any_width_and_exponent():
    t = FixedType(70, 10)
    codes = np.array([[(1 << 69) - 1, -(1 << 69)], [0, 12345]], dtype=object)
    got = t.to_fractions(codes)
    assert got.shape == (2, 2)
    assert got.tolist() == [[Fraction((1 << 69) - 1, 1 << 60), Fraction(-(1 << 9))], [0, Fraction(12345, 1 << 60)]]
    assert FixedType(8, 1100).to_fractions(np.array([3])).tolist() == [3 * 2 ** 1092]
