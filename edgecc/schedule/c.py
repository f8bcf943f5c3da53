"""The C cost model: a microcontroller runs the units one after another, so the design's latency is their sum;
its flash holds the weights and the code, its RAM one static arena of activations (planned here) and the stack.

A Dense is an inner-product loop over its nonzero weights: the SMLAD path (two 16-bit multiply-accumulates per
instruction, operands packed offline) where the CPU has the DSP extension and the operands and every partial sum
fit (16-bit operands, 32-bit sums), the portable loop otherwise. The nodes that follow a Dense or Add alone (Relu,
Quantize, Reshape) are applied to each result before it is stored; a Quantize or Relu on its own runs in place
over its input where that input dies there and the result is no wider; a Reshape is the same storage.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedOp
from ..ir.graph import Graph
from ..ir.ops import op_def
from .cost import Composition, CostModel, UnitSpec
from .memory import Lifetime, plan_arena
from .plan import MCU_RESOURCES, BufferPlan, Point, frozen_resources
from .timing import CpuModel, cpu_model

STACK_RESERVE = 512          # bytes of stack the inference needs at most (measured under qemu: well below)
CODE_BYTES_PER_UNIT = 160    # a unit's function: prologue, loops, requantization (measured: 100-250 bytes)
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

    def __init__(self, cpu: CpuModel, clock_ns: float):
        self.cpu = cpu
        self.clock_ns = clock_ns
        self.levels_per_stage = 0

    @classmethod
    def for_board(cls, board, clock_ns: float) -> "CCostModel":
        return cls(cpu_model(board.cpu), clock_ns)

    def points(self, g: Graph, unit: UnitSpec, reuses):
        out = g.tensor(unit.output)
        c_bytes(out.type.width)
        code = CODE_BYTES_PER_UNIT
        if unit.op == "Dense":
            node = g.node(unit.head)
            w = g.tensor(node.inputs[1])
            macs = op_def(node).cost(g, node).mults
            dsp = self.cpu.dsp and smlad_fits(g, unit.head)
            per_mac = self.cpu.dsp_instructions_per_mac if dsp else self.cpu.instructions_per_mac
            instructions = macs * per_mac + out.size * ELEMENTWISE_INSTRUCTIONS
            weight_bytes = (2 * int(np.count_nonzero(w.data))) if dsp else int(np.count_nonzero(w.data)) * \
                c_bytes(w.type.width)
            bias = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
            flash = weight_bytes + (bias.size * c_bytes(bias.type.width) if bias is not None else 0) + code
            micro = "c_smlad" if dsp else "c_loop"
        elif all(g.node(n).op == "Reshape" for n in unit.nodes) and unit.output not in g.outputs:
            instructions, flash, micro = 0, 0, "alias"  # the same codes in the same storage
        elif all(g.node(n).op == "Reshape" for n in unit.nodes):
            instructions, flash, micro = 2 * out.size, code, "c_copy"  # into the caller's output buffer
        else:
            instructions, flash, micro = out.size * ELEMENTWISE_INSTRUCTIONS, code, "c_elementwise"
        cycles = math.ceil(instructions * self.cpu.cycles_per_instruction)
        res = frozen_resources({"flash": flash}, keys=MCU_RESOURCES)
        return {1: Point(micro, 1, max(cycles, 1), 1 if cycles else 0, cycles, res)}

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
