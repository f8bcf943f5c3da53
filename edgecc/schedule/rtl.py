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


@dataclass
class DensePlan:
    """How a fully parallel Dense is built: per input, shared multiples x * (2**k +- 1) (one adder each, level 1)
    when they save adders; per output, the leaves of its adder tree."""

    shared: list[set]                       # per input: the patterns (k, s) built once
    leaves: list[list[tuple[int, int, int, tuple[int, int] | None]]]  # per output: (input, sign, shift, pattern)
    depth: int                              # adder levels, the multiples' level included

    @property
    def adders(self) -> int:
        return sum(len(p) for p in self.shared) + sum(max(len(l) - 1, 0) for l in self.leaves)


def dense_plan(w: np.ndarray, bias: np.ndarray) -> DensePlan:
    n_in, n_out = w.shape
    shared, use = [], []
    for i in range(n_in):
        patterns, saving = set(), 0
        for j in range(n_out):
            pairs = paired_digits(int(w[i, j]))
            patterns.update(p for _, _, p in pairs if p is not None)
            saving += len(csd_digits(int(w[i, j]))) - len(pairs)
        use.append(saving > len(patterns))
        shared.append(patterns if use[-1] else set())
    leaves = []
    for j in range(n_out):
        out = []
        for i in range(n_in):
            if use[i]:
                out += [(i, sign, shift, pattern) for sign, shift, pattern in paired_digits(int(w[i, j]))]
            else:
                out += [(i, sign, shift, None) for sign, shift in csd_digits(int(w[i, j]))]
        leaves.append(out)
    tree = max([tree_depth(len(l) + (1 if bias[j] else 0)) for j, l in enumerate(leaves)] or [0])
    return DensePlan(shared, leaves, tree + (1 if any(use) else 0))


def tree_depth(n_terms: int) -> int:
    return math.ceil(math.log2(n_terms)) if n_terms > 1 else 0


def levels_per_stage(clock_ns: float) -> int:
    """Adder levels between registers: ~2 ns per level of a carry-chain adder at these widths."""
    return max(1, int(clock_ns // 2))


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


def plan_of(g: Graph, node: Node) -> DensePlan:
    w = np.asarray(g.tensor(node.inputs[1]).data)
    bias = np.asarray(g.tensor(node.inputs[2]).data) if len(node.inputs) > 2 else np.zeros(w.shape[1], dtype=np.int64)
    return dense_plan(w, bias)


def plan_units(g: Graph, clock_ns: float, reuse: dict[str, int] | None = None) -> list[Unit]:
    reuse = reuse or {}
    k = levels_per_stage(clock_ns)
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
        outer = g.tensor(node.inputs[0]).size // len(dplan.shared)
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
