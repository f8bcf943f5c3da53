"""Model quantizers (QONNX Quant, ONNX Q/DQ) in IR terms: scales as fractional bits, clamp ranges as codes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .types import FixedType, round_float


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


@dataclass(frozen=True)
class QuantSpec:
    """x -> clamp(round(x * 2**frac), lo, hi) codes; the value is code * 2**-frac."""

    frac: int
    lo: int
    hi: int
    rounding: str
    narrow_signed: bool = False  # lo == -hi: the symmetric (SAT_SYM) range

    def out_type(self) -> FixedType:
        t = FixedType.covering(self.lo, self.hi, self.frac)
        overflow = "SAT_SYM" if self.narrow_signed and t.signed and t.min_int + 1 == self.lo and t.max_int == self.hi \
            else "SAT"
        return t.with_modes(rounding=self.rounding, overflow=overflow)


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
    fracs = np.asarray(fracs, dtype=np.int64)
    if fracs.size > 1 and fracs.ndim != values.ndim:
        fracs = fracs.reshape(_axis_shape(values.ndim, axis, fracs.size))
    elif fracs.size <= 1:
        fracs = fracs.reshape(())
    try:
        fracs_full = np.broadcast_to(fracs, values.shape)
    except ValueError:
        raise ModelError(f"scale of shape {list(fracs.shape)} does not broadcast to {list(values.shape)}") from None
    codes = np.clip(round_float(np.ldexp(values, fracs_full), rounding), lo, hi)
    common = int(fracs.max()) if fracs.size else 0
    codes = np.array([int(c) << int(common - f) for c, f in zip(codes.ravel(), fracs_full.ravel())],
                     dtype=object).reshape(values.shape)
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


def _axis_shape(ndim: int, axis: int | None, size: int) -> tuple[int, ...]:
    if size <= 1:
        return ()
    if axis is None:
        raise ModelError("a per-axis scale or zero point needs an axis")
    shape = [1] * ndim
    shape[axis] = size
    return tuple(shape)
