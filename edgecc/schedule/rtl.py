"""The RTL micro-architecture plan: which IR nodes form one pipelined unit, its register stages, and exact timing.

The RTL design is one lock-step pipeline: every register advances together, once per beat of II cycles.
A unit is a computing node (Dense, Add) with the zero-cost nodes that follow it alone (Relu, Quantize,
Reshape), registered once at its end; a fully parallel Dense adds a register every `levels_per_stage` adder
levels. Latency from an accepted input to its output is exactly 1 + S * II cycles, S the register stages on the
longest path after the input register; both the backend and the scheduler use this one plan.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..ir.graph import Graph, Node

ZERO_COST = ("Relu", "Quantize", "Reshape")


def csd_digits(value: int) -> list[tuple[int, int]]:
    """Canonical signed digits of an integer: [(sign, shift)], value = sum sign * 2**shift, fewest nonzero digits."""
    digits, shift, v = [], 0, int(value)
    while v:
        if v & 1:
            d = 2 - (v & 3)  # +1 if v = 1 mod 4, -1 if v = 3 mod 4
            digits.append((d, shift))
            v -= d
        v >>= 1
        shift += 1
    return digits


def paired_digits(value: int) -> list[tuple[int, int, tuple[int, int] | None]]:
    """The CSD digits of a weight, lowest first, taken two at a time: (sign, shift, pattern) stands for
    sign * (x * (2**k + s)) << shift with pattern (k, s), or sign * x << shift when pattern is None."""
    digits = sorted(csd_digits(value), key=lambda d: d[1])
    out = []
    for i in range(0, len(digits) - 1, 2):
        (s_lo, sh_lo), (s_hi, sh_hi) = digits[i], digits[i + 1]
        out.append((s_hi, sh_lo, (sh_hi - sh_lo, s_lo * s_hi)))
    if len(digits) % 2:
        out.append((digits[-1][0], digits[-1][1], None))
    return out


def tree_depth(n_terms: int) -> int:
    return math.ceil(math.log2(n_terms)) if n_terms > 1 else 0


# One adder level of these widths (LUT + carry chain + local routing), in ns, by FPGA family: a first-order
# model (7-series: ~0.5 ns LUT, ~0.1 ns per CARRY4, ~0.8 ns routing); iCE40 is measured by nextpnr in synth.
NS_PER_ADDER_LEVEL = {"xilinx": 1.6, "ice40": 4.0}


def levels_per_stage(clock_ns: float, family: str = "xilinx") -> int:
    """Adder levels between two registers that fit one clock period."""
    return max(1, int(clock_ns / NS_PER_ADDER_LEVEL.get(family, 1.6) + 1e-9))


@dataclass
class DensePlan:
    """How a fully parallel Dense is built from its constant weights, as an adder graph:

    level 1 (if any): per input, shared multiples x * (2**k + s) for digit pairs that recur in its row;
    next level (if any): shared sums a + s * (b << d) of two signals that recur across outputs (one-pass CSE);
    then per output a balanced tree over its leaves (signal, sign, shift), plus its bias.
    Signals are ("x", i), ("m", i, k, s) and ("p", index)."""

    multiples: list[tuple[int, int, int]]                # (input, k, s)
    pairs: list[tuple[tuple, tuple, int, int]]           # (signal a, signal b, d, s): a + s * (b << d)
    leaves: list[list[tuple[tuple, int, int]]]           # per output: (signal, sign, shift)
    tree_depth: int

    @property
    def pre_levels(self) -> int:
        return (1 if self.multiples else 0) + (1 if self.pairs else 0)

    @property
    def depth(self) -> int:
        return self.pre_levels + self.tree_depth

    @property
    def adders(self) -> int:
        return len(self.multiples) + len(self.pairs) + sum(max(len(l) - 1, 0) for l in self.leaves)


CSE_MAX_PAIRS = 4_000_000  # beyond this many candidate pairs a layer keeps its trees as they are


def _share_pairs(leaves: list[list[tuple]]) -> tuple[list, list[list[tuple]]]:
    """One greedy pass of common-subexpression elimination over pairs of leaves: the pairs that occur in the
    most outputs first; each becomes one adder shared by every output that still has both leaves."""
    if sum(len(l) ** 2 for l in leaves) // 2 > CSE_MAX_PAIRS:
        return [], leaves
    where: dict[tuple, list[int]] = {}
    for j, out in enumerate(leaves):
        seen = set()
        for a in range(len(out)):
            for b in range(a + 1, len(out)):
                u, v = sorted((out[a], out[b]), key=lambda t: (t[2], t[0]))
                key = (u[0], v[0], v[2] - u[2], u[1] * v[1])
                if key not in seen:
                    seen.add(key)
                    where.setdefault(key, []).append(j)
    order = sorted((k for k, js in where.items() if len(js) >= 2), key=lambda k: (-len(where[k]), k))
    remaining = [list(out) for out in leaves]
    pairs, rewritten = [], [[] for _ in leaves]
    for key in order:
        atom_u, atom_v, d, rel = key
        matches = []
        for j in where[key]:
            out = remaining[j]
            found = None
            for iu, u in enumerate(out):
                if u[0] != atom_u:
                    continue
                for iv, v in enumerate(out):
                    if iv != iu and v[0] == atom_v and v[2] - u[2] == d and u[1] * v[1] == rel:
                        found = (iu, iv)
                        break
                if found:
                    break
            if found:
                matches.append((j, found))
        if len(matches) < 2:
            continue
        signal = ("p", len(pairs))
        pairs.append((atom_u, atom_v, d, rel))
        for j, (iu, iv) in matches:
            u = remaining[j][iu]
            rewritten[j].append((signal, u[1], u[2]))
            for idx in sorted((iu, iv), reverse=True):
                remaining[j].pop(idx)
    return pairs, [r + rem for r, rem in zip(rewritten, remaining)]


def dense_plan(w: np.ndarray, bias: np.ndarray) -> DensePlan:
    n_in, n_out = w.shape
    use = []
    patterns_of = []
    for i in range(n_in):
        patterns, saving = set(), 0
        for j in range(n_out):
            pairs = paired_digits(int(w[i, j]))
            patterns.update(p for _, _, p in pairs if p is not None)
            saving += len(csd_digits(int(w[i, j]))) - len(pairs)
        use.append(saving > len(patterns))
        patterns_of.append(sorted(patterns) if use[-1] else [])
    multiples = [(i, k, s) for i in range(n_in) for k, s in patterns_of[i]]
    leaves = []
    for j in range(n_out):
        out = []
        for i in range(n_in):
            if use[i]:
                out += [(("x", i) if p is None else ("m", i) + p, sign, shift)
                        for sign, shift, p in paired_digits(int(w[i, j]))]
            else:
                out += [(("x", i), sign, shift) for sign, shift in csd_digits(int(w[i, j]))]
        leaves.append(out)
    pairs, leaves = _share_pairs(leaves)
    tree = max([tree_depth(len(l) + (1 if bias[j] else 0)) for j, l in enumerate(leaves)] or [0])
    return DensePlan(multiples, pairs, leaves, tree)
@dataclass
class Unit:
    kind: str                       # "dense", "dense_reuse", "add", "comb"
    nodes: list[Node]               # the computing node first, then the zero-cost nodes fused behind it
    stages: int                     # register stages (beats) from its inputs to its output
    depth: int = 0                  # adder-tree levels (fully parallel Dense)
    reuse: int = 1
    inputs: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.nodes[-1].output

    @property
    def name(self) -> str:
        return self.nodes[0].name


_PLANS: dict[bytes, DensePlan] = {}


def plan_of(g: Graph, node: Node) -> DensePlan:
    """The layer's plan, computed once per distinct weights (the scheduler and the backend both ask)."""
    w = np.asarray(g.tensor(node.inputs[1]).data)
    bias = np.asarray(g.tensor(node.inputs[2]).data) if len(node.inputs) > 2 else np.zeros(w.shape[1], dtype=np.int64)
    key = repr((w.shape, w.tolist(), bias.tolist())).encode()
    if key not in _PLANS:
        _PLANS[key] = dense_plan(w, bias)
    return _PLANS[key]


def plan_units(g: Graph, clock_ns: float, reuse: dict[str, int] | None = None, family: str = "xilinx") -> list[Unit]:
    reuse = reuse or {}
    k = levels_per_stage(clock_ns, family)
    units: list[Unit] = []
    absorbed: set[int] = set()
    for node in g.compute_nodes():
        if id(node) in absorbed:
            continue
        nodes = [node]
        if node.op in ("Dense", "Add"):
            tail = node
            while True:
                users = g.consumers(tail.output)
                if len(users) != 1 or users[0].op not in ZERO_COST or tail.output in g.outputs:
                    break
                tail = users[0]
                nodes.append(tail)
                absorbed.add(id(tail))
        inputs = [t for t in node.inputs if not g.tensor(t).is_const]
        if node.op == "Dense":
            r = int(reuse.get(node.name, node.attrs.get("reuse_factor", 1)))
            if r > 1:
                units.append(Unit("dense_reuse", nodes, 1, 0, r, inputs))
            else:
                depth = plan_of(g, node).depth
                units.append(Unit("dense", nodes, max(1, math.ceil(depth / k)), depth, 1, inputs))
        elif node.op == "Add":
            units.append(Unit("add", nodes, 1, 0, 1, inputs))
        else:
            units.append(Unit("comb", nodes, 0, 0, 1, inputs))
    return units


def timing(g: Graph, units: list[Unit]) -> tuple[dict[str, int], int]:
    """Beat at which every tensor is available (the input register is beat 0), and the output stage S >= 1."""
    arrival = {t: 0 for t in g.hw_inputs()}
    for u in units:
        start = max((arrival[t] for t in u.inputs), default=0)
        for n in u.nodes:
            arrival[n.output] = start + u.stages
    stages = max(arrival[t] for t in g.outputs)
    return arrival, max(stages, 1)


def design_ii(units: list[Unit]) -> int:
    return max([u.reuse for u in units] or [1])


def latency_cycles(g: Graph, units: list[Unit]) -> int:
    _, stages = timing(g, units)
    return 1 + stages * design_ii(units)


def unit_resources(g: Graph, unit: Unit) -> dict:
    """First-order LUT/FF/DSP counts of one unit as the backend builds it (one LUT per adder bit)."""
    out_t = g.tensor(unit.output).type
    out_bits = g.tensor(unit.output).size * out_t.width
    node = unit.nodes[0]
    if unit.kind == "dense":
        acc = node.attrs["accumulator_type"]
        x_t = g.tensor(node.inputs[0]).type
        dplan = plan_of(g, node)
        outer = g.tensor(node.inputs[0]).size // g.tensor(node.inputs[1]).shape[0]
        terms = [len(l) + 1 for l in dplan.leaves] * outer
        adders = dplan.adders * outer
        width = (acc.width + x_t.width) // 2 + 1  # adders widen from the inputs to the accumulator
        k = max(1, -(-unit.depth // unit.stages)) if unit.depth else 1
        pipeline = sum(-(-t // (1 << level)) for t in terms for level in range(k, unit.depth, k)) * width
        return {"lut": adders * width, "ff": out_bits + pipeline, "dsp": 0, "bram": 0}
    if unit.kind == "dense_reuse":
        acc = node.attrs["accumulator_type"]
        x_t, w_t = g.tensor(node.inputs[0]).type, g.tensor(node.inputs[1]).type
        k, m = g.tensor(node.inputs[1]).shape
        outer = g.tensor(node.inputs[0]).size // k
        mults = m * -(-k // unit.reuse) * outer
        wide = x_t.width + w_t.width > 16
        lut = mults * (acc.width + (0 if wide else x_t.width * w_t.width // 2))
        return {"lut": lut, "ff": out_bits + m * outer * acc.width, "dsp": mults if wide else 0, "bram": 0}
    if unit.kind == "add":
        return {"lut": out_bits, "ff": out_bits, "dsp": 0, "bram": 0}
    return {"lut": out_bits if any(n.op == "Quantize" for n in unit.nodes) else 0, "ff": 0, "dsp": 0, "bram": 0}
