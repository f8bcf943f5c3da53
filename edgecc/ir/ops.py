"""Every hardware op, defined once: its exact output type and its integer semantics (the golden model's view).

Values are integer codes (numpy int64, or Python ints in object arrays when a type is wider than int64 holds);
a tensor of type t with code q stands for q * 2**-t.frac (times its scale factor where a model's scale is not a
power of two: ir/scales.py). Each op computes exactly: nothing here rounds except Quantize, which rounds and
saturates as its attributes say, and Requantize (TFLite's integer requantization between such scales).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError, UnsupportedOp
from .graph import Graph, Node
from .scales import multiply_by_quantized_multiplier, quantize_float32
from .types import INT64_SAFE_BITS, FixedType, shift_round


@dataclass(frozen=True)
class OpCost:
    """What an op computes per inference, independent of how a backend builds it: the scheduler's raw material.

    mults: products by a nonzero constant or of two variables; adds: two-input additions (a sum of k terms is
    k - 1); outputs: output elements; out_bits: output bits (elements x width)."""

    mults: int = 0
    adds: int = 0
    outputs: int = 0
    out_bits: int = 0


class OpDef:
    """An IR op: `infer` gives the output type from the input types, `evaluate` the output codes, `cost` the work."""

    name = ""

    def infer(self, g: Graph, node: Node) -> FixedType:
        raise NotImplementedError

    def evaluate(self, g: Graph, node: Node, args: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def cost(self, g: Graph, node: Node) -> OpCost:
        """Elementwise by default: no arithmetic beyond one output per element."""
        out = g.tensor(node.output)
        return OpCost(outputs=out.size, out_bits=out.size * out.type.width)


OPS: dict[str, OpDef] = {}


def register(cls):
    OPS[cls.name] = cls()
    return cls


def op_def(node: Node) -> OpDef:
    try:
        return OPS[node.op]
    except KeyError:
        raise UnsupportedOp(f"IR op {node.op} has no definition (known: {', '.join(sorted(OPS))})", node.name)


def as_exact(q: np.ndarray, t: FixedType) -> np.ndarray:
    """Codes in the array type that holds `t` exactly: int64 when it fits, Python ints otherwise."""
    if t.fits_int64():
        return q.astype(np.int64) if q.dtype != np.int64 else q
    return q if q.dtype == object else q.astype(object)


def _align(q: np.ndarray, from_frac: int, to_frac: int) -> np.ndarray:
    return shift_round(q, from_frac - to_frac, "FLOOR")  # to_frac >= from_frac: an exact left shift


def _interval_of_products(w: np.ndarray, t: FixedType) -> tuple[np.ndarray, np.ndarray]:
    """Per-column [min, max] of sum_i w[i, j] * x[i] over every x[i] of type t (exact Python ints)."""
    w = w.astype(object)
    a, b = w * t.min_int, w * t.max_int
    lo = np.where(a < b, a, b).sum(axis=0)
    hi = np.where(a < b, b, a).sum(axis=0)
    return lo, hi


@register
class Dense(OpDef):
    """y[..., j] = sum_i x[..., i] * W[i, j] + b[j], then max(., 0) when activation is relu. Exact."""

    name = "Dense"

    @staticmethod
    def parts(g: Graph, node: Node):
        x_t = g.tensor(node.inputs[0]).type
        w = g.tensor(node.inputs[1])
        b = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
        prod_frac = x_t.frac + w.type.frac
        acc_frac = max(prod_frac, b.type.frac) if b is not None else prod_frac
        return x_t, w, b, prod_frac, acc_frac

    def product_sum_type(self, g: Graph, node: Node) -> FixedType:
        """The narrowest type holding every partial sum of x * W alone (no bias), at the products' fraction."""
        x_t, w, _, prod_frac, _ = self.parts(g, node)
        lo, hi = _interval_of_products(w.data, x_t)
        return FixedType.covering(min(0, int(min(lo))), max(0, int(max(hi))), prod_frac)

    def accumulator_type(self, g: Graph, node: Node) -> FixedType:
        """The narrowest type that holds every partial and final sum of this layer (all inputs hold 0)."""
        x_t, w, b, prod_frac, acc_frac = self.parts(g, node)
        lo, hi = _interval_of_products(w.data, x_t)
        lo, hi = lo * (1 << (acc_frac - prod_frac)), hi * (1 << (acc_frac - prod_frac))
        if b is not None:
            bias = np.array([int(v) << (acc_frac - b.type.frac) for v in b.data.ravel()], dtype=object)
            lo, hi = lo + bias, hi + bias
        lo_all, hi_all = min(0, int(min(lo))), max(0, int(max(hi)))
        return FixedType.covering(lo_all, hi_all, acc_frac)

    def infer(self, g, node):
        acc = self.accumulator_type(g, node)
        return relu_type(acc) if node.attrs.get("activation") == "relu" else acc

    def cost(self, g, node):
        x, w = g.tensor(node.inputs[0]), g.tensor(node.inputs[1])
        outer = x.size // w.shape[0]
        nonzero = np.count_nonzero(np.asarray(w.data) != 0, axis=0)  # per output column
        has_bias = len(node.inputs) > 2
        out = g.tensor(node.output)
        return OpCost(mults=int(nonzero.sum()) * outer,
                      adds=int(np.maximum(nonzero + has_bias - 1, 0).sum()) * outer,
                      outputs=out.size, out_bits=out.size * out.type.width)

    def evaluate(self, g, node, args):
        x_t, w, b, prod_frac, acc_frac = self.parts(g, node)
        acc_t = self.accumulator_type(g, node)
        x = as_exact(args[0], acc_t)
        acc = x @ as_exact(w.data, acc_t)
        acc = _align(acc, prod_frac, acc_frac)
        if b is not None:
            acc = acc + _align(as_exact(b.data, acc_t), b.type.frac, acc_frac)
        if node.attrs.get("activation") == "relu":
            acc = np.maximum(acc, 0) if acc.dtype != object else np.where(acc > 0, acc, 0)
        return acc


def relu_type(t: FixedType) -> FixedType:
    if not t.signed:
        return t
    return FixedType(max(t.width - 1, 1), max(t.width - 1, 1) - t.frac, False)


@register
class Relu(OpDef):
    name = "Relu"

    def infer(self, g, node):
        return relu_type(g.tensor(node.inputs[0]).type)

    def evaluate(self, g, node, args):
        q = args[0]
        return np.maximum(q, 0) if q.dtype != object else np.where(q > 0, q, 0)


@register
class Add(OpDef):
    """Elementwise sum of two tensors of one shape, or of a tensor and a constant that broadcasts against its
    trailing axes (one value per channel, or one for all)."""

    name = "Add"

    def infer(self, g, node):
        a, b = (g.tensor(t).type for t in node.inputs)
        frac = max(a.frac, b.frac)
        lo = (a.min_int << (frac - a.frac)) + (b.min_int << (frac - b.frac))
        hi = (a.max_int << (frac - a.frac)) + (b.max_int << (frac - b.frac))
        return FixedType.covering(lo, hi, frac)

    def cost(self, g, node):
        out = g.tensor(node.output)
        return OpCost(adds=out.size, outputs=out.size, out_bits=out.size * out.type.width)

    def evaluate(self, g, node, args):
        out_t = g.tensor(node.output).type
        (a_t, b_t) = (g.tensor(t).type for t in node.inputs)
        a = _align(as_exact(args[0], out_t), a_t.frac, out_t.frac)
        b = _align(as_exact(args[1], out_t), b_t.frac, out_t.frac)
        return a + b


@register
class Reshape(OpDef):
    """Same codes in C order, another shape."""

    name = "Reshape"

    def infer(self, g, node):
        return g.tensor(node.inputs[0]).type

    def evaluate(self, g, node, args):
        return args[0].reshape((args[0].shape[0],) + tuple(g.tensor(node.output).shape))


@register
class Quantize(OpDef):
    """Round to the output type's grid with `rounding`, then clamp to [lo, hi] (or wrap when overflow is WRAP).

    The input is a fixed-point tensor, or a float graph input (the design's input boundary, where attr `perm`,
    if any, orders the port's axes: codes[i...] = quantized x[perm...]). At the boundary, attrs `scale`,
    `zero_point` and `zero_point_first`, where present, say the model's float32 recipe (a scale that is not a power
    of two, or a QONNX zero point): see scales.quantize_float32.
    lo/hi are integer codes: the type's range, or a narrower one (QDQ zero points, QONNX narrow unsigned).
    Codes are centered: a zero point z is subtracted from the model's integers (q - z), so a code of 0 is the value
    0 and a zero point only moves lo/hi.
    """

    name = "Quantize"

    def infer(self, g, node):
        return g.tensor(node.output).type  # fixed by the quantizer itself

    def evaluate(self, g, node, args):
        out_t = g.tensor(node.output).type
        in_t = g.tensor(node.inputs[0]).type
        rounding = node.attrs["rounding"]
        lo, hi = int(node.attrs["lo"]), int(node.attrs["hi"])
        if in_t is None:
            try:
                if "scale" in node.attrs:
                    q = quantize_float32(args[0], node.attrs["scale"], int(node.attrs.get("zero_point", 0)),
                                         bool(node.attrs.get("zero_point_first")), rounding, lo, hi)
                else:
                    q = out_t.with_modes(rounding=rounding).quantize(args[0], lo, hi)
            except ModelError as e:
                raise ModelError(str(e), node.name) from None
            perm = node.attrs.get("perm")   # the design's input port takes the codes in this axis order
            return np.transpose(q, (0,) + tuple(p + 1 for p in perm)) if perm else q
        q = shift_round(as_exact(args[0], _widest(in_t, out_t)), in_t.frac - out_t.frac, rounding)
        if out_t.overflow == "WRAP":
            return out_t.wrap(q)
        return out_t.saturate(q, lo, hi)


@register
class Requantize(OpDef):
    """Integer requantization for a scale ratio that is not a power of two, as TFLite defines it: per channel c of
    the last axis (attrs `multiplier` and `exponent`: one value, or one per channel),
        y = clamp(RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2**max(e, 0), M0), max(-e, 0)), lo, hi)
    with M0 = multiplier[c] in [2**30, 2**31) (or 0) and e = exponent[c]: y ~ x * M0 * 2**(e - 31). The first
    rounding is floor((p + 2**30) / 2**31) of the exact product p (half toward +infinity, gemmlowp's), the second
    a shift rounded half away from zero (see scales.multiply_by_quantized_multiplier); both on exact integers of any
    width (TFLite's int32 kernel is the case |x * 2**left| < 2**31). lo/hi: codes of the output type (centered: the
    output zero point is in them). The output type is the quantizer's.

    (M0, e) come from the exact ratio of the real steps, in/out (scales.quantized_multiplier): before types are
    inferred the node holds that ratio of the scale factors (attr `ratio`), resolved once the input's fraction is
    known (ir/passes/infer_accumulators.py)."""

    name = "Requantize"

    def infer(self, g, node):
        return g.tensor(node.output).type  # fixed by the quantizer

    def cost(self, g, node):
        out = g.tensor(node.output)
        return OpCost(mults=out.size, adds=2 * out.size, outputs=out.size, out_bits=out.size * out.type.width)

    @staticmethod
    def channels(node: Node, n: int) -> list[tuple[int, int]]:
        """(M0, exponent) of each of the n channels."""
        m, e = node.attrs["multiplier"], node.attrs["exponent"]
        return [(int(m[c % len(m)]), int(e[c % len(e)])) for c in range(n)]

    @staticmethod
    def product_bits(g: Graph, node: Node) -> int:
        """Bits of the widest product x * 2**left * M0 (signed)."""
        in_t = g.tensor(node.inputs[0]).type
        left = max(0, max(int(e) for e in node.attrs["exponent"]))
        return in_t.width + (0 if in_t.signed else 1) + left + 31

    def evaluate(self, g, node, args):
        out_t = g.tensor(node.output).type
        x = np.asarray(args[0])
        wide = self.product_bits(g, node) + 1 > INT64_SAFE_BITS
        x = x.astype(object) if wide else x.astype(np.int64)
        channels = x.shape[-1]
        y = np.empty(x.shape, dtype=x.dtype)
        per_channel = self.channels(node, channels)
        for m0, e in sorted(set(per_channel)):
            cols = [c for c in range(channels) if per_channel[c] == (m0, e)]
            y[..., cols] = multiply_by_quantized_multiplier(x[..., cols], m0, e)
        return as_exact(out_t.saturate(y, int(node.attrs["lo"]), int(node.attrs["hi"])), out_t)


def _widest(a: FixedType, b: FixedType) -> FixedType:
    shift = max(0, b.frac - a.frac)
    return FixedType(a.width + shift + 1, a.integer + 1, True) if a.width + shift + 1 > b.width else b



# the other op families register themselves on import (they build on the helpers above)
from . import ops_pointwise, ops_spatial  # noqa: E402,F401
