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
    spec = QuantSpec(frac, lo, hi, mode, signed and narrow)
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
