"""Non-power-of-two scales, exactly: tensors' scale factors, TFLite's integer requantization (a 31-bit multiplier and
a shift) and the float32 quantization of a model input.

Where a quantizer's scale s is not a power of two, its codes keep frac 0 and the tensor gets a *scale factor*: a
code q of a tensor of type t stands for q * 2**-t.frac * factor. Factors are exact rationals (a float32 scale is
one, and so are their products), kept on `Tensor.scale` as an object array of Fractions that broadcasts against
the tensor's shape (one value for the tensor, or one per channel along an axis); no factor means 1. The IR's
arithmetic never reads them: the lowering turns a quantizer between tensors of different factors into a Requantize
with integer constants (`quantized_multiplier`), and only the graph's boundary reads factors afterwards (float
inputs to codes: `quantize_float32`; output codes to values: `values_of_codes`).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..errors import ModelError
from .types import FLOAT64_BITS, FixedType, round_float, shift_round

# SaturatingRoundingDoublingHighMul divides by 2**31; a multiplier M0 lies in [2**30, 2**31)
MULTIPLIER_BITS = 31
MAX_EXPONENT = 30   # a requantization multiplier below 2**30 (any sensible model's is far below 1)


# ---- factors -------------------------------------------------------------------------------------------------------
def factor_array(values) -> np.ndarray:
    """Positive finite float scale values (any shape) as an object array of exact Fractions."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ModelError(f"a scale must be positive and finite, got {a.ravel()[:4].tolist()}")
    out = np.empty(a.shape, dtype=object)
    out.ravel()[:] = [Fraction(float(v)) for v in a.ravel()]
    return out


def compact(factor: np.ndarray | None) -> np.ndarray | None:
    """The same factor in its smallest broadcastable shape (an axis it does not vary along becomes 1); None where it
    is 1 everywhere."""
    if factor is None:
        return None
    f = np.asarray(factor, dtype=object)
    for axis in range(f.ndim):
        first = f.take([0], axis=axis)
        if f.shape[axis] > 1 and np.all(f == first):
            f = first
    return None if np.all(f == 1) else f


def transform(factor: np.ndarray | None, shape: tuple[int, ...], fn) -> np.ndarray | None:
    """The factor of a constant of `shape` after the layout function `fn` (transpose, reshape, ...) moved its
    elements: fn applied to the factor broadcast to `shape`, compacted again."""
    if factor is None:
        return None
    full = np.array(np.broadcast_to(np.asarray(factor, dtype=object), shape), dtype=object)
    return compact(np.asarray(fn(full), dtype=object))


def channel_factors(factor: np.ndarray | None, shape: tuple[int, ...]) -> tuple[Fraction, ...] | None:
    """A tensor's factor as one value per index of its last axis (one value where it is uniform); None for 1.
    A factor that varies along another axis has no such form: ValueError."""
    if factor is None:
        return None
    f = np.asarray(factor, dtype=object)
    if f.ndim == 0 or f.size == 1:
        return (Fraction(f.ravel()[0]),)
    full = np.broadcast_to(f, shape).reshape(-1, shape[-1])
    if not np.all(full == full[0]):
        raise ValueError("the scale varies along an axis other than the last")
    row = tuple(Fraction(v) for v in full[0])
    return row[:1] if all(v == row[0] for v in row) else row


def as_factor(per_channel: tuple[Fraction, ...] | None) -> np.ndarray | None:
    """Per-channel values (or one value) as a factor array along the last axis."""
    if per_channel is None:
        return None
    out = np.empty((len(per_channel),) if len(per_channel) > 1 else (), dtype=object)
    out.ravel()[:] = list(per_channel)
    return compact(out)


def power_of_two(f: Fraction) -> int | None:
    """k where f == 2**k exactly, else None."""
    f = Fraction(f)
    n, d = f.numerator, f.denominator
    if n <= 0:
        return None
    if d == 1 and n & (n - 1) == 0:
        return n.bit_length() - 1
    if n == 1 and d & (d - 1) == 0:
        return -(d.bit_length() - 1)
    return None


def factors_to_json(factor: np.ndarray | None):
    if factor is None:
        return None
    f = np.asarray(factor, dtype=object)
    return {"shape": list(f.shape), "values": [[Fraction(v).numerator, Fraction(v).denominator] for v in f.ravel()]}


def factors_from_json(d) -> np.ndarray | None:
    if d is None:
        return None
    out = np.empty(tuple(d["shape"]), dtype=object)
    out.ravel()[:] = [Fraction(int(n), int(m)) for n, m in d["values"]]
    return out


def values_of_codes(t: FixedType, factor: np.ndarray | None, codes: np.ndarray) -> np.ndarray:
    """Exact float64 values of a tensor's codes, q * 2**-frac * factor; a ModelError where float64 cannot hold one.
    The factor broadcasts against the codes' trailing axes (the batch axis leads)."""
    if factor is None:
        return t.to_float(codes)
    codes = np.asarray(codes)
    f = np.broadcast_to(np.asarray(factor, dtype=object), codes.shape[1:] if codes.ndim else ())
    steps = [Fraction(v) * Fraction(2) ** -t.frac for v in np.ravel(factor)]
    if t.width <= FLOAT64_BITS and all(s.denominator & (s.denominator - 1) == 0 and float(s) > 2.0 ** -900 and
                                       s.numerator.bit_length() + t.width <= FLOAT64_BITS and float(s) < 2.0 ** 900
                                       for s in steps):
        # every step a double of few enough significant bits: each product is exact in float64
        step = np.broadcast_to(np.asarray(factor, dtype=np.float64) * 2.0 ** -t.frac, f.shape)
        return codes.astype(np.float64) * step
    exact = t.to_fractions(codes) * f
    values = np.array([float(v) for v in exact.ravel()], dtype=np.float64).reshape(codes.shape)
    lost = [v for v, e in zip(values.ravel().tolist(), exact.ravel()) if Fraction(v) != e]
    if lost:
        raise ModelError(f"{len(lost)} output value(s) of {t} times the scale need more than {FLOAT64_BITS} "
                         "significant bits, so float64 cannot hold them exactly; use the integer codes instead")
    return values


# ---- TFLite's integer requantization ------------------------------------------------------------------------------
def quantized_multiplier(real: Fraction) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier on an exact positive ratio: real = q * 2**exponent with q in [1/2, 1), and
    M0 = round(q * 2**31) (half away from zero), so that real ~ M0 * 2**(exponent - 31) with M0 in [2**30, 2**31);
    q rounding up to 1 gives (2**30, exponent + 1). Below 2**-32 every product rounds to 0: (0, 0), as in TFLite.
    TFLite rounds the ratio to a double first; the exact ratio gives the same M0 except within 2**-53 of a tie."""
    real = Fraction(real)
    if real <= 0:
        raise ModelError(f"a requantization multiplier must be positive, got {real}")
    exponent = real.numerator.bit_length() - real.denominator.bit_length()
    while real >= Fraction(2) ** exponent:          # until 2**(exponent - 1) <= real < 2**exponent
        exponent += 1
    while real < Fraction(2) ** (exponent - 1):
        exponent -= 1
    q2 = real * Fraction(2) ** (MULTIPLIER_BITS - exponent)          # in [2**30, 2**31)
    m0 = int((q2 + Fraction(1, 2)) // 1)
    if m0 == 1 << MULTIPLIER_BITS:
        m0, exponent = m0 >> 1, exponent + 1
    if exponent < -MULTIPLIER_BITS:
        return 0, 0
    if exponent > MAX_EXPONENT:
        raise ModelError(f"a requantization multiplier of {float(real):.6g} (2**{exponent - 1} or more) makes no "
                         "sense for a quantized model")
    return m0, exponent


def multiply_by_quantized_multiplier(x: np.ndarray, m0: int, exponent: int) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier on exact integers (int64 or Python ints):
    SaturatingRoundingDoublingHighMul(x * 2**max(exponent, 0), M0) = floor((x * 2**left * M0 + 2**30) / 2**31),
    i.e. the product / 2**31 rounded half toward +infinity (gemmlowp's nudge and truncating division do exactly
    that; it never saturates, M0 being positive), then RoundingDivideByPOT(., max(-exponent, 0)): a shift rounded
    half away from zero. For |x * 2**left| < 2**31 this is TFLite's int32 kernel bit for bit."""
    left, right = max(exponent, 0), max(-exponent, 0)
    p = x * (m0 << left)
    high = shift_round(p, MULTIPLIER_BITS, "HALF_POS_INF")
    return shift_round(high, right, "HALF_UP")


def requantized_range(lo: int, hi: int, m0: int, exponent: int) -> tuple[int, int]:
    """The results of multiply_by_quantized_multiplier for inputs in [lo, hi] (monotone: the ends' results)."""
    ends = multiply_by_quantized_multiplier(np.array([lo, hi], dtype=object), m0, exponent)
    return int(ends[0]), int(ends[1])


# ---- a model input's float32 quantization ---------------------------------------------------------------------------
def quantize_float32(x: np.ndarray, scale: float, zero_point: int, zero_point_first: bool, rounding: str,
                     lo: int, hi: int) -> np.ndarray:
    """Float inputs -> centered codes (q - zero_point) in [lo, hi], as the model's float32 executor computes them.

    The input is taken as float32 (what onnxruntime and qonnx receive) and divided by the float32 scale in float32
    (one IEEE division, correctly rounded: onnxruntime's QuantizeLinear and qonnx's Quant both divide). ONNX
    QuantizeLinear rounds that quotient half to even and then adds the zero point (zero_point_first False); a QONNX
    Quant first adds the zero point in float32 and rounds the sum with its rounding mode (zero_point_first True).
    The rounding itself is exact on the float32 value. Clamping before or after the rounding is the same (integer
    bounds, monotone rounding)."""
    x = np.asarray(x)
    if np.isnan(x).any():
        raise ModelError("input holds NaN, which has no fixed-point value")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        v = np.asarray(x, dtype=np.float32) / np.float32(scale)
        if zero_point_first:
            v = (v + np.float32(zero_point)).astype(np.float32)
    r = round_float(v.astype(np.float64), rounding)
    offset = zero_point if zero_point_first else 0
    return (np.clip(r, lo + offset, hi + offset) - offset).astype(np.int64)
