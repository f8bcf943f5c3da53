"""Elementwise IR ops beyond Relu and Add: Clip, LeakyRelu, Mul by a constant, lookup tables (Sigmoid, Tanh,
HardSigmoid, HardSwish, ...) and Softmax in the hls4ml style (exp table, sum, reciprocal table), each exact on
integer codes. A constant operand broadcasts against the trailing axes (numpy rules), e.g. one value per channel.
"""
from __future__ import annotations

import numpy as np

from .graph import Graph, Node
from .ops import OpCost, OpDef, as_exact, register
from .types import INT64_SAFE_BITS, FixedType, shift_round


def const_operand(g: Graph, node: Node) -> tuple[np.ndarray, FixedType]:
    t = g.tensor(node.inputs[1])
    return np.asarray(t.data), t.type


@register
class Clip(OpDef):
    """Clamp the codes to [lo, hi] (attrs, integer codes at the input's fraction): ReLU6, Clip(min, max)."""

    name = "Clip"

    def infer(self, g, node):
        t = g.tensor(node.inputs[0]).type
        lo, hi = max(t.min_int, node.attrs["lo"]), min(t.max_int, node.attrs["hi"])
        return FixedType.covering(min(lo, 0), max(hi, 0), t.frac).with_modes(rounding=t.rounding, overflow="SAT")

    def evaluate(self, g, node, args):
        out_t = g.tensor(node.output).type
        return out_t.saturate(as_exact(args[0], out_t), node.attrs["lo"], node.attrs["hi"])


@register
class LeakyRelu(OpDef):
    """x where x >= 0, x * alpha below: alpha is the exact constant alpha_code * 2**-alpha_frac (attrs), so the
    output has the input's fraction plus alpha_frac."""

    name = "LeakyRelu"

    def infer(self, g, node):
        t = g.tensor(node.inputs[0]).type
        a, af = node.attrs["alpha_code"], node.attrs["alpha_frac"]
        frac = t.frac + af
        cands = [t.max_int << af, t.min_int * a, 0]
        return FixedType.covering(min(cands), max(cands), frac)

    def cost(self, g, node):
        out = g.tensor(node.output)
        return OpCost(mults=out.size, outputs=out.size, out_bits=out.size * out.type.width)

    def evaluate(self, g, node, args):
        out_t = g.tensor(node.output).type
        x = as_exact(args[0], out_t)
        a, af = node.attrs["alpha_code"], node.attrs["alpha_frac"]
        return np.where(x >= 0, x * (1 << af), x * a)


@register
class Mul(OpDef):
    """x times a constant that broadcasts against x's trailing axes (one per channel, or one for all). Exact."""

    name = "Mul"

    def infer(self, g, node):
        t = g.tensor(node.inputs[0]).type
        c, ct = const_operand(g, node)
        cands = [int(v) * e for v in (int(np.min(c)), int(np.max(c))) for e in (t.min_int, t.max_int)] + [0]
        return FixedType.covering(min(cands), max(cands), t.frac + ct.frac)

    def cost(self, g, node):
        out = g.tensor(node.output)
        return OpCost(mults=out.size, outputs=out.size, out_bits=out.size * out.type.width)

    def evaluate(self, g, node, args):
        out_t = g.tensor(node.output).type
        c, _ = const_operand(g, node)
        return as_exact(args[0], out_t) * as_exact(c, out_t)


@register
class Table(OpDef):
    """A lookup table over every code of the input type: y = table[x - in_lo] (attrs table, in_lo; the output
    type is attr out_type). Tables are computed once, when the graph is lowered (see ir/tables.py)."""

    name = "Table"

    def infer(self, g, node):
        return node.attrs["out_type"]

    def cost(self, g, node):
        out = g.tensor(node.output)
        return OpCost(outputs=out.size, out_bits=out.size * out.type.width)

    def evaluate(self, g, node, args):
        table = np.asarray(node.attrs["table"], dtype=np.int64)
        return table[np.asarray(args[0], dtype=np.int64) - node.attrs["in_lo"]]


@register
class Softmax(OpDef):
    """Softmax over the last axis in integers, as hls4ml's stable softmax computes it:
    d = x - max(x) (clamped to the exp table's first code), e = EXP[d], s = sum(e) (exact), s requantized FLOOR to
    the reciprocal table's input type (clamped to its range), r = INV[s], y = e * r rounded (ROUND) and clamped to
    the output type. attrs: exp_table/exp_lo/exp_type, inv_table/inv_lo/inv_in_type/inv_type, out_type."""

    name = "Softmax"

    def infer(self, g, node):
        return node.attrs["out_type"]

    def cost(self, g, node):
        out = g.tensor(node.output)
        n = out.shape[-1]
        rows = out.size // n
        return OpCost(mults=out.size, adds=rows * (2 * n - 2) + out.size, outputs=out.size,
                      out_bits=out.size * out.type.width)

    def evaluate(self, g, node, args):
        a = node.attrs
        x = np.asarray(args[0], dtype=np.int64)
        d = x - x.max(axis=-1, keepdims=True)
        d = np.maximum(d, a["exp_lo"])
        e = np.asarray(a["exp_table"], dtype=np.int64)[d - a["exp_lo"]]
        s = e.sum(axis=-1, keepdims=True)
        exp_t, inv_in, inv_t, out_t = a["exp_type"], a["inv_in_type"], a["inv_type"], a["out_type"]
        sq = shift_round(s, exp_t.frac - inv_in.frac, "FLOOR")
        sq = np.clip(sq, a["inv_lo"], inv_in.max_int)
        r = np.asarray(a["inv_table"], dtype=np.int64)[sq - a["inv_lo"]]
        shift = exp_t.frac + inv_t.frac - out_t.frac
        if exp_t.width + inv_t.width + max(-shift, 0) > INT64_SAFE_BITS:  # a fine output grid: e * r beyond int64
            e, r = e.astype(object), r.astype(object)
        y = shift_round(e * r, shift, "ROUND")
        if not out_t.fits_int64():
            y = as_exact(y, out_t)
        return as_exact(out_t.saturate(y), out_t)   # clamped before it is narrowed


def softmax_sum_type(node: Node, n: int) -> FixedType:
    """The type of the exact sum of n exponentials (for backends that keep it)."""
    e = node.attrs["exp_type"]
    return FixedType.covering(0, e.max_int * n, e.frac)
