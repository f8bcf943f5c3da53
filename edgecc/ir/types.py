"""Exact fixed-point types: one frozen value that quantizes numpy arrays and names itself in C, HLS and Verilog."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from ..errors import ModelError

# Rounding modes, named as QONNX names them, plus the two ap_fixed modes QONNX has no name for.
ROUNDING_MODES = ("FLOOR", "CEIL", "ROUND", "UP", "DOWN", "HALF_UP", "HALF_DOWN", "HALF_POS_INF", "HALF_NEG_INF")
OVERFLOW_MODES = ("WRAP", "SAT", "SAT_SYM")

# ap_fixed quantization mode for each rounding mode; None where Vitis has no such mode.
AP_QUANT_MODE = {
    "FLOOR": "AP_TRN", "DOWN": "AP_TRN_ZERO", "ROUND": "AP_RND_CONV", "HALF_UP": "AP_RND_INF",
    "HALF_DOWN": "AP_RND_ZERO", "HALF_POS_INF": "AP_RND", "HALF_NEG_INF": "AP_RND_MIN_INF",
    "CEIL": None, "UP": None,
}
_AP_TO_ROUNDING = {v: k for k, v in AP_QUANT_MODE.items() if v}
_ROUNDING_ALIASES = {"TRN": "FLOOR", "RND_CONV": "ROUND", "RND": "HALF_POS_INF", "RND_INF": "HALF_UP",
                     "RND_ZERO": "HALF_DOWN", "TRN_ZERO": "DOWN", "RND_MIN_INF": "HALF_NEG_INF"}

# Numpy int64 holds any value of at most this many bits with room for one addition or shift.
INT64_SAFE_BITS = 62
# float64 holds every integer up to 2**53 and any value of at most 53 significant bits whose exponent is in range.
FLOAT64_BITS = 53
FLOAT64_MAX_EXP = 1024   # every float64 is below 2**1024 in magnitude
FLOAT64_MIN_EXP = -1074  # the smallest nonzero float64 is 2**-1074


@dataclass(frozen=True, order=True)
class FixedType:
    """A two's complement (or unsigned) fixed-point number: `width` bits of which `integer` are left of the point.

    The stored integer q stands for the value q * 2**-frac, frac = width - integer (frac may be negative,
    integer may exceed width). `rounding` and `overflow` say how a wider value is brought into this type.
    SAT_SYM saturates symmetrically: a signed type never holds its most negative code (QONNX `narrow`).
    """

    width: int
    integer: int
    signed: bool = True
    rounding: str = "FLOOR"
    overflow: str = "WRAP"

    def __post_init__(self):
        if self.width < 1:
            raise ModelError(f"fixed-point width must be at least 1, got {self.width}")
        if self.rounding not in ROUNDING_MODES:
            raise ModelError(f"unknown rounding mode {self.rounding!r}; known: {', '.join(ROUNDING_MODES)}")
        if self.overflow not in OVERFLOW_MODES:
            raise ModelError(f"unknown overflow mode {self.overflow!r}; known: {', '.join(OVERFLOW_MODES)}")

    # ---- ranges -------------------------------------------------------------------------------------
    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def min_int(self) -> int:
        if not self.signed:
            return 0
        low = -(1 << (self.width - 1))
        return low + 1 if self.overflow == "SAT_SYM" and self.width > 1 else low

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def step(self) -> float:
        return 2.0 ** -self.frac

    def with_modes(self, rounding: str | None = None, overflow: str | None = None) -> "FixedType":
        return replace(self, rounding=rounding or self.rounding, overflow=overflow or self.overflow)

    def plain(self) -> "FixedType":
        """The same bits with default modes: a container that holds values and never rounds by itself."""
        return replace(self, rounding="FLOOR", overflow="WRAP")

    @staticmethod
    def covering(lo: int, hi: int, frac: int) -> "FixedType":
        """The narrowest type holding every integer code in [lo, hi] at `frac` fractional bits."""
        lo, hi = int(min(lo, 0)), int(max(hi, 0))
        if lo < 0:
            width = max(hi.bit_length(), (-lo - 1).bit_length()) + 1
            return FixedType(width, width - frac, True)
        width = max(hi.bit_length(), 1)
        return FixedType(width, width - frac, False)

    def fits_int64(self) -> bool:
        return self.width <= INT64_SAFE_BITS

    # ---- numpy views -------------------------------------------------------------------------------
    def int_dtype(self):
        return np.int64 if self.fits_int64() else object

    def to_float(self, q: np.ndarray) -> np.ndarray:
        """Exact float64 values of integer codes; a ModelError where float64 cannot hold a value exactly."""
        q = np.asarray(q)
        if self.width <= FLOAT64_BITS and self.frac <= 1022 and self.integer <= 1023:
            # at most 53 significant bits and a normal exponent: the product is exact
            return q.astype(np.float64) * self.step
        return self._to_float_checked(q)

    def _to_float_checked(self, q: np.ndarray) -> np.ndarray:
        ints = [int(v) for v in q.ravel()]
        mantissas = np.array([_float_of_int(v) for v in ints], dtype=np.float64)
        with np.errstate(over="ignore", under="ignore"):
            values = np.ldexp(mantissas, -self.frac)
            # scaling back recovers the mantissa unless the value left float64's exponent range on the way
            exact = np.isfinite(values) & (np.ldexp(values, self.frac) == mantissas)
        if not exact.all():
            bad = [v for v, ok in zip(ints, exact) if not ok]
            bits = max(_significant_bits(v) for v in bad)
            if bits > FLOAT64_BITS:
                need = f"need up to {bits} significant bits (float64 holds {FLOAT64_BITS})"
            else:
                low = min(_lowest_bit(v) for v in bad) - self.frac
                high = max(abs(v).bit_length() for v in bad) - self.frac
                need = (f"span 2**{low} to 2**{high}, beyond float64's exponents "
                        f"(2**{FLOAT64_MIN_EXP} to 2**{FLOAT64_MAX_EXP})")
            raise ModelError(f"{len(bad)} value(s) of {self} {need}, so float64 cannot hold them exactly; "
                             "use the integer codes (or to_fractions) instead")
        return values.reshape(q.shape)

    def to_fractions(self, q: np.ndarray) -> np.ndarray:
        """Exact values of integer codes as Fractions (an object array), at any width and exponent."""
        q = np.asarray(q)
        scale = Fraction(1, 1 << self.frac) if self.frac >= 0 else Fraction(1 << -self.frac)
        out = np.empty(q.shape, dtype=object)
        out.ravel()[:] = [Fraction(int(v)) * scale for v in q.ravel()]
        return out

    def quantize(self, x: np.ndarray, lo: int | None = None, hi: int | None = None) -> np.ndarray:
        """Float values -> integer codes of this type: scale exactly, round with this type's rounding, then
        clamp to [lo, hi] (default: the type's range) or wrap when the overflow mode is WRAP. Exact at any width."""
        x = np.asarray(x, dtype=np.float64)
        if np.isnan(x).any():
            raise ModelError("input holds NaN, which has no fixed-point value")
        rounded = round_float(scale_by_power_of_two(x, self.frac), self.rounding)
        if self.overflow == "WRAP":
            return self._wrap_rounded(rounded, x)
        lo = self.min_int if lo is None else int(lo)
        hi = self.max_int if hi is None else int(hi)
        if self.fits_int64() and max(abs(lo), abs(hi)) <= 1 << FLOAT64_BITS:
            return np.clip(rounded, lo, hi).astype(np.int64)  # float64 holds both bounds: the common, fast case
        codes = clamp_to_ints(rounded, lo, hi)
        return codes.astype(np.int64) if self.fits_int64() else codes

    def _wrap_rounded(self, rounded: np.ndarray, x: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(x)):
            raise ModelError("an infinite input cannot wrap into a fixed-point type")
        if self.fits_int64() and np.all(np.abs(rounded) < 2.0 ** INT64_SAFE_BITS):
            return self.wrap(rounded.astype(np.int64))
        # an infinite `rounded` comes from a finite x whose scaled value overflowed float64: it is an integer
        ints = [int(r) if np.isfinite(r) else _scaled_integer(v, self.frac)
                for r, v in zip(rounded.ravel().tolist(), x.ravel().tolist())]
        q = self.wrap(np.array(ints, dtype=object).reshape(x.shape))
        return q.astype(np.int64) if self.fits_int64() else q

    def wrap(self, q: np.ndarray) -> np.ndarray:
        """Two's complement wrap-around into this type's width."""
        mod = 1 << self.width
        off = (1 << (self.width - 1)) if self.signed else 0
        if self.fits_int64() and q.dtype != object:
            return ((q + off) % mod) - off
        return np.array([((int(v) + off) % mod) - off for v in np.ravel(q)], dtype=object).reshape(np.shape(q))

    def saturate(self, q: np.ndarray, lo: int | None = None, hi: int | None = None) -> np.ndarray:
        lo = self.min_int if lo is None else lo
        hi = self.max_int if hi is None else hi
        if q.dtype == object:
            return np.array([min(max(int(v), lo), hi) for v in q.ravel()], dtype=object).reshape(q.shape)
        return np.clip(q, lo, hi)

    # ---- names in generated code --------------------------------------------------------------------
    def ap_type(self, with_modes: bool = True) -> str:
        """`ap_fixed<W,I,Q,O>` / `ap_ufixed<...>`; modes only where they differ from the defaults."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        q = AP_QUANT_MODE[self.rounding] if with_modes else "AP_TRN"
        o = {"WRAP": "AP_WRAP", "SAT": "AP_SAT", "SAT_SYM": "AP_SAT_SYM"}[self.overflow] if with_modes else "AP_WRAP"
        if q is None:
            raise ValueError(f"rounding {self.rounding} has no ap_fixed mode")
        if q == "AP_TRN" and o == "AP_WRAP":
            return f"{base}<{self.width},{self.integer}>"
        return f"{base}<{self.width},{self.integer},{q},{o}>"

    def c_int_type(self) -> str:
        """The smallest stdint type holding the codes (for MCU C)."""
        for bits in (8, 16, 32, 64):
            if self.width <= bits:
                return f"int{bits}_t" if self.signed else f"uint{bits}_t"
        raise ValueError(f"{self} is wider than 64 bits")

    def __str__(self) -> str:
        name = "fixed" if self.signed else "ufixed"
        extra = "" if (self.rounding, self.overflow) == ("FLOOR", "WRAP") else f",{self.rounding},{self.overflow}"
        return f"{name}<{self.width},{self.integer}{extra}>"

    def to_json(self) -> dict:
        return {"width": self.width, "integer": self.integer, "signed": self.signed,
                "rounding": self.rounding, "overflow": self.overflow}

    @staticmethod
    def from_json(d: dict) -> "FixedType":
        return FixedType(int(d["width"]), int(d["integer"]), bool(d["signed"]), d["rounding"], d["overflow"])


_TYPE_RE = re.compile(r"^\s*(ap_)?(u?)fixed\s*<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*(\w+)\s*)?(?:,\s*(\w+)\s*)?>\s*$")


def parse_type(text: str, rounding: str = "FLOOR", overflow: str = "WRAP") -> FixedType:
    """The one place a type is read from text: `fixed<16,6>`, `ufixed<8,0,ROUND,SAT>`,
    `ap_fixed<8,3,AP_RND_CONV,AP_SAT>`.

    Modes the text leaves out take the given defaults (ap_fixed's own are FLOOR and WRAP)."""
    m = _TYPE_RE.match(str(text))
    if not m:
        raise ModelError(f"cannot read precision {text!r}: expected e.g. 'fixed<16,6>' or 'ufixed<8,3,ROUND,SAT>'")
    _, unsigned, width, integer, rnd, ovf = m.groups()
    if rnd:
        key = rnd.upper().removeprefix("AP_")
        rounding = _AP_TO_ROUNDING.get(rnd.upper(), _ROUNDING_ALIASES.get(key, key))
    overflow = ovf.upper().removeprefix("AP_") if ovf else overflow
    return FixedType(int(width), int(integer), not unsigned, rounding, overflow)


# ---- rounding, defined once for floats and once for integers -------------------------------------------
def scale_by_power_of_two(x: np.ndarray, frac) -> np.ndarray:
    """x * 2**frac in float64, ready for rounding: exact wherever float64 holds the result. An overflow gives
    +-inf (beyond every integer bound); an underflow keeps the smallest float of x's sign, which every rounding
    mode rounds to the same integer as the exact (tiny) value."""
    with np.errstate(over="ignore"):
        scaled = np.ldexp(x, frac)
    if np.any(np.asarray(frac) < 0):
        lost = (scaled == 0) & (x != 0)
        if lost.any():
            scaled = np.where(lost, np.copysign(np.float64(5e-324), x), scaled)
    return scaled


def round_float(v: np.ndarray, mode: str) -> np.ndarray:
    """Round float64 values to integers (as floats), to the integer the exact real value rounds to."""
    if mode == "ROUND":
        return np.round(v)  # rint: exact, ties to even
    if mode == "FLOOR":
        return np.floor(v)
    if mode == "CEIL":
        return np.ceil(v)
    if mode == "DOWN":
        return np.trunc(v)
    if mode == "UP":
        return np.where(v < 0, np.floor(v), np.ceil(v))
    if mode not in ("HALF_UP", "HALF_DOWN", "HALF_POS_INF", "HALF_NEG_INF"):
        raise ModelError(f"unknown rounding mode {mode!r}")
    # Compare with floor(v) + 0.5 rather than add 0.5 to v, which rounds (0.49999999999999994 + 0.5 == 1.0).
    # A v with a fraction is below 2**52, where floor(v) + 0.5 is exact; an integral v stays as it is.
    floor = np.floor(v)
    has_fraction = v != floor
    mid = floor + 0.5
    above = has_fraction & (v > mid)
    tie = has_fraction & (v == mid)
    if mode == "HALF_POS_INF":
        up = above | tie
    elif mode == "HALF_NEG_INF":
        up = above
    elif mode == "HALF_UP":
        up = above | (tie & (v > 0))
    else:  # HALF_DOWN
        up = above | (tie & (v < 0))
    return floor + up


def clamp_to_ints(rounded: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Integral floats (or +-inf) clamped to [lo, hi] as Python ints in an object array; exact for any bounds
    (Python compares an int with a float exactly, numpy would first round the int to float64)."""
    lo, hi = int(lo), int(hi)
    flat = [lo if v < lo else hi if v > hi else int(v) for v in np.ravel(rounded).tolist()]
    return np.array(flat, dtype=object).reshape(np.shape(rounded))


def _scaled_integer(v: float, frac: int) -> int:
    """v * 2**frac exactly, for frac >= 0 and a v whose scaled value is known to be an integer."""
    num, den = float(v).as_integer_ratio()  # den is a power of two
    return (num << frac) // den


def _lowest_bit(v: int) -> int:
    return (v & -v).bit_length() - 1


def _significant_bits(v: int) -> int:
    return abs(v).bit_length() - _lowest_bit(v) if v else 0


def _float_of_int(v: int) -> float:
    """float(v) when float64 holds v exactly, else NaN."""
    if _significant_bits(v) > FLOAT64_BITS or abs(v).bit_length() > FLOAT64_MAX_EXP:
        return float("nan")
    return float(v)


def shift_round(q: np.ndarray, shift: int, mode: str) -> np.ndarray:
    """Integer codes divided by 2**shift and rounded with `mode` (shift <= 0 multiplies exactly).

    Pure integer arithmetic (floor division and remainders), valid for int64 and Python-int object arrays.
    """
    if shift <= 0:
        if shift and q.dtype != object and -shift >= 63:  # 2**-shift is no int64: multiply as Python ints
            return q.astype(object) * (1 << -shift)
        return q * (1 << -shift) if shift else q
    if q.dtype != object and shift >= 63:  # 2**shift is no int64; every result is -1, 0 or 1
        return shift_round(np.asarray(q).astype(object), shift, mode).astype(np.int64)
    unit = 1 << shift
    half = unit >> 1
    floor = q // unit
    rem = q - floor * unit  # 0 <= rem < unit
    if mode == "FLOOR":
        return floor
    above = (rem != 0).astype(q.dtype) if q.dtype != object else np.array(rem != 0, dtype=object).astype(int)
    ceil = floor + above
    if mode == "CEIL":
        return ceil
    neg = q < 0
    if mode == "DOWN":
        return np.where(neg, ceil, floor)
    if mode == "UP":
        return np.where(neg, floor, ceil)
    tie = rem == half
    nearest = np.where(rem > half, ceil, floor)
    if mode == "ROUND":
        return np.where(tie, floor + (floor % 2), nearest)
    if mode == "HALF_POS_INF":
        return np.where(tie, ceil, nearest)
    if mode == "HALF_NEG_INF":
        return np.where(tie, floor, nearest)
    if mode == "HALF_UP":
        return np.where(tie, np.where(neg, floor, ceil), nearest)
    if mode == "HALF_DOWN":
        return np.where(tie, np.where(neg, ceil, floor), nearest)
    raise ModelError(f"unknown rounding mode {mode!r}")
