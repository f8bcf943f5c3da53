"""The schedule: one immutable plan of the whole design that every backend consumes as it is.

A *unit* is what a backend builds as one block (a computing node and the zero-cost nodes fused behind it, or one
node); a *point* is one way to build it (micro-architecture, folding, timing, cost, and the detailed plan its
emitter reads); the schedule picks one point per unit and says how the units are composed, when each starts and
finishes, and which edges need buffers. Nothing here refers to a graph object: names only, so a schedule can be
kept, compared and written out, and the graph it was made from is never written to.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

FPGA_RESOURCES = ("lut", "ff", "dsp", "bram")
MCU_RESOURCES = ("flash", "ram")


def frozen_resources(values: Mapping[str, int] | None = None, keys=FPGA_RESOURCES) -> Mapping[str, int]:
    """A read-only resource table with every key present (missing ones are 0)."""
    values = values or {}
    return MappingProxyType({k: _number(values.get(k, 0)) for k in keys})


def _number(v) -> int | float:
    """A whole count as an int; a fraction (half a Xilinx block RAM tile) as it is."""
    return int(v) if float(v).is_integer() else float(v)


def add_resources(tables, keys=FPGA_RESOURCES) -> Mapping[str, int]:
    total = dict.fromkeys(keys, 0)
    for t in tables:
        for k in keys:
            total[k] += t.get(k, 0)
    return MappingProxyType({k: _number(v) for k, v in total.items()})


@dataclass(frozen=True)
class Point:
    """One way to build a unit. Its latency is `stages * ii_cycles` when it runs at its own rate."""

    microarch: str                 # e.g. "adder_graph", "reuse_mac", "elementwise", "wiring", "hls_dense"
    reuse: int                     # folding: how many times each arithmetic resource is used per inference
    ii_cycles: int                 # cycles between two inputs it can accept
    stages: int                    # register stages from its inputs to its output (beats of ii_cycles each)
    latency_cycles: int
    resources: Mapping[str, int]
    depth: int = 0                 # adder levels inside (an adder graph), for the emitter's register placement
    detail: Any = None             # the micro-architecture's own immutable plan (e.g. an adder_graph.DensePlan)


@dataclass(frozen=True)
class UnitPlan:
    """A unit with its chosen point and its place in time (cycles, or beats of the design II when lock-step)."""

    name: str
    nodes: tuple[str, ...]         # the computing node first, then the nodes fused behind it
    inputs: tuple[str, ...]        # activation tensors it reads, in the first node's input order (no constants)
    output: str
    point: Point
    start: int                     # when all its inputs are present
    ready: int                     # when its output is: start + its latency in this composition

    @property
    def head(self) -> str:
        return self.nodes[0]


@dataclass(frozen=True)
class EdgePlan:
    """A tensor read by a unit (or by the design's output port, unit ''), and the buffer the composition puts on it."""

    tensor: str
    unit: str
    buffer: str = "none"           # "none", "delay" (registers that advance in lock-step), "fifo" (a stream FIFO)
    depth: int = 0                 # delay registers, or FIFO entries


@dataclass(frozen=True)
class BufferPlan:
    """Where a tensor's codes live while the design runs (the C backend's static arena): `home` is "arena" (at
    `offset`, `size` bytes), "in" or "out" (the caller's buffers), or "alias" of another tensor (same storage, e.g.
    a Reshape, or an op computed in place)."""

    tensor: str
    home: str
    offset: int = 0
    size: int = 0
    alias_of: str = ""
    first: int = 0                 # the steps (units, in order) of its first write and last read
    last: int = 0
    ctype: str = ""                # its C type where it is stored (the C backend)


@dataclass(frozen=True)
class LayerPlan:
    """The per-node row of the report: what the node costs and how it is built (fused nodes cost nothing)."""

    name: str
    op: str
    unit: str
    microarch: str
    reuse: int
    latency_cycles: int
    ii_cycles: int
    resources: Mapping[str, int]
    out_type: str
    folding: str = ""              # e.g. "PE 4 x SIMD 8, weights block" or "reuse 4" (empty: fully parallel)

    def to_json(self) -> dict:
        return {"name": self.name, "op": self.op, "unit": self.unit, "microarch": self.microarch,
                "reuse": self.reuse, "folding": self.folding, "latency_cycles": self.latency_cycles,
                "ii_cycles": self.ii_cycles, "resources": dict(self.resources), "out_type": self.out_type}


@dataclass(frozen=True)
class Schedule:
    backend: str
    board: str
    clock_ns: float
    composition: str               # "lockstep", "stream" (RTL) or "pipeline" (HLS: one pipelined function)
    latency_cycles: int            # from an accepted input to its output
    ii_cycles: int                 # between two accepted inputs
    units: tuple[UnitPlan, ...]
    edges: tuple[EdgePlan, ...]
    layers: tuple[LayerPlan, ...]
    resources: Mapping[str, int]
    levels_per_stage: int          # adder levels between two registers at this clock (timing model)
    stages: int = 0                # lock-step: register stages after the input register (latency = 1 + stages*II)
    targets: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    buffers: tuple[BufferPlan, ...] = ()
    solver: str = "preferred"      # how the choice was found: "milp" (exact), "greedy" or "preferred" (search.py)
    objective: str = "fastest"     # "cost" (least cost within the targets) or "fastest" (that fits the board)
    cost: float = 0.0              # the design's weighted cost (search.weighted_cost), in LUT equivalents on FPGAs

    def buffer(self, tensor: str) -> BufferPlan:
        for b in self.buffers:
            if b.tensor == tensor:
                return b
        raise KeyError(tensor)

    def unit(self, name: str) -> UnitPlan:
        for u in self.units:
            if u.name == name:
                return u
        raise KeyError(name)

    def layer(self, name: str) -> LayerPlan:
        for l in self.layers:
            if l.name == name:
                return l
        raise KeyError(name)

    def edges_into(self, unit: str) -> list[EdgePlan]:
        return [e for e in self.edges if e.unit == unit]

    def to_json(self) -> dict:
        """The plan as plain data (schedule.json): units with their points' figures, edges, the composition."""
        return {
            "backend": self.backend, "board": self.board, "clock_ns": self.clock_ns,
            "composition": self.composition, "latency_cycles": self.latency_cycles, "ii_cycles": self.ii_cycles,
            "stages": self.stages, "levels_per_stage": self.levels_per_stage, "resources": dict(self.resources),
            "targets": dict(self.targets), "solver": self.solver, "objective": self.objective, "cost": self.cost,
            "units": [{"name": u.name, "nodes": list(u.nodes), "inputs": list(u.inputs), "output": u.output,
                       "microarch": u.point.microarch, "reuse": u.point.reuse, "ii_cycles": u.point.ii_cycles,
                       "stages": u.point.stages, "depth": u.point.depth, "start": u.start, "ready": u.ready,
                       "resources": dict(u.point.resources),
                       **({"plan": u.point.detail.to_json()} if hasattr(u.point.detail, "to_json") else {})}
                      for u in self.units],
            "edges": [{"tensor": e.tensor, "unit": e.unit, "buffer": e.buffer, "depth": e.depth}
                      for e in self.edges if e.buffer != "none"],
            "buffers": [{"tensor": b.tensor, "home": b.home, "offset": b.offset, "size": b.size,
                         "alias_of": b.alias_of, "first": b.first, "last": b.last, "ctype": b.ctype}
                        for b in self.buffers],
        }
