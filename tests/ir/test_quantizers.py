"""Constant quantization (float, already typed, and exact float constants) against exact rational references."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from edgecc.errors import ModelError
from edgecc.ir.quantizers import exact_codes_of_floats, quantize_constant, requantize_constant
from edgecc.ir.types import ROUNDING_MODES, FixedType

from .test_types import reference_round


def clamp(v: int, lo: int, hi: int) -> int:
    return min(max(v, lo), hi)


@pytest.mark.parametrize("width", [60, 70])
def test_quantize_constant_saturates_exactly_to_wide_bounds(width):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    frac = width - 10
    values = np.array([1e30, -1e30, 512.0, -512.0, np.nextafter(512.0, 0), 3.0])
    codes, t = quantize_constant(values, np.array(frac), lo, hi, "ROUND")
    assert t == FixedType(width, 10)
    assert [int(c) for c in codes] == [hi, lo, hi, lo, (1 << (width - 1)) - (1 << (width - 54)), 3 << frac]


@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_quantize_constant_per_axis_at_70_bits_matches_exact_rationals(mode):
    rng = np.random.default_rng(4)
    values = rng.normal(0, 1, size=(4, 3)) * 2.0 ** rng.integers(-40, 12, size=(4, 3))
    values[0] = [1e20, -1e20, 2.0 ** -61 * 3]  # saturating, and a tie at the finest step
    fracs = np.array([[60, 58, 61]])
    lo, hi = -(1 << 69), (1 << 69) - 1
    codes, t = quantize_constant(values, fracs, lo, hi, mode)
    assert t.frac == 61 and codes.dtype == object
    want = [[clamp(reference_round(Fraction(v) * (1 << int(f)), mode), lo, hi) << (61 - int(f))
             for v, f in zip(row, fracs[0])] for row in values]
    assert codes.tolist() == want


@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_requantize_constant_is_exact_integer_rounding_of_wide_codes(mode):
    rng = np.random.default_rng(5)
    codes = np.array([int(v) << 30 for v in rng.integers(-(1 << 39), 1 << 39, size=30)]
                     + [(1 << 69) - 1, -(1 << 69), (5 << 49), -(5 << 49), (1 << 50) + 1], dtype=object)
    lo, hi = -(1 << 11), (1 << 11) - 1
    got, t = requantize_constant(codes, 60, np.array(10), lo, hi, mode)
    assert t.frac == 10
    assert [int(v) for v in got] == [clamp(reference_round(Fraction(int(c), 1 << 50), mode), lo, hi) for c in codes]


def test_requantize_constant_per_axis_keeps_one_common_frac():
    codes = np.array([[100, -100], [37, 38]])  # at frac 4
    got, t = requantize_constant(codes, 4, np.array([2, 3]), -128, 127, "ROUND", axis=1)
    assert t.frac == 3
    # column 0 to frac 2 (then shifted to 3), column 1 to frac 3
    assert got.tolist() == [[round(Fraction(100, 4)) * 2, round(Fraction(-100, 2))],
                            [round(Fraction(37, 4)) * 2, round(Fraction(38, 2))]]


def test_exact_codes_of_float32_values():
    values = np.array([0.1, -3.0, 0.0, 1024.0], dtype=np.float32)  # float32 0.1 is 13421773 * 2**-27
    codes, frac = exact_codes_of_floats(values)
    assert frac == 27
    assert codes.tolist() == [13421773, -3 << 27, 0, 1024 << 27]


def test_exact_codes_of_even_integers_have_negative_frac():
    codes, frac = exact_codes_of_floats(np.array([2048.0, -1024.0, 0.0]))
    assert (frac, codes.tolist()) == (-10, [2, -1, 0])
    assert exact_codes_of_floats(np.zeros(3))[1] == 0
    codes, frac = exact_codes_of_floats(np.array([(1 << 62) + 1, -5], dtype=np.int64))
    assert (frac, codes.tolist()) == (0, [(1 << 62) + 1, -5])


def test_exact_codes_hold_every_float_exactly():
    rng = np.random.default_rng(6)
    values = (rng.normal(size=200) * 2.0 ** rng.integers(-60, 60, size=200)).astype(np.float32)
    codes, frac = exact_codes_of_floats(values)
    assert [Fraction(int(c)) / Fraction(2) ** frac for c in codes] == [Fraction(float(v)) for v in values]
    assert any(int(c) % 2 for c in codes)  # the finest value sets the frac: no spare trailing zero


def test_exact_codes_refuse_inf_and_nan():
    with pytest.raises(ModelError, match="inf or NaN"):
        exact_codes_of_floats(np.array([1.0, np.inf]))
