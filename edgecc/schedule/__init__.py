"""Latency / II / resource model per layer, and the search for reuse factors that meets a target."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InfeasibleTarget, ModelError
from ..ir.graph import Graph, Node

# A multiplier whose operands together exceed this many bits goes to a DSP slice; narrower ones to LUTs
# (Vitis HLS maps small constant multiplications to fabric).
DSP_MIN_PRODUCT_BITS = 16
# Adder levels that fit one clock period, per ns of clock (a 7-series carry chain of ~16 bits is ~1.5-2 ns).
ADDER_LEVELS_PER_NS = 0.5


@dataclass
class LayerEstimate:
    name: str
    op: str
    reuse: int
    latency_cycles: int
    ii_cycles: int
    resources: dict
    out_type: str

    def to_json(self) -> dict:
        return {"name": self.name, "op": self.op, "reuse": self.reuse, "latency_cycles": self.latency_cycles,
                "ii_cycles": self.ii_cycles, "resources": self.resources, "out_type": self.out_type}


@dataclass
class Schedule:
    clock_ns: float
    layers: list[LayerEstimate] = field(default_factory=list)
    backend: str = "hls"
    exact_latency: int | None = None  # RTL: known to the cycle from the plan
    exact_ii: int | None = None

    @property
    def latency_cycles(self) -> int:
        if self.exact_latency is not None:
            return self.exact_latency
        return sum(l.latency_cycles for l in self.layers) + 1  # +1: the input register

    @property
    def ii_cycles(self) -> int:
        if self.exact_ii is not None:
            return self.exact_ii
        return max([l.ii_cycles for l in self.layers] or [1])

    @property
    def resources(self) -> dict:
        total = {"lut": 0, "ff": 0, "dsp": 0, "bram": 0}
        for l in self.layers:
            for k in total:
                total[k] += l.resources.get(k, 0)
        return total

    def bottleneck(self) -> LayerEstimate:
        return max(self.layers, key=lambda l: (l.latency_cycles, l.ii_cycles))


def _nonzero_macs(g: Graph, node: Node) -> int:
    w = g.tensor(node.inputs[1]).data
    outer = int(np.prod(g.tensor(node.inputs[0]).shape[:-1], dtype=np.int64))
    return int(np.count_nonzero(np.asarray(w != 0))) * outer


def max_reuse(g: Graph, node: Node) -> int:
    return max(1, _nonzero_macs(g, node)) if node.op == "Dense" else 1


def estimate(g: Graph, node: Node, reuse: int, clock_ns: float) -> LayerEstimate:
    out_t = g.tensor(node.output).type
    levels_per_cycle = max(1, int(clock_ns * ADDER_LEVELS_PER_NS))
    if node.op == "Dense":
        x_t, w = g.tensor(node.inputs[0]).type, g.tensor(node.inputs[1])
        acc = node.attrs["accumulator_type"]
        macs = _nonzero_macs(g, node)
        mults = math.ceil(macs / reuse)
        wide = x_t.width + w.type.width > DSP_MIN_PRODUCT_BITS
        dsp = mults if wide else 0
        lut_mult = 0 if wide else mults * x_t.width * w.type.width // 2
        adders = max(0, mults - 1)
        k = w.shape[0]
        tree_levels = max(1, math.ceil(math.log2(k + (len(node.inputs) > 2))))
        latency = reuse + math.ceil(tree_levels / levels_per_cycle)
        n_out = g.tensor(node.output).size
        ff = n_out * acc.width * (1 + latency // 2)
        bram = 0
        if reuse > 1:  # weights stream from a ROM: 18 Kb blocks
            bram = math.ceil(macs * w.type.width / 18432) if macs * w.type.width > 18432 else 0
        res = {"lut": lut_mult + adders * acc.width, "ff": ff, "dsp": dsp, "bram": bram}
        return LayerEstimate(node.name, node.op, reuse, latency, reuse, res, str(out_t))
    n = g.tensor(node.output).size
    if node.op == "Add":
        return LayerEstimate(node.name, node.op, 1, 1, 1, {"lut": n * out_t.width, "ff": n * out_t.width,
                                                           "dsp": 0, "bram": 0}, str(out_t))
    if node.op in ("Quantize", "Relu"):
        return LayerEstimate(node.name, node.op, 1, 0, 1, {"lut": n * out_t.width, "ff": 0, "dsp": 0, "bram": 0},
                             str(out_t))
    return LayerEstimate(node.name, node.op, 1, 0, 1, {"lut": 0, "ff": 0, "dsp": 0, "bram": 0}, str(out_t))


def _rtl_schedule(g: Graph, nodes: list[Node], reuse: dict[int, int], clock_ns: float, family: str) -> Schedule:
    """RTL: per-layer figures from the unit plan, and the design's exact latency and II."""
    from . import rtl

    names = {n.name: reuse[id(n)] for n in nodes}
    units = rtl.plan_units(g, clock_ns, names, family)
    ii = rtl.design_ii(units)
    by_node = {id(u.nodes[0]): u for u in units}
    layers = []
    for n in nodes:
        est = estimate(g, n, reuse[id(n)], clock_ns)
        unit = by_node.get(id(n))
        est.latency_cycles = unit.stages * ii if unit else 0
        est.ii_cycles = ii
        est.resources = rtl.unit_resources(g, unit) if unit else {"lut": 0, "ff": 0, "dsp": 0, "bram": 0}
        layers.append(est)
    return Schedule(clock_ns, layers, "rtl", rtl.latency_cycles(g, units), ii)


def schedule_graph(g: Graph, board, config, clock_ns: float | None = None, latency_ns: float | None = None,
                   latency_cycles: int | None = None, ii: int | None = None, backend: str = "hls") -> Schedule:
    """Choose a reuse factor per layer and write it onto the nodes.

    Without a target every layer is fully parallel (II=1) unless the config fixes its reuse. An II target
    sets reuse = II on every layer that can share that much. A latency target is a budget: starting fully
    parallel, the most multiplier-hungry layer doubles its reuse while the whole design still meets it.
    """
    clock_ns = float(clock_ns or board.clock_ns)
    if clock_ns <= 0:
        raise ModelError(f"clock period must be positive, got {clock_ns}")
    if latency_ns is not None:
        latency_cycles = max(1, math.floor(latency_ns / clock_ns + 1e-9))
    if ii is not None and ii < 1:
        raise ModelError(f"--ii must be at least 1, got {ii}")
    nodes = g.compute_nodes()
    fixed = {n.name: config.layer(n.name).reuse_factor for n in nodes if config.layer(n.name).reuse_factor}
    reuse: dict[int, int] = {}
    for n in nodes:
        cap = max_reuse(g, n)
        r = fixed.get(n.name) or (min(ii, cap) if ii else 1)
        reuse[id(n)] = min(r, cap) if n.op == "Dense" else 1

    def build() -> Schedule:
        if backend == "rtl":
            return _rtl_schedule(g, nodes, reuse, clock_ns, board.family)
        return Schedule(clock_ns, [estimate(g, n, reuse[id(n)], clock_ns) for n in nodes])

    sched = build()
    if ii is not None and sched.ii_cycles > ii:
        worst = max(sched.layers, key=lambda l: l.ii_cycles)
        raise InfeasibleTarget(f"II {ii} is not reachable: best is {sched.ii_cycles} cycles, "
                               f"bottleneck layer {worst.name!r} (reuse fixed by the config)")
    if latency_cycles is not None:
        if sched.latency_cycles > latency_cycles:
            saved = dict(reuse)
            reuse.update({id(n): 1 for n in nodes if n.name not in fixed})
            best = build()
            reuse.clear()
            reuse.update(saved)
            bottleneck = best.bottleneck()
            raise InfeasibleTarget(
                f"latency target {latency_cycles} cycles ({latency_cycles * clock_ns:g} ns) is not reachable: "
                f"best is {best.latency_cycles} cycles ({best.latency_cycles * clock_ns:g} ns), "
                f"bottleneck layer {bottleneck.name!r} ({bottleneck.latency_cycles} cycles)")
        ii_cap = ii or math.inf
        candidates = [n for n in nodes if n.op == "Dense" and n.name not in fixed]
        while candidates:
            candidates.sort(key=lambda n: -math.ceil(_nonzero_macs(g, n) / reuse[id(n)]))
            progressed = False
            for n in candidates:
                old = reuse[id(n)]
                new = min(old * 2, max_reuse(g, n))
                if new == old or new > ii_cap:
                    continue
                reuse[id(n)] = new
                if build().latency_cycles <= latency_cycles:
                    progressed = True
                    break
                reuse[id(n)] = old
            if not progressed:
                break
        sched = build()
    budget = board.resources
    for key in ("dsp", "lut", "ff", "bram"):
        if (ii is not None or latency_cycles is not None) and budget.get(key) and sched.resources[key] > budget[key]:
            worst = max(sched.layers, key=lambda l: l.resources.get(key, 0))
            raise InfeasibleTarget(f"estimated {key.upper()} {sched.resources[key]} exceeds {board.name}'s "
                                   f"{budget[key]}; bottleneck layer {worst.name!r}")
    for n, est in zip(nodes, sched.layers):
        n.attrs["reuse_factor"] = est.reuse
    return sched
