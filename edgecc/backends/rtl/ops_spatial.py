"""RTL emitters for the CNN ops, on whole tensors (every element a wire): a Conv is the Dense datapath over each
output position's window, pools are comparator and adder trees (an exact constant division for averages), layout
ops reorder wires, tables are case ROMs. Values are flat in the IR's channels-last C order."""
from __future__ import annotations

import numpy as np

from ...ir.graph import Node
from ...ir.ops_spatial import pool_counts, window_indices
from ...schedule.timing import tree_depth
from .netlist import Sig, const
from .ops import DENSE_BUILDS, EMITTERS, UnitBuilder, _tree


def _spatial(b: UnitBuilder, node: Node) -> tuple[int, ...]:
    return tuple(b.g.tensor(node.inputs[0]).shape[:-1])


def _windows(b: UnitBuilder, node: Node, x: list[Sig], fill: Sig | None) -> list[list[list[Sig | None]]]:
    """For each output position, for each tap, the input pixel's channel values (None where it is padding and
    there is no fill)."""
    c = b.g.tensor(node.inputs[0]).shape[-1]
    idx, valid = window_indices(_spatial(b, node), node.attrs)
    return [[x[int(i) * c:(int(i) + 1) * c] if ok else [fill] * c for i, ok in zip(row, vrow)]
            for row, vrow in zip(idx, valid)]


@EMITTERS.register("Conv", microarchs=tuple(DENSE_BUILDS))
def conv(b: UnitBuilder, node: Node) -> None:
    rows = []
    for taps in _windows(b, node, b.inputs[node.inputs[0]], const(0)):
        for pixel in taps:
            rows.extend(pixel)
    values = DENSE_BUILDS[b.unit.point.microarch](b, node, rows)
    if node.attrs.get("activation") == "relu":
        values = [b.net.relu(v) for v in values]
    b.values, b.frac = values, node.attrs["accumulator_type"].frac


def _reduce(b: UnitBuilder, values: list[Sig], combine) -> Sig:
    while len(values) > 1:
        values = [combine(values[i], values[i + 1]) if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


@EMITTERS.register("MaxPool", microarchs=("elementwise",))
def max_pool(b: UnitBuilder, node: Node) -> None:
    c = b.g.tensor(node.inputs[0]).shape[-1]
    out = []
    for taps in _windows(b, node, b.inputs[node.inputs[0]], None):
        for ch in range(c):
            out.append(_reduce(b, [t[ch] for t in taps if t[ch] is not None], b.net.max))
    b.values = out


@EMITTERS.register("AvgPool", microarchs=("elementwise",))
def avg_pool(b: UnitBuilder, node: Node) -> None:
    in_t = b.g.tensor(node.inputs[0]).type
    out_t = b.g.tensor(node.output).type
    c = b.g.tensor(node.inputs[0]).shape[-1]
    counts = pool_counts(_spatial(b, node), node.attrs)
    lo, hi = node.attrs.get("lo", out_t.min_int), node.attrs.get("hi", out_t.max_int)
    shift, mode = out_t.frac - in_t.frac, node.attrs["rounding"]
    streamed = node.attrs.get("position_counts")   # one window per token: its position's divisor, by a counter
    choice = None
    if streamed and len(set(streamed)) > 1:
        divisors = sorted(set(streamed))
        position = b.net.counter(len(streamed))
        choice = b.net.lookup(position, 0, [divisors.index(v) for v in streamed], "k")
    elif streamed:
        counts = [streamed[0]]
    out = []
    for p, taps in enumerate(_windows(b, node, b.inputs[node.inputs[0]], None)):
        for ch in range(c):
            leaves = [(1, t[ch]) for t in taps if t[ch] is not None]
            _, total = _tree(b.net, leaves, tree_depth(len(leaves)), 10**6) if len(leaves) > 1 else \
                (1, b.net.materialize(leaves[0][1]))
            if choice is None:
                q = b.net.div_round(total, int(counts[p]), shift, mode)
            else:
                q = b.net.select(choice, [b.net.div_round(total, d, shift, mode) for d in divisors])
            out.append(b.net.requantize(q, 0, "FLOOR", out_t, lo, hi))
    b.values, b.frac = out, out_t.frac


@EMITTERS.register("Pad", microarchs=("wiring",))
def pad(b: UnitBuilder, node: Node) -> None:
    shape = b.g.tensor(node.inputs[0]).shape
    index = np.arange(int(np.prod(shape))).reshape(shape)
    rank = len(shape)
    pads = node.attrs["pads"]
    padded = np.pad(index, [(pads[a], pads[rank + a]) for a in range(rank)], constant_values=-1)
    values = b.values
    b.values = [values[i] if i >= 0 else const(node.attrs["value"]) for i in padded.ravel()]


def _reorder(b: UnitBuilder, node: Node, order: np.ndarray) -> None:
    values = b.values
    b.values = [values[int(i)] for i in order.ravel()]


@EMITTERS.register("Transpose", microarchs=("wiring",))
def transpose(b: UnitBuilder, node: Node) -> None:
    shape = b.g.tensor(node.inputs[0]).shape
    _reorder(b, node, np.transpose(np.arange(int(np.prod(shape))).reshape(shape), node.attrs["perm"]))


@EMITTERS.register("Resize", microarchs=("wiring",))
def resize(b: UnitBuilder, node: Node) -> None:
    shape = b.g.tensor(node.inputs[0]).shape
    order = np.arange(int(np.prod(shape))).reshape(shape)
    for a, m in enumerate(node.attrs["maps"]):
        order = np.take(order, np.asarray(m, dtype=np.int64), axis=a)
    _reorder(b, node, order)


@EMITTERS.register("Concat", microarchs=("elementwise",))
def concat(b: UnitBuilder, node: Node) -> None:
    g = b.g
    out_t = g.tensor(node.output).type
    axis = node.attrs["axis"]
    parts = []
    for t in node.inputs:
        tt = g.tensor(t)
        vals = b.inputs[t] if t in b.inputs else [const(int(v)) for v in np.ravel(tt.data)]
        shifted = [b.net.shifted(v, out_t.frac - tt.type.frac) for v in vals]
        parts.append(np.array(shifted, dtype=object).reshape(tt.shape))
    b.values = list(np.concatenate(parts, axis=axis).ravel())
    b.frac = out_t.frac


@EMITTERS.register("Clip", microarchs=("elementwise",))
def clip(b: UnitBuilder, node: Node) -> None:
    out_t = b.g.tensor(node.output).type
    b.values = [b.net.requantize(v, 0, "FLOOR", out_t, node.attrs["lo"], node.attrs["hi"]) for v in b.values]


@EMITTERS.register("LeakyRelu", microarchs=("elementwise",))
def leaky_relu(b: UnitBuilder, node: Node) -> None:
    a, af = node.attrs["alpha_code"], node.attrs["alpha_frac"]
    out = []
    for v in b.values:
        if v.lo >= 0:
            out.append(b.net.shifted(v, af))
        else:
            out.append(b.net.sign_mux(v, b.net.mul(b.net.materialize(v), const(a)), b.net.shifted(v, af)))
    b.values = out
    b.frac = b.frac + af


def _const_operand(b: UnitBuilder, name: str, n: int) -> list[Sig]:
    data = np.ravel(np.asarray(b.g.tensor(name).data))
    return [const(int(data[i % data.size])) for i in range(n)]


@EMITTERS.register("Mul", microarchs=("elementwise",))
def mul(b: UnitBuilder, node: Node) -> None:
    c_t = b.g.tensor(node.inputs[1]).type
    consts = _const_operand(b, node.inputs[1], len(b.values))
    b.values = [b.net.mul(b.net.materialize(v), c) if c.lo not in (0, 1) else (const(0) if c.lo == 0 else v)
                for v, c in zip(b.values, consts)]
    b.frac = b.frac + c_t.frac


@EMITTERS.register("Table", microarchs=("elementwise",))
def table(b: UnitBuilder, node: Node) -> None:
    entries = [int(v) for v in node.attrs["table"]]
    b.values = [b.net.lookup(v, node.attrs["in_lo"], entries) for v in b.values]
    b.frac = node.attrs["out_type"].frac


@EMITTERS.register("Softmax", microarchs=("elementwise",))
def softmax(b: UnitBuilder, node: Node) -> None:
    """The IR's integer softmax per row: max tree, exponential table, sum tree, reciprocal table, products."""
    a = node.attrs
    net = b.net
    x_shape = b.g.tensor(node.inputs[0]).shape
    n = x_shape[-1]
    exp_t, inv_in, inv_t, out_t = a["exp_type"], a["inv_in_type"], a["inv_type"], a["out_type"]
    exp_table, inv_table = [int(v) for v in a["exp_table"]], [int(v) for v in a["inv_table"]]
    out = []
    for r in range(len(b.values) // n):
        row = b.values[r * n:(r + 1) * n]
        top = _reduce(b, list(row), net.max)
        exps = []
        for v in row:
            d = net.add(v, top, subtract=True)
            d = Sig(d.name, max(d.lo, v.lo - top.hi), min(d.hi, 0), bits=d.width)   # x - max(x) <= 0
            if d.lo < a["exp_lo"]:
                d = net.requantize(d, 0, "FLOOR", exp_t.with_modes(overflow="SAT"), a["exp_lo"], 0)
            exps.append(net.lookup(d, a["exp_lo"], exp_table, "e"))
        _, total = _tree(net, [(1, e) for e in exps], tree_depth(len(exps)), 10**6) if n > 1 else \
            (1, net.materialize(exps[0]))
        sq = net.requantize(total, exp_t.frac - inv_in.frac, "FLOOR", inv_in, a["inv_lo"], inv_in.max_int)
        recip = net.lookup(sq, a["inv_lo"], inv_table, "v")
        shift = exp_t.frac + inv_t.frac - out_t.frac
        for e in exps:
            out.append(net.requantize(net.mul(e, recip), shift, "ROUND", out_t, out_t.min_int, out_t.max_int))
    b.values, b.frac = out, out_t.frac
