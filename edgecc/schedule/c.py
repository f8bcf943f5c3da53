"""The C cost model: a microcontroller runs the units one after another, so the design's latency is their sum;
its flash holds the weights and the code, its RAM one static arena of activations (planned here) and the stack.

A Dense is an inner-product loop over its nonzero weights: the SMLAD path (two 16-bit multiply-accumulates per
instruction, operands packed offline) where the CPU has the DSP extension and the operands and every partial sum
fit (16-bit operands, 32-bit sums), the portable loop otherwise; weights of 4 bits or fewer packed two per byte
where that saves flash (`pack_weights`: auto, the default, packs where the loop is the portable one and falls back
to packing where SMLAD's 16-bit pairs would not fit the board). The nodes that follow a Dense or Add alone (Relu,
Quantize, Reshape) are applied to each result before it is stored; a Quantize or Relu on its own runs in place
over its input where that input dies there and the result is no wider; a Reshape is the same storage.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedOp
from ..ir.graph import Graph
from ..ir.ops import op_def
from .c_kernel import PACKED_BITS, blocked, code_bytes, kernel_bytes, packed_pairs
from .cost import Composition, CostModel, UnitSpec
from .memory import Lifetime, plan_arena
from .plan import MCU_RESOURCES, BufferPlan, Point, frozen_resources
from .timing import CpuModel, cpu_model

STACK_RESERVE = 512          # bytes of stack the inference needs at most (measured under qemu: well below)
CODE_BYTES_PER_UNIT = 160    # an elementwise unit's function: prologue, loop, requantization (measured: 100-250 bytes)
ELEMENTWISE_INSTRUCTIONS = 6  # per element of a Quantize, Relu or Add loop


def c_bytes(width: int) -> int:
    """Bytes of the narrowest C integer type holding `width` bits."""
    for size in (1, 2, 4, 8):
        if width <= 8 * size:
            return size
    raise UnsupportedOp(f"a {width}-bit tensor has no C integer type; the C backend handles up to 64 bits")


def smlad_fits(g: Graph, node_name: str) -> bool:
    """Operands that fit signed 16 bits and every partial sum of x * W in 32 bits: SMLAD computes it exactly."""
    node = g.node(node_name)
    x_t, w_t = g.tensor(node.inputs[0]).type, g.tensor(node.inputs[1]).type
    fits16 = all(t.width + (0 if t.signed else 1) <= 16 for t in (x_t, w_t))
    return fits16 and op_def(node).product_sum_type(g, node).width <= 32


class CCostModel(CostModel):
    backend = "c"
    fuse_zero_cost = True
    resource_keys = MCU_RESOURCES
    always_check_budget = True  # a model that does not fit the part's flash or RAM cannot run there

    def __init__(self, cpu: CpuModel, clock_ns: float, pack_weights: str = "auto"):
        self.cpu = cpu
        self.clock_ns = clock_ns
        self.levels_per_stage = 0
        self.pack_weights = pack_weights
        self._cache: dict = {}

    @classmethod
    def for_board(cls, board, clock_ns: float, options=None) -> "CCostModel":
        return cls(cpu_model(board.cpu), clock_ns, (options or {}).get("pack_weights") or "auto")

    def max_reuse(self, g: Graph, unit: UnitSpec) -> int:
        return len(self._variants(g, unit)[0])

    def preferred_reuse(self, g: Graph, unit: UnitSpec) -> int:
        return self._variants(g, unit)[1]

    def points(self, g: Graph, unit: UnitSpec, reuses):
        """One point per way to build the unit, the fastest first ("reuse" 1); a later one is slower and smaller:
        the default where packing costs little, else what the scheduler folds to for a latency target's slack or
        the board's flash."""
        out = {}
        for reuse, (micro, instructions, flash) in enumerate(self._variants(g, unit)[0], start=1):
            if reuse in reuses:
                cycles = math.ceil(instructions * self.cpu.cycles_per_instruction)
                res = frozen_resources({"flash": flash}, keys=MCU_RESOURCES)
                out[reuse] = Point(micro, reuse, max(cycles, 1), 1 if cycles else 0, cycles, res)
        return out

    def _variants(self, g: Graph, unit: UnitSpec) -> tuple[list[tuple[str, float, int]], int]:
        """(micro-architecture, instructions, flash bytes) of each way to build the unit, the fastest first, and
        which one (from 1) to take without a target."""
        key = (id(g), unit.name)
        if key not in self._cache:
            self._cache[key] = self._build_variants(g, unit)
        return self._cache[key]

    def _build_variants(self, g: Graph, unit: UnitSpec) -> tuple[list[tuple[str, float, int]], int]:
        out = g.tensor(unit.output)
        c_bytes(out.type.width)
        code = CODE_BYTES_PER_UNIT
        if unit.op != "Dense":
            if all(g.node(n).op == "Reshape" for n in unit.nodes) and unit.output not in g.outputs:
                return [("alias", 0, 0)], 1  # the same codes in the same storage
            if all(g.node(n).op == "Reshape" for n in unit.nodes):
                return [("c_copy", 2 * out.size, code)], 1  # into the caller's output buffer
            return [("c_elementwise", out.size * ELEMENTWISE_INSTRUCTIONS, code)], 1
        node = g.node(unit.head)
        w = g.tensor(node.inputs[1])
        macs = op_def(node).cost(g, node).mults
        bias = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
        fixed = bias.size * c_bytes(bias.type.width) if bias is not None else 0
        finish = out.size * ELEMENTWISE_INSTRUCTIONS
        codes = np.asarray(w.data).astype(np.int64)
        layout = blocked(codes.T)
        dsp = self.cpu.dsp and smlad_fits(g, unit.head)
        if dsp:
            pairs = blocked(packed_pairs(codes))
            fast = ("c_smlad", macs * self.cpu.dsp_instructions_per_mac + finish,
                    kernel_bytes(pairs, "smlad") + code_bytes(pairs, "smlad") + fixed)
        else:
            fast = ("c_loop", macs * self.cpu.instructions_per_mac + finish,
                    kernel_bytes(layout, "loop", c_bytes(w.type.width)) + code_bytes(layout, "loop") + fixed)
        if self.pack_weights == "off" or w.type.width > PACKED_BITS or not np.any(codes):
            return [fast], 1
        packed = ("c_packed", macs * self.cpu.packed_instructions_per_mac + finish,
                  kernel_bytes(layout, "packed") + code_bytes(layout, "packed") + fixed)
        if self.pack_weights == "on":
            return [packed], 1
        # auto: packed first where the loop is the portable one anyway (a sign extension per weight next to its load
        # and multiply-accumulate: about a tenth more instructions, measured on the M0 and M3) and it saves flash
        # (a sparse layer's index lists do not shrink, and unpacking takes code); otherwise the other way round:
        # SMLAD is three times the speed. The second is what the scheduler falls back to for a target's slack or
        # the board's flash.
        return [fast, packed], 2 if not dsp and packed[2] < fast[2] else 1

    def compose(self, g, units, chosen):
        start, ready, t = {}, {}, 0
        for u in units:
            start[u.name] = t
            t += chosen[u.name].latency_cycles
            ready[u.name] = t
        buffers, arena = plan_buffers(g, units, chosen)
        return Composition("sequential", max(t, 1), max(t, 1), start, ready, (), 0,
                           {"ram": arena + STACK_RESERVE}, buffers)


def _ctype(bits: int, signed: bool) -> str:
    return f"{'' if signed else 'u'}int{bits}_t"


def plan_buffers(g: Graph, units: list[UnitSpec], chosen: dict) -> tuple[tuple[BufferPlan, ...], int]:
    """Where each unit's output lives and in which C type: the caller's output buffer, the same storage as its
    input (a Reshape; or a Quantize/Relu in place), or a place in the arena; the arena from the lifetimes.

    A tensor an SMLAD Dense reads is stored as int16_t, so that it reads two values with one load; the graph input
    (the caller's, in its own type) is widened into a scratch buffer by that Dense instead. Returns (plans, bytes)."""
    hw_in, out = g.hw_inputs(), set(g.outputs)
    readers: dict[str, list[int]] = {}
    for step, u in enumerate(units):
        for t in u.inputs:
            readers.setdefault(t, []).append(step)
    root = {t: t for t in hw_in}             # tensor -> the tensor whose storage it uses (through Reshapes)
    for u in units:
        if chosen[u.name].microarch == "alias":
            root[u.output] = root[u.inputs[0]]
        else:
            root.setdefault(u.output, u.output)
    bits = {t: 8 * c_bytes(g.tensor(t).type.width) for t in root}
    for u in units:
        x = g.node(u.head).inputs[0]
        if chosen[u.name].microarch == "c_smlad" and root[x] not in hw_in and root[x] not in out:
            bits[root[x]] = max(bits[root[x]], 16)
    for t in root:  # a Reshape's codes are its source's, in its source's type
        bits[t] = bits[root[t]]
    ctype = {t: _ctype(bits[t], g.tensor(t).type.signed or bits[t] > 8 * c_bytes(g.tensor(t).type.width))
             for t in root}
    home = {t: "in" for t in hw_in}

    def last_read(t: str) -> int:
        aliases = [a for a, r in root.items() if r == root[t]]
        return max((s for a in aliases for s in readers.get(a, [])), default=-1)

    producer_step = {}
    for step, u in enumerate(units):
        micro = chosen[u.name].microarch
        src = u.inputs[0] if u.inputs else None
        producer_step[u.output] = step
        if u.output in out:
            root[u.output], home[u.output] = u.output, "out"
        elif micro == "alias":
            continue
        elif micro == "c_elementwise" and len(u.inputs) == 1 and home.get(root[src]) == "arena" \
                and last_read(src) == step and g.tensor(u.output).size == g.tensor(src).size \
                and bits[u.output] <= bits[src]:
            for a, r in list(root.items()):  # in place: element i is read before element i is written
                if r == u.output:
                    root[a] = root[src]
        else:
            home[u.output] = "arena"
    lifetimes, scratch = [], set()
    for t, r in root.items():
        if r == t and home[t] == "arena":
            size = max(g.tensor(a).size * bits[a] // 8 for a, ra in root.items() if ra == t)
            lifetimes.append(Lifetime(t, size, producer_step[t], max(last_read(t), producer_step[t])))
    for step, u in enumerate(units):
        x = g.node(u.head).inputs[0]
        if chosen[u.name].microarch == "c_smlad" and bits[x] != 16:  # widened here, one row at a time
            k = g.tensor(g.node(u.head).inputs[1]).shape[0]
            scratch.add(scratch_name(u.name))
            lifetimes.append(Lifetime(scratch_name(u.name), 2 * (k + k % 2), step, step))
    offsets, arena = plan_arena(lifetimes)
    by_name = {l.name: l for l in lifetimes}
    plans = []
    for t, r in root.items():
        if r != t:
            plans.append(BufferPlan(t, "alias", alias_of=r, ctype=ctype[t]))
        elif home[t] == "arena":
            life = by_name[t]
            plans.append(BufferPlan(t, "arena", offsets.get(t, 0), life.size, first=life.first, last=life.last,
                                    ctype=ctype[t]))
        else:
            plans.append(BufferPlan(t, home[t], size=g.tensor(t).size * bits[t] // 8, ctype=ctype[t]))
    for life in lifetimes:
        if life.name in scratch:
            plans.append(BufferPlan(life.name, "arena", offsets.get(life.name, 0), life.size, first=life.first,
                                    last=life.last, ctype="int16_t"))
    return tuple(plans), arena


def scratch_name(unit: str) -> str:
    """The arena buffer a unit uses for its own work (a name no tensor has: tensor names have no NUL)."""
    return f"\0scratch:{unit}"
