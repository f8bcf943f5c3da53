"""Scheduling: a target in ns or cycles, the board's clock and resources decide each unit's micro-architecture and
folding. `schedule_graph` returns one immutable Schedule (see plan.py) that the backend emits as it is."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from ..errors import ModelError
from ..ir.graph import Graph
from .cost import CostModel
from .plan import EdgePlan, LayerPlan, Schedule, UnitPlan, add_resources, frozen_resources
from .search import search, weighted_cost


@dataclass(frozen=True)
class Targets:
    """What the user asks for; None where they leave it to the scheduler (clock: the board's)."""

    clock_ns: float | None = None
    latency_ns: float | None = None
    latency_cycles: int | None = None
    ii: int | None = None

    def to_json(self) -> dict:
        return {"clock_ns": self.clock_ns, "latency_ns": self.latency_ns, "latency_cycles": self.latency_cycles,
                "ii": self.ii}


def schedule_graph(g: Graph, cost_model: type[CostModel], board, config, targets: Targets = Targets(),
                   options: Mapping | None = None) -> Schedule:
    """Choose a point per unit for the backend whose cost model is given, meeting the targets on the board.

    Without a target: the backend's preferred design (RTL and HLS: fully parallel, unless the config fixes a
    layer's folding) if it fits the board, else the fastest design that does. With a latency and/or II target: the
    cheapest design (search.weighted_cost) that meets them within the board. Nothing fits: InfeasibleTarget (exit
    3) naming the best achievable figures and the resource that binds. How it was solved is `Schedule.solver`
    (see search.py). `options` are the backend's compile options (validated by the backend).
    """
    clock_ns = float(targets.clock_ns or board.clock_ns)
    if clock_ns <= 0:
        raise ModelError(f"clock period must be positive, got {clock_ns}")
    if targets.latency_ns is not None and targets.latency_cycles is not None:
        raise ModelError("give a latency target in ns or in cycles, not both")
    latency = targets.latency_cycles
    if targets.latency_ns is not None:
        latency = max(1, math.floor(targets.latency_ns / clock_ns + 1e-9))
    if targets.ii is not None and targets.ii < 1:
        raise ModelError(f"the II target must be at least 1, got {targets.ii}")
    if latency is not None and latency < 1:
        raise ModelError(f"the latency target must be at least 1 cycle, got {latency}")
    duplicates = [n for n, k in Counter(n.name for n in g.nodes).items() if k > 1]
    if duplicates:
        raise ModelError(f"node names must be unique to schedule a graph; {duplicates[0]!r} appears more than once "
                         "(graphs from edgecc.load are)")

    cost = cost_model.for_board(board, clock_ns, options)
    choice = search(g, cost, dict(board.resources), config, latency, targets.ii, clock_ns, board.name)
    design = choice.design

    units = tuple(UnitPlan(u.name, u.nodes, u.inputs, u.output, choice.chosen[u.name], design.start[u.name],
                           design.ready[u.name]) for u in choice.units)
    layers = []
    for u in units:
        for k, name in enumerate(u.nodes):
            node = g.node(name)
            head = k == 0
            layers.append(LayerPlan(name, node.op, u.name, u.point.microarch if head else "fused",
                                    u.point.reuse if head else 1,
                                    design.unit_latency(u.name) if head else 0,
                                    design.ii_cycles if design.kind == "lockstep" else u.point.ii_cycles,
                                    u.point.resources if head else frozen_resources(keys=cost.resource_keys),
                                    str(g.tensor(node.output).type), folding_of(u.point) if head else ""))
    resources = add_resources([u.point.resources for u in units] + [design.buffer_resources or {}],
                              keys=cost.resource_keys)
    return Schedule(cost.backend, board.name, clock_ns, design.kind, design.latency_cycles, design.ii_cycles, units,
                    tuple(design.edges), tuple(layers), resources, cost.levels_per_stage, design.stages,
                    MappingProxyType({**targets.to_json(), "latency_cycles": latency}), tuple(design.buffers),
                    choice.solver, choice.objective,
                    round(weighted_cost(resources, {k: v for k, v in board.resources.items() if v}), 1))


def folding_of(point) -> str:
    """How a unit's point folds, in words for the schedule table (PE x SIMD, reuse, or nothing)."""
    detail = point.detail
    if point.microarch == "pe_array" and detail is not None:
        memory = getattr(detail, "memory", "")
        return f"PE {detail.pe} x SIMD {detail.simd}" + (f", weights {memory}" if memory else "")
    if point.reuse > 1:
        return f"reuse {point.reuse}"
    return ""


__all__ = ["EdgePlan", "Schedule", "Targets", "schedule_graph"]
