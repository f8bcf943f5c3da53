"""The HLS cost model: first-order estimates of what Vitis HLS builds for each layer of one pipelined function.

Every node is its own unit. The design is one pipeline: its II is the largest layer II, its latency the longest
path through the layers (the input register counts one cycle), not their sum.
"""
from __future__ import annotations

import math

from ..ir.graph import Graph
from ..ir.ops import op_def
from .cost import Composition, CostModel, UnitSpec
from .plan import Point, frozen_resources
from .timing import tree_depth


class HlsCostModel(CostModel):
    backend = "hls"

    def max_reuse(self, g, unit):
        """A Dense can share one multiplier among all its nonzero products."""
        node = g.node(unit.head)
        return max(1, op_def(node).cost(g, node).mults) if node.op == "Dense" else 1

    def points(self, g: Graph, unit: UnitSpec, reuses):
        node = g.node(unit.head)
        out = g.tensor(node.output)
        if node.op != "Dense":
            latency = 1 if node.op == "Add" else 0
            lut = out.size * out.type.width if node.op in ("Add", "Quantize", "Relu") else 0
            ff = out.size * out.type.width if node.op == "Add" else 0
            micro = "wiring" if node.op == "Reshape" else "elementwise"
            return {1: Point(micro, 1, 1, latency, latency, frozen_resources({"lut": lut, "ff": ff}))}
        x_t, w = g.tensor(node.inputs[0]).type, g.tensor(node.inputs[1])
        acc = node.attrs["accumulator_type"]
        macs = op_def(node).cost(g, node).mults
        wide = x_t.width + w.type.width > self.timing.dsp_min_product_bits
        levels = max(1, tree_depth(w.shape[0] + (len(node.inputs) > 2)))
        tree_cycles = math.ceil(levels / self.levels_per_stage)
        points, cap = {}, max(1, macs)  # at most one multiplier shared by every nonzero product
        for reuse in sorted(set(reuses)):
            if reuse < 1 or reuse > cap:
                continue
            mults = math.ceil(macs / reuse)
            latency = reuse + tree_cycles
            bits = macs * w.type.width
            bram = math.ceil(bits / self.timing.bram_bits) if reuse > 1 and bits > self.timing.bram_bits else 0
            res = {"lut": (0 if wide else mults * x_t.width * w.type.width // 2) + max(0, mults - 1) * acc.width,
                   "ff": out.size * acc.width * (1 + latency // 2), "dsp": mults if wide else 0, "bram": bram}
            points[reuse] = Point("hls_dense", reuse, reuse, latency, latency, frozen_resources(res))
        return points

    def compose(self, g, units, chosen):
        ready_of = {t: 1 for t in g.hw_inputs()}  # the input register
        start, ready = {}, {}
        for u in units:
            start[u.name] = max((ready_of[t] for t in u.inputs), default=1)
            ready[u.name] = start[u.name] + chosen[u.name].latency_cycles
            ready_of[u.output] = ready[u.name]
        latency = max(ready_of[t] for t in g.outputs)
        ii = max([p.ii_cycles for p in chosen.values()] or [1])
        return Composition("pipeline", latency, ii, start, ready)
