"""Spatial IR ops on channels-last tensors ((W, C) or (H, W, C), batch stripped): Conv, MaxPool, AvgPool, Pad,
Concat, Resize (nearest) and Transpose, each with its exact type and integer semantics.

Window attributes, as ONNX writes them but per spatial axis of the IR tensor: `kernel`, `strides`, `dilations`,
and `pads` = (begin of each axis..., end of each axis...). Output position o along an axis reads input positions
o * stride + k * dilation - pad_begin for k < kernel; positions outside the input are zeros for Conv and AvgPool
(counted or not, as count_include_pad says) and are skipped by MaxPool.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from .graph import Graph, Node
from .ops import Dense, OpCost, OpDef, _align, as_exact, register, relu_type
from .types import FixedType


def out_size(n: int, kernel: int, stride: int, dilation: int, pad_begin: int, pad_end: int) -> int:
    return (n + pad_begin + pad_end - dilation * (kernel - 1) - 1) // stride + 1


def window_shape(in_spatial, attrs) -> tuple[int, ...]:
    rank = len(in_spatial)
    pads = attrs["pads"]
    return tuple(out_size(in_spatial[a], attrs["kernel"][a], attrs["strides"][a], attrs["dilations"][a], pads[a],
                          pads[rank + a]) for a in range(rank))


def window_indices(in_spatial, attrs) -> tuple[np.ndarray, np.ndarray]:
    """For every output position and kernel tap, the flat input position it reads (-1 where that is padding).

    Returns (index [P, K], valid [P, K]) with P output positions and K kernel taps, both in C order."""
    rank = len(in_spatial)
    out = window_shape(in_spatial, attrs)
    axes = []
    for a in range(rank):
        o = np.arange(out[a])[:, None] * attrs["strides"][a]
        k = np.arange(attrs["kernel"][a])[None, :] * attrs["dilations"][a]
        axes.append(o + k - attrs["pads"][a])                    # [out_a, kernel_a]
    idx = np.zeros((1, 1), dtype=np.int64)
    valid = np.ones((1, 1), dtype=bool)
    for a in range(rank):
        pos = axes[a]
        ok = (pos >= 0) & (pos < in_spatial[a])
        # combine: new index = old * n_a + pos, over the outer product of (positions, taps)
        idx = (idx[:, None, :, None] * in_spatial[a] + pos[None, :, None, :]).reshape(
            idx.shape[0] * pos.shape[0], idx.shape[1] * pos.shape[1])
        valid = (valid[:, None, :, None] & ok[None, :, None, :]).reshape(idx.shape)
    return np.where(valid, idx, -1), valid


def gather_windows(x: np.ndarray, in_spatial, attrs, fill=0) -> np.ndarray:
    """x [N, *spatial, C] -> windows [N, P, K, C] (padding positions hold `fill`)."""
    n, c = x.shape[0], x.shape[-1]
    flat = x.reshape(n, -1, c)
    idx, valid = window_indices(in_spatial, attrs)
    out = flat[:, np.where(valid, idx, 0), :]
    if not valid.all():
        out = out.copy()
        out[:, ~valid, :] = fill
    return out


def _spatial(g: Graph, node: Node) -> tuple[int, ...]:
    return tuple(g.tensor(node.inputs[0]).shape[:-1])


def _interval(w: np.ndarray, t: FixedType) -> tuple[np.ndarray, np.ndarray]:
    """Per-column [min, max] of sum_i w[i, j] * x[i] over x[i] in t (0 is in t: padding and dropped taps fit)."""
    w = w.astype(object)
    a, b = w * t.min_int, w * t.max_int
    return np.where(a < b, a, b).sum(axis=0), np.where(a < b, b, a).sum(axis=0)


@register
class Conv(OpDef):
    """y[p, co] = sum over taps k and the input channels ci of co's group of x[window(p, k), ci] * W[k, ci, co]
    + b[co], then max(., 0) when activation is relu. W is constant, [*kernel, C_in / groups, C_out]. Exact."""

    name = "Conv"

    parts = staticmethod(Dense.parts)   # input type, weights, bias, product and accumulator fractions

    @staticmethod
    def matrix(g: Graph, node: Node) -> np.ndarray:
        """The weights as one [taps * C_in_per_group, C_out] matrix (rows: tap-major, then channel)."""
        w = g.tensor(node.inputs[1])
        return np.asarray(w.data).reshape(-1, w.shape[-1])

    def product_sum_type(self, g, node) -> FixedType:
        x_t, _, _, prod_frac, _ = self.parts(g, node)
        lo, hi = _interval(self.matrix(g, node), x_t)
        return FixedType.covering(min(0, int(min(lo))), max(0, int(max(hi))), prod_frac)

    def accumulator_type(self, g, node) -> FixedType:
        x_t, _, b, prod_frac, acc_frac = self.parts(g, node)
        lo, hi = _interval(self.matrix(g, node), x_t)
        lo, hi = lo * (1 << (acc_frac - prod_frac)), hi * (1 << (acc_frac - prod_frac))
        if b is not None:
            bias = np.array([int(v) << (acc_frac - b.type.frac) for v in np.ravel(b.data)], dtype=object)
            lo, hi = lo + bias, hi + bias
        return FixedType.covering(min(0, int(min(lo))), max(0, int(max(hi))), acc_frac)

    def infer(self, g, node):
        acc = self.accumulator_type(g, node)
        return relu_type(acc) if node.attrs.get("activation") == "relu" else acc

    def cost(self, g, node):
        _, valid = window_indices(_spatial(g, node), node.attrs)
        w = self.matrix(g, node)                                    # [taps * cin_g, cout]
        taps = valid.shape[1]
        cin_g = w.shape[0] // taps
        nonzero = (w != 0).reshape(taps, cin_g, -1).sum(axis=1)    # [taps, cout]: nonzero weights per tap
        mults = int((valid.astype(np.int64) @ nonzero).sum())      # products that read a real input
        out = g.tensor(node.output)
        has_bias = len(node.inputs) > 2
        per_output = valid.astype(np.int64) @ nonzero + has_bias   # terms per output
        return OpCost(mults=mults, adds=int(np.maximum(per_output - 1, 0).sum()), outputs=out.size,
                      out_bits=out.size * out.type.width)

    def evaluate(self, g, node, args):
        x_t, w, b, prod_frac, acc_frac = self.parts(g, node)
        acc_t = self.accumulator_type(g, node)
        groups = node.attrs["groups"]
        x = as_exact(args[0], acc_t)
        win = gather_windows(x, _spatial(g, node), node.attrs)    # [N, P, K, C_in]
        n, p, k, cin = win.shape
        cin_g = cin // groups
        wm = as_exact(np.asarray(w.data), acc_t).reshape(k, cin_g, -1)
        cout = wm.shape[-1]
        cout_g = cout // groups
        parts = []
        for grp in range(groups):
            xs = win[:, :, :, grp * cin_g:(grp + 1) * cin_g].reshape(n, p, k * cin_g)
            ws = wm[:, :, grp * cout_g:(grp + 1) * cout_g].reshape(k * cin_g, cout_g)
            parts.append(xs @ ws)
        acc = np.concatenate(parts, axis=-1) if groups > 1 else parts[0]
        acc = _align(acc, prod_frac, acc_frac)
        if b is not None:
            acc = acc + _align(as_exact(np.asarray(b.data), acc_t), b.type.frac, acc_frac)
        if node.attrs.get("activation") == "relu":
            acc = np.maximum(acc, 0) if acc.dtype != object else np.where(acc > 0, acc, 0)
        return acc.reshape((n,) + tuple(g.tensor(node.output).shape))


@register
class MaxPool(OpDef):
    """The largest input code in each window (padding positions are not candidates). Same type as the input."""

    name = "MaxPool"

    def infer(self, g, node):
        return g.tensor(node.inputs[0]).type

    def cost(self, g, node):
        _, valid = window_indices(_spatial(g, node), node.attrs)
        out = g.tensor(node.output)
        c = out.shape[-1]
        return OpCost(adds=int(np.maximum(valid.sum(axis=1) - 1, 0).sum()) * c, outputs=out.size,
                      out_bits=out.size * out.type.width)

    def evaluate(self, g, node, args):
        t = g.tensor(node.inputs[0]).type
        low = t.min_int
        win = gather_windows(as_exact(args[0], t), _spatial(g, node), node.attrs, fill=low)
        _, valid = window_indices(_spatial(g, node), node.attrs)
        if not valid.any(axis=1).all():
            raise ModelError("a MaxPool window lies entirely in the padding", node.name)
        out = win.max(axis=2)
        return out.reshape((args[0].shape[0],) + tuple(g.tensor(node.output).shape))


def pool_counts(in_spatial, attrs) -> np.ndarray:
    """The divisor of each output position of an AvgPool: the window's size, or its taps inside the input."""
    _, valid = window_indices(in_spatial, attrs)
    if attrs.get("count_include_pad"):
        return np.full(valid.shape[0], valid.shape[1], dtype=np.int64)
    return valid.sum(axis=1).astype(np.int64)


def divide_round(s: np.ndarray, n: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    """round(s * 2**shift / n) exactly, with a QONNX/IR rounding mode; s integer codes, n positive integers."""
    s = s.astype(object) if s.dtype == object else s.astype(object)
    num = s * (1 << shift) if shift >= 0 else s
    den = n.astype(object) * (1 if shift >= 0 else (1 << -shift))
    q = num // den                       # floor
    r = num - q * den                    # 0 <= r < den
    twice = 2 * r
    if rounding == "FLOOR":
        up = np.zeros_like(r, dtype=bool)
    elif rounding == "CEIL":
        up = r > 0
    elif rounding == "DOWN":             # toward zero
        up = (r > 0) & (num < 0)
    elif rounding == "UP":               # away from zero
        up = (r > 0) & (num >= 0)
    elif rounding in ("ROUND", "HALF_EVEN"):
        up = (twice > den) | ((twice == den) & (q % 2 == 1))
    elif rounding in ("HALF_UP",):       # ties away from zero
        up = (twice > den) | ((twice == den) & (num >= 0))
    elif rounding == "HALF_DOWN":        # ties toward zero
        up = (twice > den) | ((twice == den) & (num < 0))
    elif rounding == "HALF_POS_INF":
        up = twice >= den
    elif rounding == "HALF_NEG_INF":
        up = twice > den
    else:
        raise ModelError(f"unknown rounding mode {rounding!r}")
    return q + up.astype(np.int64).astype(object)


def average_default_frac(in_frac: int, counts: np.ndarray) -> int:
    """The output fraction of an AvgPool no quantizer follows: exact for a power-of-two window (a shift)."""
    return in_frac + max(int(math.ceil(math.log2(int(c)))) for c in np.unique(counts))


@register
class AvgPool(OpDef):
    """round(sum of the window's codes / count) onto the output type's grid, with attrs `rounding` (exact: the
    quotient is rounded once, as a quantizer after a float average would). count: the window's size, or (without
    count_include_pad) its taps inside the input. The output type is the node's own: a following quantizer's, or
    the input's fraction plus ceil(log2(count)) bits (exact for power-of-two windows)."""

    name = "AvgPool"

    def infer(self, g, node):
        if node.attrs.get("out_type") is not None:     # a quantizer's, fused: its grid, range and modes
            return node.attrs["out_type"]
        in_t = g.tensor(node.inputs[0]).type
        frac = node.attrs["frac"]
        d = frac - in_t.frac
        # an average lies between the extreme codes; rounded onto a coarser grid it stays within their roundings
        lo = in_t.min_int << d if d >= 0 else -((-in_t.min_int) >> -d) - 1
        hi = in_t.max_int << d if d >= 0 else (in_t.max_int >> -d) + 1
        return FixedType.covering(min(lo, 0), max(hi, 0), frac).with_modes(rounding=node.attrs["rounding"],
                                                                            overflow="SAT")

    def cost(self, g, node):
        _, valid = window_indices(_spatial(g, node), node.attrs)
        out = g.tensor(node.output)
        c = out.shape[-1]
        return OpCost(mults=out.size, adds=int(np.maximum(valid.sum(axis=1) - 1, 0).sum()) * c, outputs=out.size,
                      out_bits=out.size * out.type.width)

    def evaluate(self, g, node, args):
        in_t = g.tensor(node.inputs[0]).type
        out_t = g.tensor(node.output).type
        spatial = _spatial(g, node)
        win = gather_windows(args[0].astype(object), spatial, node.attrs, fill=0)   # [N, P, K, C]
        sums = win.sum(axis=2)                                                       # [N, P, C]
        counts = pool_counts(spatial, node.attrs)[None, :, None]
        q = divide_round(sums, np.broadcast_to(counts, sums.shape), out_t.frac - in_t.frac, node.attrs["rounding"])
        q = as_exact(q, out_t)
        if out_t.overflow == "WRAP":
            q = out_t.wrap(q)
        else:
            q = out_t.saturate(q, node.attrs.get("lo", out_t.min_int), node.attrs.get("hi", out_t.max_int))
        return q.reshape((args[0].shape[0],) + tuple(g.tensor(node.output).shape))


@register
class Pad(OpDef):
    """Constant padding: attrs pads = (begin of each axis..., end of each axis...) over every non-batch axis and
    `value` (an integer code at the output's fraction)."""

    name = "Pad"

    def infer(self, g, node):
        t = g.tensor(node.inputs[0]).type
        v = node.attrs["value"]
        return FixedType.covering(min(t.min_int, v), max(t.max_int, v), t.frac).with_modes(
            rounding=t.rounding, overflow=t.overflow)

    def evaluate(self, g, node, args):
        rank = len(g.tensor(node.inputs[0]).shape)
        pads = node.attrs["pads"]
        width = [(0, 0)] + [(pads[a], pads[rank + a]) for a in range(rank)]
        out_t = g.tensor(node.output).type
        return np.pad(as_exact(args[0], out_t), width, constant_values=node.attrs["value"])


@register
class Concat(OpDef):
    """Join along attr axis (of the non-batch shape); every input is brought to the finest fraction (exact)."""

    name = "Concat"

    def infer(self, g, node):
        types = [g.tensor(t).type for t in node.inputs]
        frac = max(t.frac for t in types)
        lo = min(t.min_int << (frac - t.frac) for t in types)
        hi = max(t.max_int << (frac - t.frac) for t in types)
        return FixedType.covering(lo, hi, frac)

    def evaluate(self, g, node, args):
        out_t = g.tensor(node.output).type
        parts = []
        for t, a in zip(node.inputs, args):
            tt = g.tensor(t)
            a = as_exact(np.asarray(a), out_t)
            if tt.is_const:
                a = np.broadcast_to(a, (args[0].shape[0],) + tuple(tt.shape) if len(a.shape) == len(tt.shape)
                                    else a.shape)
            parts.append(_align(a, tt.type.frac, out_t.frac))
        n = max(p.shape[0] for p in parts)
        parts = [np.broadcast_to(p, (n,) + p.shape[1:]) for p in parts]
        return np.concatenate(parts, axis=node.attrs["axis"] + 1)


@register
class Resize(OpDef):
    """Nearest-neighbour resampling: attrs `maps`, per spatial axis the input index each output index reads
    (computed once from the ONNX attributes). Same codes, same type."""

    name = "Resize"

    def infer(self, g, node):
        return g.tensor(node.inputs[0]).type

    def evaluate(self, g, node, args):
        out = args[0]
        for a, m in enumerate(node.attrs["maps"]):
            out = np.take(out, np.asarray(m, dtype=np.int64), axis=a + 1)
        return out


@register
class Transpose(OpDef):
    """A permutation of the (non-batch) axes: attrs perm. Same codes, same type."""

    name = "Transpose"

    def infer(self, g, node):
        return g.tensor(node.inputs[0]).type

    def evaluate(self, g, node, args):
        return np.transpose(args[0], (0,) + tuple(p + 1 for p in node.attrs["perm"]))
