"""What a backend tells the scheduler: how nodes group into units, each unit's candidate points, and how a choice
of points composes into a design with an exact (RTL) or estimated (HLS) latency and II."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from ..ir.graph import Graph, Node
from .plan import FPGA_RESOURCES, BufferPlan, EdgePlan, Point
from .timing import FamilyTiming

# Nodes that cost no register stage of their own: built into the unit that produces their input.
ZERO_COST_OPS = ("Relu", "Quantize", "Reshape")


@dataclass(frozen=True)
class UnitSpec:
    """A unit before a point is chosen: the nodes built as one block, what it reads, what it produces."""

    name: str
    op: str                        # the computing node's op
    nodes: tuple[str, ...]
    inputs: tuple[str, ...]        # activation tensors read (constants are part of the unit)
    output: str

    @property
    def head(self) -> str:
        return self.nodes[0]


@dataclass(frozen=True)
class Composition:
    """How chosen points run together: the design's latency and II, and every unit's start and finish."""

    kind: str
    latency_cycles: int
    ii_cycles: int
    start: dict                    # unit name -> start (cycles, or beats when lock-step)
    ready: dict                    # unit name -> output ready
    edges: tuple[EdgePlan, ...] = ()
    stages: int = 0                # lock-step: register stages after the input register
    buffer_resources: dict | None = None  # registers the composition adds (delays, FIFOs, control)
    buffers: tuple[BufferPlan, ...] = ()  # where each activation lives (C: the static arena)

    def unit_latency(self, unit: str) -> int:
        """Cycles from the unit's start to its output."""
        beats = self.ready[unit] - self.start[unit]
        return beats * self.ii_cycles if self.kind == "lockstep" else beats


FUSING_HEADS = ("Dense", "Add", "Conv")


def requantize_resources(g: Graph, node: Node, copies: int) -> dict:
    """`copies` products of a Requantize's input by its 31-bit multiplier, as 25x18 DSP tiles (the better way round),
    their two roundings (adders about as wide as the product) and the registered result."""
    from ..ir.ops import Requantize

    x_bits = g.tensor(node.inputs[0]).type.width
    product = Requantize.product_bits(g, node)
    tiles = min(-(-x_bits // 25) * -(-31 // 18), -(-31 // 25) * -(-x_bits // 18))
    return {"dsp": copies * tiles, "lut": copies * 2 * product, "ff": copies * g.tensor(node.output).type.width}


def group_units(g: Graph, fuse_zero_cost: bool, heads: tuple[str, ...] | None = FUSING_HEADS,
                absorbs: Callable[[Node, Node], bool] | None = None) -> list[UnitSpec]:
    """Units in graph order. With `fuse_zero_cost`, a node whose op is one of `heads` (None: any) takes along the
    zero-cost nodes that follow it alone (its output feeds exactly one of them and is not a graph output);
    `absorbs(head, node)`, where given, says instead which such nodes a unit takes along."""
    if absorbs is None:
        def absorbs(head: Node, node: Node) -> bool:
            return (heads is None or head.op in heads) and head.op not in ZERO_COST_OPS and node.op in ZERO_COST_OPS
    units, absorbed = [], set()
    for node in g.compute_nodes():
        if node.name in absorbed:
            continue
        nodes = [node]
        if fuse_zero_cost:
            tail = node
            while True:
                users = g.consumers(tail.output)
                if len(users) != 1 or tail.output in g.outputs or not absorbs(node, users[0]):
                    break
                tail = users[0]
                nodes.append(tail)
                absorbed.add(tail.name)
        inputs = tuple(t for t in node.inputs if not g.tensor(t).is_const)
        units.append(UnitSpec(node.name, node.op, tuple(n.name for n in nodes), inputs, nodes[-1].output))
    return units


class CostModel:
    """One backend's cost model at one clock on one board. Subclasses say what a unit can be and cost."""

    backend = ""
    fuse_zero_cost = False
    fusing_heads: tuple[str, ...] | None = FUSING_HEADS
    resource_keys = FPGA_RESOURCES
    # How the design's latency follows from its units' (the scheduler solves exactly where it is linear):
    # "path": `latency_offset` + the longest path of unit latencies; "sum": the units run one after another;
    # None: only `compose` knows (the scheduler then searches greedily with it).
    latency_model: str | None = None
    latency_offset = 1

    def __init__(self, timing: FamilyTiming, clock_ns: float):
        self.timing = timing
        self.clock_ns = clock_ns
        self.levels_per_stage = timing.levels_per_stage(clock_ns)

    @classmethod
    def for_board(cls, board, clock_ns: float, options: Mapping | None = None) -> "CostModel":
        """The model for a board at a clock; `options` are the backend's compile options (validated already)."""
        from .timing import family_timing

        return cls(family_timing(board.family), clock_ns)

    def units(self, g: Graph) -> list[UnitSpec]:
        return group_units(g, self.fuse_zero_cost, self.fusing_heads)

    def max_reuse(self, g: Graph, unit: UnitSpec) -> int:
        """How far the unit can be folded (1: it cannot)."""
        return 1

    def preferred_reuse(self, g: Graph, unit: UnitSpec) -> int:
        """The point to take where no target or config decides (1: the fastest)."""
        return 1

    def candidates(self, g: Graph, unit: UnitSpec, layer_config=None) -> list[Point]:
        """Every point the unit may take: by default the reuse factors in powers of two up to max_reuse (and the
        cap, the preferred one and any the config names)."""
        from .search import reuse_candidates

        fixed = getattr(layer_config, "reuse_factor", None)
        reuses = reuse_candidates(self.max_reuse(g, unit), fixed, self.preferred_reuse(g, unit))
        return list(self.points(g, unit, reuses).values())

    def points(self, g: Graph, unit: UnitSpec, reuses: Iterable[int]) -> dict[int, Point]:
        """The unit's candidate points for these reuse factors (those it supports), keyed by reuse."""
        raise NotImplementedError

    def compose(self, g: Graph, units: list[UnitSpec], chosen: dict[str, Point]) -> Composition:
        raise NotImplementedError

