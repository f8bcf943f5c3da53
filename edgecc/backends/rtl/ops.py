"""One emitter per IR op for the RTL backend. Each adds its node's datapath to the unit being built, reading the
unit's plan from the schedule (micro-architecture, folding, adder graph, register placement) as it is."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...ir.graph import Graph, Node
from ...ir.ops import Requantize
from ...ir.types import FixedType
from ...schedule.plan import UnitPlan
from ...schedule.rtl import dense_matrix, rom_field_width
from ...schedule.timing import tree_depth
from .. import OpEmitters
from .netlist import Netlist, Sig, const

EMITTERS = OpEmitters("rtl")


@dataclass
class UnitBuilder:
    """The unit being built: its netlist, the values of its input tensors, and the values its nodes produced so
    far (`values` at fractional bits `frac`). A folded datapath may leave fewer values than its output has (one
    per processing element) for the fused nodes after it and a `finish` that turns them into the unit's output."""

    net: Netlist
    g: Graph
    unit: UnitPlan
    levels_per_stage: int
    inputs: dict[str, list[Sig]]
    values: list[Sig]
    frac: int
    finish: Callable[[list[Sig]], list[Sig]] | None = None


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


def _accumulate(net: Netlist, base: Sig, products: list, acc_t: FixedType) -> Sig:
    """base + the sum of the products (an adder tree), in the accumulator's width: every partial sum fits the
    accumulator, so the bits above it are copies of its sign."""
    _, partial = _tree(net, products, tree_depth(len(products)), 10**6)
    total = net.add(base, partial)
    if total.width > acc_t.width:
        total = net.low_bits(total, acc_t.width, acc_t.min_int, acc_t.max_int)
    return total


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
            total = _accumulate(net, base, products, acc_t) if products else base
            net.update(acc, total, "en")
            outputs.append(total)
    return outputs


def _lane_weights(w: _Matrix, plan, n_total: int) -> np.ndarray:
    """The weight each lane multiplies at each phase: [phase, pe, simd] (zero where a PE is idle or a lane is past
    the last input)."""
    k, m = w.shape
    p, s, nf, sf = plan.pe, plan.simd, plan.neuron_fold, plan.synapse_fold
    padded = np.zeros((sf * s, m), dtype=np.int64)
    padded[:k] = w.data
    neuron = np.arange(nf * p).reshape(nf, p)
    cols = padded[:, neuron % m].reshape(sf, s, nf, p)              # [sf, s, nf, p]
    cols = np.where((neuron < n_total)[None, None], cols, 0)
    return cols.transpose(2, 0, 3, 1).reshape(nf * sf, p, s)


def _pe_array(b: UnitBuilder, node: Node, x: list[Sig]) -> list[Sig]:
    """P processing elements of S lanes (schedule/rtl.py PEPlan): at phase (nf, sf) PE p accumulates neuron
    nf * P + p over inputs sf * S .. sf * S + S - 1. Each lane reads its input by the synapse fold (and, in a Conv,
    the neuron's position by the neuron fold) and its weight from one ROM word per phase. Returns the P PE sums
    complete at the last synapse fold; `finish` keeps each fold's results in registers enabled at its completion,
    the last fold's straight from the PEs into the unit's output register."""
    net, g = b.net, b.g
    x_t, w, bias, acc_t, extra = _dense_parts(g, node)
    k, m = w.shape
    plan = b.unit.point.detail
    pe, simd, nf_n, sf_n = plan.pe, plan.simd, plan.neuron_fold, plan.synapse_fold
    ii, outer = nf_n * sf_n, len(x) // k
    n_total = outer * m
    lanes = _lane_weights(w, plan, n_total)

    # the fold indices: phase bits where the synapse folds are a power of two, else counters kept with the phase
    sf_sig = nf_sig = None
    if sf_n & (sf_n - 1) == 0:
        low = sf_n.bit_length() - 1
        if sf_n > 1:
            sf_sig = net.phase_bits(low - 1, 0, "sf")
        if nf_n > 1:
            nf_sig = net.phase_bits(net.phase_width - 1, low, "nf")
    else:
        sf_sig = net.counter(sf_n, "en", "sf")
        if nf_n > 1:
            nf_sig = net.counter(nf_n, f"en & {net.flag(sf_sig, sf_n - 1, 'sl')}", "nf")

    def by(sel: Sig | None, options: list[Sig]) -> Sig:
        if sel is None or all(o == options[0] for o in options):
            return options[0]
        return net.select(sel, options)

    # the weights: lane (p, s) a field of the ROM word (constants when there is one phase)
    fields, offset, words = {}, 0, [0] * ii
    for p in range(pe):
        for s in range(simd):
            column = lanes[:, p, s]
            width = rom_field_width(int(column.min()), int(column.max()))
            if width == 0:
                continue
            if ii == 1:
                fields[(p, s)] = const(int(column[0]))
                continue
            mask = (1 << width) - 1
            for phase, v in enumerate(column):
                words[phase] |= (int(v) & mask) << offset
            fields[(p, s)] = (offset, width, int(column.min()), int(column.max()))
            offset += width
    if ii > 1 and offset:
        q = net.rom(words, offset, plan.memory, "w")
        for key, (lo_bit, width, lo, hi) in list(fields.items()):
            fields[key] = net.bits(q, lo_bit + width - 1, lo_bit, lo, hi, "wl", signed=lo < 0)

    # the inputs: by synapse fold per position, then (a Conv) by the neuron fold's position per PE
    by_sf: dict[tuple[int, int], Sig] = {}

    def lane_input(o: int, s: int) -> Sig:
        if (o, s) not in by_sf:
            xs = x[o * k:(o + 1) * k]
            by_sf[(o, s)] = by(sf_sig, [xs[f * simd + s] if f * simd + s < k else const(0) for f in range(sf_n)])
        return by_sf[(o, s)]

    outputs = []
    for p in range(pe):
        neurons = [nf * pe + p for nf in range(nf_n)]
        last = max(n for n in neurons if n < n_total)
        positions = [min(n, last) // m for n in neurons]   # an idle slot repeats a real one (its weights are 0)
        products = []
        for s in range(simd):
            if (p, s) not in fields:
                continue
            xin = by(nf_sig, [lane_input(o, s) for o in positions])
            if xin.is_const and xin.lo == 0:
                continue
            products.append((1, net.shifted(net.mul(net.materialize(xin), fields[(p, s)]), extra)))
        starts = [(int(bias.data[n % m]) << (acc_t.frac - bias.type.frac)) if bias is not None and n < n_total
                  else 0 for n in neurons]
        start = by(nf_sig, [const(c) for c in starts])
        if sf_sig is not None:
            acc = net.accumulator(acc_t.min_int, acc_t.max_int)
            base = net.select(sf_sig, [start], default=acc)
        else:
            acc, base = None, start
        total = _accumulate(net, base, products, acc_t) if products else net.materialize(base)
        if acc is not None:
            net.update(acc, total, "en")
        outputs.append(total)

    def finish(values: list[Sig]) -> list[Sig]:
        """Neuron nf * P + p: PE p's result held from the end of fold nf, or (the last fold) the PE's output."""
        held = []
        for nf in range(nf_n - 1):
            done = net.flag("phase", nf * sf_n + sf_n - 1, "done")
            held += [net.register(values[p], f"en & {done}") for p in range(pe)]
        return (held + values)[:n_total]

    b.finish = finish
    return outputs


DENSE_BUILDS = {"adder_graph": _adder_graph, "reuse_mac": _reuse_mac, "pe_array": _pe_array}


@EMITTERS.register("Dense", microarchs=tuple(DENSE_BUILDS))
def dense(b: UnitBuilder, node: Node) -> None:
    values = DENSE_BUILDS[b.unit.point.microarch](b, node, b.inputs[node.inputs[0]])
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
