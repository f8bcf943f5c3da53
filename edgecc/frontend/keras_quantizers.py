"""QKeras quantizers (and Keras activation functions) in IR terms.

Weights, biases and normalization parameters: the layer's own quantizer is evaluated in TensorFlow on the values,
which gives the exact quantized values QKeras computes with (per-channel `auto_po2` scales included); nothing is
re-derived. Activations: a quantizer becomes the IR's exact Quant (round half to even, saturate, as tf.round and
the clip of QKeras), or a lookup table whose entries are the quantizer evaluated in TensorFlow on every code of its
(quantized) input, or, for QKeras's piecewise-linear sigmoid and tanh, exact Mul/Add/Quant.
"""
from __future__ import annotations

import numpy as np

from ..ir.quantizers import QuantSpec, exact_codes_of_floats
from ..ir.tables import MAX_TABLE_INPUT_BITS
from ..ir.types import FixedType

WEIGHT_QUANTIZERS = ("quantized_bits", "quantized_po2", "quantized_relu_po2", "quantized_relu")
TABLE_QUANTIZERS = ("quantized_tanh", "quantized_sigmoid", "quantized_po2", "quantized_relu_po2")
MAX_TABLE_OUTPUT_BITS = 32
# tf_keras activation functions by name -> the IR's float functions (a quantizer after them fixes their type)
FLOAT_FUNCTIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "hard_sigmoid": "HardSigmoid"}


def _is_po2(values) -> bool:
    v = np.asarray(values, dtype=np.float64)
    return bool(np.all(v > 0) and np.all(np.frexp(v)[0] == 0.5))


def _scalar(v) -> float:
    return float(np.asarray(v).ravel()[0]) if np.asarray(v).size == 1 else np.nan


def _int(v) -> int:
    return int(np.asarray(v).ravel()[0])


def _check_deterministic(ctx, q, what: str) -> None:
    if getattr(q, "use_stochastic_rounding", False):
        ctx.refuse(f"{what} {q} uses stochastic rounding, which has no fixed answer")
    noise = getattr(q, "qnoise_factor", 1.0)
    if _scalar(noise) != 1.0:
        ctx.refuse(f"{what} {q} has qnoise_factor {_scalar(noise)}: its output mixes in the unquantized value")


def quantized_values(ctx, quantizer, values: np.ndarray, what: str) -> np.ndarray:
    """The values a layer computes with: its quantizer evaluated in TensorFlow (float64, exact), or the float values
    themselves where it has none."""
    values = np.asarray(values, dtype=np.float32)
    if not quantizer:
        return values.astype(np.float64)
    kind = type(quantizer).__name__
    if kind not in WEIGHT_QUANTIZERS:
        ctx.refuse(f"{what} quantizer {kind} is not supported (supported: {', '.join(WEIGHT_QUANTIZERS)})")
    _check_deterministic(ctx, quantizer, f"{what} quantizer")
    if kind == "quantized_bits":
        _check_bits(ctx, quantizer, what)
    out = np.asarray(quantizer(ctx.tf.constant(values)), dtype=np.float64)
    scale = getattr(quantizer, "scale", None)
    if scale is not None and not _is_po2(np.asarray(scale, dtype=np.float64)):
        s = np.asarray(scale, dtype=np.float64).ravel()
        bad = s[np.argmax(~(np.frexp(s)[0] == 0.5))]
        ctx.refuse(f"{what} quantizer {quantizer} gives scales that are not powers of two (e.g. {bad:g}): "
                   "exact requantization for them is not implemented yet; use alpha='auto_po2' or alpha=1")
    if not np.all(np.isfinite(out)):
        ctx.refuse(f"{what} quantizer {quantizer} gives values that are not finite")
    ctx.quantized = True
    return out


def _check_bits(ctx, q, what: str) -> None:
    if q.bits - q.keep_negative <= 0:
        ctx.refuse(f"{what} quantizer {q} is a 1-bit sign (binary) quantizer, which is not supported")
    alpha = q.alpha
    if isinstance(alpha, str) and alpha not in ("auto", "auto_po2"):
        ctx.refuse(f"{what} quantizer {q} has an unknown alpha {alpha!r}")


# ---- activations ---------------------------------------------------------------------------------------------------
def apply_activation(ctx, act, x: str, suffix: str = "_act") -> str:
    """The IR tensor of activation `act` (a Keras function, a QKeras quantizer, or None) applied to IR tensor x."""
    if act is None:
        return x
    if isinstance(act, str):
        act = ctx.keras.activations.get(act)
    kind = type(act).__name__
    if kind in QUANTIZERS:
        _check_deterministic(ctx, act, "activation quantizer")
        ctx.quantized = True
        return QUANTIZERS[kind](ctx, act, x, suffix)
    if kind.startswith("quantized_") or kind in ("binary", "ternary", "bernoulli", "stochastic_binary",
                                                  "stochastic_ternary"):
        ctx.refuse(f"activation quantizer {kind} is not supported (supported: {', '.join(sorted(QUANTIZERS))})")
    name = getattr(act, "__name__", None)
    if not callable(act) or name is None:
        ctx.refuse(f"activation {act!r} is not supported")
    shape = ctx.shape(x)
    if name == "linear":
        return x
    if name == "relu":
        return ctx.add_node("Relu", [x], shape, suffix=suffix)
    if name == "softmax":
        return ctx.add_node("Softmax", [x], shape, suffix=suffix)
    if name in FLOAT_FUNCTIONS:
        attrs = {"function": FLOAT_FUNCTIONS[name]}
        if name == "hard_sigmoid":   # tf_keras: clip(0.2 x + 0.5, 0, 1)
            attrs.update(alpha=float(np.float32(0.2)), beta=0.5)
        return ctx.add_node("Activation", [x], shape, attrs, suffix=suffix)
    ctx.refuse(f"activation {name!r} is not supported (linear, relu, sigmoid, tanh, hard_sigmoid, softmax and the "
               f"QKeras quantizers {', '.join(sorted(QUANTIZERS))} are)")


def _quant(ctx, x: str, spec: QuantSpec, suffix: str) -> str:
    producer = ctx.graph.producer(x)
    if producer is not None and producer.op == "Reshape" and ctx.read_once(x):
        # quantize before the reshape (elementwise, so the same values): the quantizer then follows the op that
        # made the values, e.g. a global average, which takes it as its own rounding instead of rounding twice
        producer.inputs[0] = _quant(ctx, producer.inputs[0], spec, suffix)
        ctx.specs[x] = spec
        return x
    out = ctx.add_node("Quant", [x], ctx.shape(x), {"spec": spec}, suffix=suffix)
    ctx.specs[out] = spec
    return out


def _activation_bits(ctx, q, x: str, suffix: str) -> str:
    """quantized_bits: clip(round(x / step)) * step, step = 2**(integer - bits + keep_negative), round half even."""
    if isinstance(q.alpha, str):
        ctx.refuse(f"activation quantizer {q} with alpha={q.alpha!r} scales by each batch's own values, which "
                   "hardware cannot; use alpha=1 or None on activations")
    _check_bits(ctx, q, "activation")
    scale = 1.0 if q.alpha is None else _scalar(q.alpha)
    if not _is_po2(scale):
        ctx.refuse(f"activation quantizer {q} has alpha {q.alpha!r}: only a power of two is exact")
    bits, integer, keep_negative = int(q.bits), _int(q.integer), bool(q.keep_negative)
    unsigned = bits - keep_negative
    frac = unsigned - integer - (int(np.frexp(scale)[1]) - 1)
    lo = -(1 << unsigned) + int(bool(q.symmetric)) if keep_negative else 0
    spec = QuantSpec(frac, lo, (1 << unsigned) - 1, "ROUND", "SAT_SYM" if keep_negative and q.symmetric else "SAT")
    return _quant(ctx, x, spec, suffix)


def _activation_relu(ctx, q, x: str, suffix: str) -> str:
    """quantized_relu: step = 2**(integer - bits'), codes clip(round(x / step), 0, 2**bits' - 1) above zero, and
    clip(round(slope * x / step), -slope * 2**bits', 0) below with a negative slope (bits' = bits - 1 then)."""
    if q.use_sigmoid:
        ctx.refuse(f"activation quantizer {q} with use_sigmoid is not supported")
    if not q.is_quantized_clip and q.relu_upper_bound is not None:
        ctx.refuse(f"activation quantizer {q} with relu_upper_bound is not supported")
    slope = float(q.negative_slope)
    bits = int(q.bits) - (slope != 0.0)
    m = 1 << bits
    frac = bits - _int(q.integer)
    shape = ctx.shape(x)
    if slope == 0.0:
        return _quant(ctx, ctx.add_node("Relu", [x], shape, suffix=f"{suffix}_relu"),
                      QuantSpec(frac, 0, m - 1, "ROUND", "SAT"), suffix)
    if not _is_po2(slope) or slope > 1 or slope * m < 1:
        ctx.refuse(f"activation quantizer {q}: a negative_slope of {slope} is exact only as a power of two in "
                   f"[2**-{bits}, 1]")
    leaky = ctx.add_node("LeakyRelu", [x], shape, {"alpha_code": 1, "alpha_frac": 1 - int(np.frexp(slope)[1])},
                         suffix=f"{suffix}_leaky")
    return _quant(ctx, leaky, QuantSpec(frac, -int(slope * m), m - 1, "ROUND", "SAT"), suffix)


def _activation_table(ctx, q, x: str, suffix: str) -> str:
    """A table over every code of x's (quantized) type, of the quantizer evaluated in TensorFlow; without such an
    input, QKeras's piecewise-linear sigmoid and tanh as exact arithmetic."""
    kind = type(q).__name__
    spec = ctx.specs.get(x)
    if spec is not None and spec.out_type().width <= MAX_TABLE_INPUT_BITS:
        return _table(ctx, q, x, spec.out_type(), suffix)
    if kind in ("quantized_sigmoid", "quantized_tanh"):
        slope = _internal_sigmoid_slope(ctx, q)
        if slope is not None:
            return _linear_sigmoid(ctx, q, x, slope, suffix)
        why = "uses the real sigmoid/tanh"
    else:
        why = "is a power-of-two quantizer"
    ctx.refuse(f"activation quantizer {q} {why}: edgecc builds it as a table over its input's codes, so its input "
               f"must be a quantizer's output of at most {MAX_TABLE_INPUT_BITS} bits (put a QActivation("
               "quantized_bits(...)) before it)")


def _table(ctx, q, x: str, in_t: FixedType, suffix: str) -> str:
    codes = np.arange(in_t.min_int, in_t.max_int + 1, dtype=np.int64)
    xs = np.ldexp(codes.astype(np.float64), -in_t.frac).astype(np.float32)   # exact: at most 12 bits
    ys = np.asarray(q(ctx.tf.constant(xs)), dtype=np.float64)
    if not np.all(np.isfinite(ys)):
        ctx.refuse(f"activation quantizer {q} gives values that are not finite")
    out_codes, frac = exact_codes_of_floats(ys)
    lo, hi = int(out_codes.min()), int(out_codes.max())
    out_t = FixedType.covering(lo, hi, frac)
    if out_t.width > MAX_TABLE_OUTPUT_BITS:
        ctx.refuse(f"activation quantizer {q} gives values from {ys.min():g} to {ys.max():g}, which need "
                   f"{out_t.width} bits as one fixed-point type (at most {MAX_TABLE_OUTPUT_BITS} are supported)")
    out = ctx.add_node("Table", [x], ctx.shape(x),
                       {"function": type(q).__name__, "table": tuple(int(c) for c in out_codes),
                        "in_lo": int(in_t.min_int), "out_type": out_t.with_modes(rounding="ROUND", overflow="SAT")},
                       suffix=suffix)
    ctx.specs[out] = QuantSpec(frac, out_t.min_int, out_t.max_int, "ROUND", "SAT")
    return out


def _internal_sigmoid_slope(ctx, q) -> float | None:
    """The slope of QKeras's internal sigmoid clip(slope * x + 0.5, 0, 1) that q uses, or None for the real one."""
    if getattr(q, "use_real_sigmoid", False) or getattr(q, "use_real_tanh", False):
        return None
    from qkeras import quantizers as qk

    if qk._sigmoid is qk.hard_sigmoid:
        return 0.5
    if qk._sigmoid is qk.smooth_sigmoid:
        return 0.1875
    return None


def _linear_sigmoid(ctx, q, x: str, slope: float, suffix: str) -> str:
    """quantized_sigmoid: round(m * clip(slope x + 1/2, 0, 1)) clipped to [symmetric, m - 1], m = 2**bits;
    quantized_tanh: 2 sigmoid - 1 = clip(2 slope x, -1, 1), m = 2**(bits - 1), clipped to [-m + symmetric, m - 1].
    The clips at 0, 1 and -1 lie on the output grid, so the quantizer's own clip does theirs."""
    shape = ctx.shape(x)
    sym = int(bool(q.symmetric))
    if type(q).__name__ == "quantized_sigmoid":
        bits = int(q.bits)
        scaled = ctx.add_node("Mul", [x, ctx.add_const(f"{ctx.name}_slope", np.array(slope))], shape,
                              suffix=f"{suffix}_slope")
        shifted = ctx.add_node("Add", [scaled, ctx.add_const(f"{ctx.name}_half", np.array(0.5))], shape,
                               suffix=f"{suffix}_half")
        return _quant(ctx, shifted, QuantSpec(bits, sym, (1 << bits) - 1, "ROUND", "SAT"), suffix)
    bits = int(q.bits) - 1
    scaled = x
    if 2 * slope != 1.0:
        scaled = ctx.add_node("Mul", [x, ctx.add_const(f"{ctx.name}_slope", np.array(2 * slope))], shape,
                              suffix=f"{suffix}_slope")
    return _quant(ctx, scaled, QuantSpec(bits, -(1 << bits) + sym, (1 << bits) - 1, "ROUND",
                                         "SAT_SYM" if sym else "SAT"), suffix)


QUANTIZERS = {
    "quantized_bits": _activation_bits,
    "quantized_relu": _activation_relu,
    "quantized_tanh": _activation_table,
    "quantized_sigmoid": _activation_table,
    "quantized_po2": _activation_table,
    "quantized_relu_po2": _activation_table,
}
