"""One emitter per IR op for the RTL backend. Each adds its node's datapath to the unit being built, reading the
unit's plan from the schedule (micro-architecture, folding, adder graph, register placement) as it is."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.graph import Graph, Node
from ...ir.ops import Requantize
from ...ir.types import FixedType
from ...schedule.plan import UnitPlan
from ...schedule.rtl import dense_matrix
from ...schedule.timing import tree_depth
from .. import OpEmitters
from .netlist import Netlist, Sig, const

EMITTERS = OpEmitters("rtl")


@dataclass
class UnitBuilder:
    """The unit being built: its netlist, the values of its input tensors, and the values its nodes produced so
    far (`values` at fractional bits `frac`)."""

    net: Netlist
    g: Graph
    unit: UnitPlan
    levels_per_stage: int
    inputs: dict[str, list[Sig]]
    values: list[Sig]
    frac: int


def _tree(net: Netlist, leaves: list[tuple[int, Sig]], depth: int, k: int, start: int = 0,
          total: int | None = None) -> tuple[int, Sig]:
    """A balanced adder tree of signed leaves (sign, magnitude) over levels start+1 .. start+depth (pass-through
    where a level has nothing to pair), a register after every level that is a multiple of k and below `total`.
    Subtraction replaces negation."""
    total = start + depth if total is None else total
    nodes = sorted(leaves, key=lambda sl: (sl[1].width, -sl[0]))
    positive = [n for n in nodes if n[0] > 0]
    if positive:  # a positive leaf first keeps the root positive: a - b takes a's sign
        nodes.remove(positive[0])
        nodes.insert(0, positive[0])
    for level in range(start + 1, start + depth + 1):
        paired = []
        for i in range(0, len(nodes), 2):
            if i + 1 < len(nodes):
                (sa, a), (sb, b) = nodes[i], nodes[i + 1]
                paired.append((sa, net.add(a, b, subtract=(sa != sb))))
            else:
                paired.append(nodes[i])
        nodes = paired
        if level % k == 0 and level < total:
            nodes = [(s, net.register(v)) for s, v in nodes]
    assert len(nodes) == 1
    sign, root = nodes[0]
    return sign, net.materialize(root)


@dataclass
class _Matrix:
    """A Dense or Conv seen as one weight matrix [K, M] (codes in `data`) of the weights' type."""

    data: np.ndarray
    type: FixedType

    @property
    def shape(self):
        return self.data.shape


def _dense_parts(g: Graph, node: Node):
    x_t = g.tensor(node.inputs[0]).type
    w_t = g.tensor(node.inputs[1]).type
    matrix, _, _ = dense_matrix(g, node)
    b = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
    acc_t: FixedType = node.attrs["accumulator_type"]
    return x_t, _Matrix(matrix, w_t), b, acc_t, acc_t.frac - (x_t.frac + w_t.frac)


def _adder_graph(b: UnitBuilder, node: Node, x: list[Sig]) -> list[Sig]:
    """The layer's adder graph as the plan gives it (shared multiples, shared pairs, one tree per output);
    registers after every k levels, the shared levels included."""
    net, g = b.net, b.g
    x_t, w, bias, acc_t, extra = _dense_parts(g, node)
    n_in, n_out = w.shape
    dplan = b.unit.point.detail
    depth, k = b.unit.point.depth, b.levels_per_stage
    by_leaves = {sig for leaves in dplan.leaves for sig, _, _ in leaves}
    by_pairs = {sig for a, b_, _, _ in dplan.pairs for sig in (a, b_)}
    outputs = []
    for o in range(len(x) // n_in):
        signals = {("x", i): v for i, v in enumerate(x[o * n_in:(o + 1) * n_in])}
        level = 0

        def boundary(needed):
            if level % k == 0 and level < depth:
                for key in sorted(needed & signals.keys()):
                    signals[key] = net.register(signals[key])

        if dplan.multiples:
            for i, kk, s in dplan.multiples:
                xi = signals[("x", i)]
                signals[("m", i, kk, s)] = net.add(net.shifted(xi, kk), xi, subtract=(s < 0))
            level += 1
            boundary(by_leaves | by_pairs)
        if dplan.pairs:
            for idx, (sa, sb, d, s) in enumerate(dplan.pairs):
                signals[("p", idx)] = net.add(signals[sa], net.shifted(signals[sb], d), subtract=(s < 0))
            level += 1
            boundary(by_leaves)
        for j in range(n_out):
            leaves = [(sign, net.shifted(signals[sig], shift + extra)) for sig, sign, shift in dplan.leaves[j]]
            if bias is not None and int(bias.data[j]):
                c = int(bias.data[j]) << (acc_t.frac - bias.type.frac)
                leaves.append((1 if c > 0 else -1, const(abs(c))))
            if not leaves:
                outputs.append(net.materialize(const(0)))
                continue
            sign, root = _tree(net, leaves, depth - level, k, level, depth)
            outputs.append(net.neg(root) if sign < 0 else root)
    return outputs


def _reuse_mac(b: UnitBuilder, node: Node, x: list[Sig]) -> list[Sig]:
    """ceil(K / R) multipliers per output, each fed one input and one weight per phase; an accumulator per output
    adds them; the sum after the last phase leaves through the unit's register."""
    net, g = b.net, b.g
    x_t, w, bias, acc_t, extra = _dense_parts(g, node)
    n_in, n_out = w.shape
    r = b.unit.point.reuse
    per_phase = -(-n_in // r)
    outputs = []
    for o in range(len(x) // n_in):
        xs = x[o * n_in:(o + 1) * n_in]
        x_sel = [net.select("phase", [xs[p * per_phase + t] if p * per_phase + t < n_in else const(0)
                                      for p in range(r)]) for t in range(per_phase)]
        for j in range(n_out):
            products = []
            for t in range(per_phase):
                column = [int(w.data[p * per_phase + t, j]) if p * per_phase + t < n_in else 0 for p in range(r)]
                if not any(column):
                    continue
                w_sel = net.select("phase", [const(c) for c in column])
                products.append((1, net.shifted(net.mul(x_sel[t], w_sel), extra)))
            start = (int(bias.data[j]) << (acc_t.frac - bias.type.frac)) if bias is not None else 0
            acc = net.accumulator(acc_t.min_int, acc_t.max_int)
            base = net.select("phase", [const(start)], default=acc)
            if products:
                _, partial = _tree(net, products, tree_depth(len(products)), 10**6)
                total = net.add(base, partial)
                if total.width > acc.width:  # every partial sum fits the accumulator: the top bits are copies
                    total = net.low_bits(total, acc.width, acc_t.min_int, acc_t.max_int)
            else:
                total = base
            net.update(acc, total, "en")
            outputs.append(total)
    return outputs


@EMITTERS.register("Dense", microarchs=("adder_graph", "reuse_mac"))
def dense(b: UnitBuilder, node: Node) -> None:
    build = {"adder_graph": _adder_graph, "reuse_mac": _reuse_mac}[b.unit.point.microarch]
    values = build(b, node, b.inputs[node.inputs[0]])
    if node.attrs.get("activation") == "relu":
        values = [b.net.relu(v) for v in values]
    b.values, b.frac = values, node.attrs["accumulator_type"].frac


@EMITTERS.register("Add", microarchs=("elementwise",))
def add(b: UnitBuilder, node: Node) -> None:
    a_t, b_t = (b.g.tensor(t).type for t in node.inputs)
    n = b.g.tensor(node.output).size
    operands = []
    for t in node.inputs:   # a constant operand broadcasts: element i reads const.flat[i % size]
        data = None if t in b.inputs else np.ravel(b.g.tensor(t).data)
        operands.append(b.inputs[t] if data is None else [const(int(data[i % data.size])) for i in range(n)])
    frac = max(a_t.frac, b_t.frac)
    b.values = [b.net.add(b.net.shifted(u, frac - a_t.frac), b.net.shifted(v, frac - b_t.frac))
                for u, v in zip(*operands)]
    b.frac = frac


@EMITTERS.register("Relu", microarchs=("elementwise",))
def relu(b: UnitBuilder, node: Node) -> None:
    b.values = [b.net.relu(v) for v in b.values]


@EMITTERS.register("Quantize", microarchs=("elementwise",))
def quantize(b: UnitBuilder, node: Node) -> None:
    out_t = b.g.tensor(node.output).type
    lo, hi = int(node.attrs["lo"]), int(node.attrs["hi"])
    b.values = [b.net.requantize(v, b.frac - out_t.frac, node.attrs["rounding"], out_t, lo, hi) for v in b.values]
    b.frac = out_t.frac


@EMITTERS.register("Requantize", microarchs=("elementwise",))
def requantize_scaled(b: UnitBuilder, node: Node) -> None:
    """Per value, its channel's multiplier and shifts (TFLite's integer requantization), then the clamp."""
    out_t = b.g.tensor(node.output).type
    lo, hi = int(node.attrs["lo"]), int(node.attrs["hi"])
    channels = Requantize.channels(node, len(node.attrs["multiplier"]))
    out = []
    for i, v in enumerate(b.values):
        m0, e = channels[i % len(channels)]
        out.append(b.net.requantize(b.net.scale(v, m0 << max(e, 0), max(-e, 0)), 0, "FLOOR", out_t, lo, hi))
    b.values, b.frac = out, out_t.frac


@EMITTERS.register("Reshape", microarchs=("wiring",))
def reshape(b: UnitBuilder, node: Node) -> None:
    """The same codes in the same order: no logic."""


# the CNN ops: windows, pools, layout, per-element arithmetic, tables
from . import ops_spatial  # noqa: E402,F401
