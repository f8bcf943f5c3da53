"""Model quantizers (QONNX Quant, ONNX Q/DQ) in IR terms: scales as fractional bits, clamp ranges as codes."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import ModelError
from .scales import compact, factor_array
from .types import OVERFLOW_MODES, FixedType, clamp_to_ints, round_float, scale_by_power_of_two, shift_round


def power_of_two_frac(scale, what: str, node: str | None = None) -> np.ndarray:
    """Fractional bits f with scale == 2**-f, elementwise; any other scale is a clear error."""
    s = np.asarray(scale, dtype=np.float64)
    if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ModelError(f"scale of {what} must be positive and finite, got {s.ravel()[:4].tolist()}", node)
    mant, exp = np.frexp(s)
    if np.any(mant != 0.5):
        bad = float(s.ravel()[np.argmax(mant.ravel() != 0.5)])
        raise ModelError(f"scale of {what} is {bad!r}, not a power of two; edgecc needs power-of-two scales "
                         "(exact requantization for other scales is not implemented yet)", node)
    return (1 - exp).astype(np.int64)


def scale_parts(scale, what: str, node: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(fracs, factor) of a scale tensor: power-of-two scales as fractional bits and no factor (the exact shift
    path); any other scale as frac 0 and the scale itself as the factor (exact Fractions, the scale's shape)."""
    s = np.asarray(scale, dtype=np.float64)
    if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ModelError(f"scale of {what} must be positive and finite, got {s.ravel()[:4].tolist()}", node)
    mant, exp = np.frexp(s)
    if np.all(mant == 0.5):
        return (1 - exp).astype(np.int64), None
    return np.zeros(s.shape, dtype=np.int64), factor_array(s)


@dataclass(frozen=True)
class QuantSpec:
    """x -> round(x * 2**frac) codes, then clamped to [lo, hi] (SAT, SAT_SYM) or wrapped (WRAP) into the output
    type; the value is code * 2**-frac (times `factor`, where the model's scale is not a power of two: frac is 0
    then and the factor is the scale). `overflow` is kept as the model or the config writes it.

    At a graph input, `float_scale`, `zero_point` and `zero_point_first` keep the model's own float32 recipe where
    the exact one would differ from it (see scales.quantize_float32): a scale that is not a power of two, or a QONNX
    zero point (added before the rounding). lo/hi are centered codes (the zero point already subtracted)."""

    frac: int
    lo: int
    hi: int
    rounding: str
    overflow: str = "SAT"
    factor: Fraction | None = None
    float_scale: float | None = None
    zero_point: int = 0
    zero_point_first: bool = False

    def __post_init__(self):
        if self.overflow not in OVERFLOW_MODES:
            raise ModelError(f"unknown overflow mode {self.overflow!r}; known: {', '.join(OVERFLOW_MODES)}")

    @staticmethod
    def of_type(t: FixedType) -> "QuantSpec":
        """Quantize into exactly `t`: its grid, its range, its rounding and its overflow mode."""
        return QuantSpec(t.frac, t.min_int, t.max_int, t.rounding, t.overflow)

    def out_type(self) -> FixedType:
        """The narrowest type holding [lo, hi]; SAT_SYM only where [lo, hi] is that type's symmetric range."""
        t = FixedType.covering(self.lo, self.hi, self.frac)
        if self.overflow == "WRAP":
            if (t.min_int, t.max_int) != (self.lo, self.hi):
                raise ModelError(f"a wrapping quantizer needs a full two's complement range, "
                                 f"not [{self.lo}, {self.hi}]")
            return t.with_modes(rounding=self.rounding, overflow="WRAP")
        symmetric = self.overflow == "SAT_SYM" and t.signed and (t.min_int + 1, t.max_int) == (self.lo, self.hi)
        return t.with_modes(rounding=self.rounding, overflow="SAT_SYM" if symmetric else "SAT")


def int_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """QONNX min_int/max_int: narrow trims the bottom for signed, the top for unsigned."""
    if signed:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return (lo + 1 if narrow else lo), hi
    return 0, ((1 << bits) - 2 if narrow else (1 << bits) - 1)


def quantize_constant(values: np.ndarray, fracs: np.ndarray, lo: int, hi: int, rounding: str,
                      axis: int | None = None) -> tuple[np.ndarray, FixedType]:
    """Quantize a float constant with per-tensor or per-axis power-of-two scales into integer codes at one
    common frac (codes of finer channels are shifted left, which is exact). Returns (codes, type).

    A scale tensor of the constant's own rank broadcasts (QONNX); a 1-D one lies along `axis` (ONNX QDQ)."""
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ModelError("a constant holds NaN, which has no fixed-point value")
    fracs, fracs_full = _fracs_for(values.shape, fracs, axis)
    codes = clamp_to_ints(round_float(scale_by_power_of_two(values, fracs_full), rounding), lo, hi)
    return _at_common_frac(codes, fracs, fracs_full)


def requantize_constant(codes: np.ndarray, frac: int, fracs: np.ndarray, lo: int, hi: int, rounding: str,
                        axis: int | None = None) -> tuple[np.ndarray, FixedType]:
    """Quantize an already typed constant (codes at `frac`) again, in exact integer arithmetic: as
    `quantize_constant` does for float values, without passing through float."""
    q = np.asarray(codes).astype(object)
    fracs, fracs_full = _fracs_for(q.shape, fracs, axis)
    rounded = np.empty(q.shape, dtype=object)
    for f in np.unique(fracs_full):
        channel = fracs_full == f
        rounded[channel] = shift_round(q[channel], frac - int(f), rounding)
    return _at_common_frac(clamp_to_ints(rounded, lo, hi), fracs, fracs_full)


def exact_codes_of_floats(values: np.ndarray) -> tuple[np.ndarray, int]:
    """A float (or integer) constant as Python-int codes at the one frac that holds every value exactly: a float
    is num / 2**k, so the finest nonzero value fixes the frac, and the others are shifted to it."""
    a = np.asarray(values)
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        return a.astype(object), 0
    a = a.astype(np.float64)  # float16 and float32 widen exactly
    if not np.all(np.isfinite(a)):
        raise ModelError("a constant holds inf or NaN, which has no fixed-point value")
    flat = a.ravel().tolist()
    frac = max((fractional_bits(v) for v in flat if v), default=0)
    codes = []
    for v in flat:
        num, den = v.as_integer_ratio()  # den is a power of two
        codes.append(_shift(num, frac - (den.bit_length() - 1)))
    return np.array(codes, dtype=object).reshape(a.shape), frac


def fractional_bits(v: float) -> int:
    """f such that the lowest set bit of a nonzero float v is 2**-f (negative for an even integer)."""
    num, den = float(v).as_integer_ratio()
    return den.bit_length() - 1 if den > 1 else -((num & -num).bit_length() - 1)


def _shift(v: int, left: int) -> int:
    return v << left if left >= 0 else v >> -left  # a right shift here drops only zero bits


def _fracs_for(shape: tuple[int, ...], fracs: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The scales' fractional bits in a shape that broadcasts to the constant, and broadcast to it."""
    fracs = np.asarray(fracs, dtype=np.int64)
    if fracs.size > 1 and fracs.ndim != len(shape):
        fracs = fracs.reshape(_axis_shape(len(shape), axis, fracs.size))
    elif fracs.size <= 1:
        fracs = fracs.reshape(())
    try:
        return fracs, np.broadcast_to(fracs, shape)
    except ValueError:
        raise ModelError(f"scale of shape {list(fracs.shape)} does not broadcast to {list(shape)}") from None


def quantize_constant_scaled(values: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, qmin: int, qmax: int,
                             rounding: str, zero_point_first: bool, axis: int | None = None
                             ) -> tuple[np.ndarray, FixedType, np.ndarray | None]:
    """A float constant quantized with scales that are not all powers of two, as the model's float32 executor does
    it (qonnx's Quant: x / s + z in float32, clamped to [qmin, qmax], rounded; ONNX QuantizeLinear: x / s rounded
    half to even, then + z): the centered codes q - z, their type, and the factor (none where every scale is a power
    of two: then the codes are at the finest one's frac)."""
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise ModelError("a constant holds NaN, which has no fixed-point value")
    s = _along(np.asarray(scale, dtype=np.float64), values.ndim, axis)
    z = _along(np.asarray(zero_point, dtype=np.int64), values.ndim, axis)
    try:
        np.broadcast_shapes(s.shape, z.shape, values.shape)
    except ValueError:
        raise ModelError(f"scale of shape {list(s.shape)} does not broadcast to {list(values.shape)}") from None
    with np.errstate(over="ignore", under="ignore"):
        v = values.astype(np.float32) / s.astype(np.float32)
        if zero_point_first:
            v = (v + z.astype(np.float32)).astype(np.float32)
    rounded = round_float(v.astype(np.float64), rounding)
    if zero_point_first:   # the model's integers clamped, then centered
        codes = np.clip(rounded, qmin, qmax).astype(np.int64) - z
    else:
        codes = np.clip(rounded, qmin - z, qmax - z).astype(np.int64)
    return _scaled_codes(np.broadcast_to(codes, values.shape).copy(), s)


def _scaled_codes(codes: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, FixedType, np.ndarray | None]:
    """Codes in units of their element's scale -> (codes, type, factor): powers of two as one common frac (exact
    left shifts, no factor), any other scales as frac 0 and the scales as the factor."""
    fracs, factor = scale_parts(scale, "a constant")
    if factor is None:
        f, f_full = _fracs_for(codes.shape, fracs, None)
        codes, t = _at_common_frac(codes, f, f_full)
        return codes, t, None
    t = FixedType.covering(int(codes.min()) if codes.size else 0, int(codes.max()) if codes.size else 0, 0)
    return (codes.astype(np.int64) if t.fits_int64() else codes), t, compact(factor_array(scale))


def requantize_constant_scaled(codes: np.ndarray, t: FixedType, factor: np.ndarray | None, scale: np.ndarray,
                               zero_point: np.ndarray, qmin: int, qmax: int, rounding: str, axis: int | None = None
                               ) -> tuple[np.ndarray, FixedType, np.ndarray | None]:
    """An already typed constant (codes of type t, times `factor`) quantized again with any scales and zero points,
    exactly: round(value / s) + z (in rational arithmetic), clamped to [qmin, qmax]; the centered codes, their type
    and the factor (as `quantize_constant_scaled`)."""
    q = np.asarray(codes).astype(object)
    scale = _along(np.asarray(scale, dtype=np.float64), q.ndim, axis)
    s = np.broadcast_to(scale, q.shape)
    z = np.broadcast_to(_along(np.asarray(zero_point, dtype=np.int64), q.ndim, axis), q.shape)
    f = np.broadcast_to(np.asarray(factor if factor is not None else Fraction(1), dtype=object), q.shape)
    step = Fraction(1, 1 << t.frac) if t.frac >= 0 else Fraction(1 << -t.frac)
    out = [min(max(round_fraction(int(c) * step * fv / Fraction(float(sv)), rounding), qmin - int(zv)),
               qmax - int(zv)) for c, fv, sv, zv in zip(q.ravel(), f.ravel(), s.ravel(), z.ravel())]
    return _scaled_codes(np.array(out, dtype=object).reshape(q.shape), scale)


def round_fraction(v: Fraction, mode: str) -> int:
    """An exact rational rounded to an integer with an IR rounding mode."""
    from .ops_spatial import divide_round   # the one definition of rounding a quotient

    v = Fraction(v)
    return int(divide_round(np.array([v.numerator], dtype=object), np.array([v.denominator], dtype=object), 0,
                            mode)[0])


def _along(a: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    """A scale or zero point of one value, or one per index of `axis` (1-D), shaped to broadcast against a tensor of
    rank ndim; one of the tensor's own rank broadcasts as it is (QONNX)."""
    if a.size <= 1:
        return a.reshape(())
    if a.ndim == ndim:
        return a
    return a.reshape(_axis_shape(ndim, axis, a.size))


def _at_common_frac(codes: np.ndarray, fracs: np.ndarray, fracs_full: np.ndarray) -> tuple[np.ndarray, FixedType]:
    """Codes at per-element fracs -> codes at the finest of them (exact left shifts) and their covering type."""
    common = int(fracs.max()) if fracs.size else 0
    shifted = [int(c) << int(common - f) for c, f in zip(codes.ravel(), fracs_full.ravel())]
    codes = np.array(shifted, dtype=object).reshape(codes.shape)
    t = FixedType.covering(int(codes.min()) if codes.size else 0, int(codes.max()) if codes.size else 0, common)
    return (codes.astype(np.int64) if t.fits_int64() else codes), t


def codes_of_integers(ints: np.ndarray, fracs: np.ndarray, zero_point: np.ndarray, axis: int | None
                      ) -> tuple[np.ndarray, FixedType]:
    """An integer constant read as (q - zero_point) * 2**-frac (DequantizeLinear), as codes at one common frac."""
    q = np.asarray(ints).astype(object)
    zp = np.asarray(zero_point).astype(object)
    fracs = np.asarray(fracs, dtype=np.int64).ravel()
    common = int(fracs.max())
    shifts = np.array([1 << int(common - f) for f in fracs], dtype=object)
    codes = (q - zp.reshape(_axis_shape(q.ndim, axis, zp.size))) * shifts.reshape(_axis_shape(q.ndim, axis, fracs.size))
    codes = np.asarray(codes, dtype=object)
    t = FixedType.covering(int(codes.min()) if codes.size else 0, int(codes.max()) if codes.size else 0, common)
    return (codes.astype(np.int64) if t.fits_int64() else codes), t


def codes_of_integers_scaled(ints: np.ndarray, factor: np.ndarray, zero_point: np.ndarray, axis: int | None
                             ) -> tuple[np.ndarray, FixedType, np.ndarray | None]:
    """An integer constant read as (q - zero_point) * scale with scales that are not all powers of two
    (DequantizeLinear): the centered codes at frac 0, their type, and the scales as the factor."""
    q = np.asarray(ints).astype(object)
    zp = np.asarray(zero_point).astype(object)
    codes = np.asarray(q - zp.reshape(_axis_shape(q.ndim, axis, zp.size)), dtype=object)
    f = np.asarray(factor, dtype=object)
    f = f.reshape(_axis_shape(q.ndim, axis, f.size)) if f.size > 1 else f.reshape(())
    t = FixedType.covering(int(codes.min()) if codes.size else 0, int(codes.max()) if codes.size else 0, 0)
    return (codes.astype(np.int64) if t.fits_int64() else codes), t, compact(f)


def _axis_shape(ndim: int, axis: int | None, size: int) -> tuple[int, ...]:
    if size <= 1:
        return ()
    if axis is None:
        raise ModelError("a per-axis scale or zero point needs an axis")
    shape = [1] * ndim
    shape[axis] = size
    return tuple(shape)
