"""The C cost model: a microcontroller runs the units one after another, so the design's latency is their sum;
its flash holds the weights, tables and code, its RAM one static arena of activations (planned here) and the stack.

A unit is one computing node (a Dense, Conv, pool, Softmax, a data movement such as Pad, Concat, Resize or
Transpose, or an elementwise op) and the per-element steps that follow it alone (Relu, Quantize, Requantize, Clip,
LeakyRelu, a table, a Mul or Add by a constant, a Reshape): they are applied to each result before it is stored.
A Dense is an inner-product loop over its nonzero weights: the SMLAD path (two 16-bit multiply-accumulates per
instruction, operands packed offline) where the CPU has the DSP extension and the operands and every partial sum
fit (16-bit operands, 32-bit sums), the portable loop otherwise; weights of 4 bits or fewer packed two per byte
where that saves flash (`pack_weights`: auto, the default, packs where the loop is the portable one and falls back
to packing where SMLAD's 16-bit pairs would not fit the board). A Conv is a direct convolution: for each output
position, the taps inside the input (padding is skipped by the loop bounds), four output channels at a time over
the input channels of each tap (a window row's taps as one loop where they lie side by side), SMLAD where it fits
and repays (reading 8-bit activations four at a time where the channels come in fours); a tap whose weights are
all zero for a block of outputs is skipped. An elementwise unit runs in place of an input that dies there where
the result is no wider; a Reshape is the same storage.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedOp
from ..ir.graph import Graph, Node
from ..ir.ops import op_def
from .c_kernel import (PACKED_BITS, blocked, code_bytes, conv_layout, conv_work, kernel_bytes, merge_rows,
                       packed_pairs, uint_bytes, window_geometry)
from .cost import Composition, CostModel, UnitSpec, group_units
from .memory import Lifetime, plan_arena
from .plan import MCU_RESOURCES, BufferPlan, Point, frozen_resources
from .timing import CpuModel, cpu_model

STACK_RESERVE = 512          # bytes of stack the inference needs at most (measured under qemu: well below)
CODE_BYTES_PER_UNIT = 160    # an elementwise unit's function: prologue, loop, requantization (measured: 100-250 bytes)
# First-order instruction counts (Thumb-2 at -O2), fitted to qemu's counts of the test models and ResNet-8 on the
# M0, M3 and M4 (within about a third per layer, closer on large layers):
LOOP_INSTRUCTIONS = 3        # per element of an elementwise loop: load, store, count
FINISH_INSTRUCTIONS = 6      # per result of a Dense or Conv: its alignment, bias and store
STEP_INSTRUCTIONS = {"Relu": 1, "Quantize": 3, "Clip": 2, "LeakyRelu": 3, "Mul": 2, "Add": 2, "Table": 2,
                     "Reshape": 0, "Requantize": 10}    # per element, a step applied to each result
CONV_MAC_INSTRUCTIONS = {"smlad": 0.9, "loop": 3.1, "loop-m0": 5.8, "depthwise": 3.0, "depthwise-m0": 5.0}
CONV_LOOP_INSTRUCTIONS = {"smlad": 24, "loop": 28, "depthwise": 14}  # per inner loop: its addresses and set-up
CONV_OUTPUT_INSTRUCTIONS = 12   # per result of a Conv besides its steps: the blocks' accumulators and loops
POOL_INSTRUCTIONS = (8, 6, 10)  # per tap and channel, per window row and channel, per result
DIVIDE_INSTRUCTIONS = {True: 20, False: 60}  # an average's exact rounded division: with / without a hardware divide
GATHER_INSTRUCTIONS = 8         # per element of a Pad, Resize or Transpose: source index, bounds, load, store
CONCAT_INSTRUCTIONS = 5         # per element of a Concat: load, align, store
SOFTMAX_INSTRUCTIONS = (60, 40)  # per row (maximum, sum, reciprocal), per element (exponential twice, round, clamp)
WIDEN_INSTRUCTIONS = 3          # per input element an SMLAD Conv copies into 16-bit scratch
CODE_BYTES = {"conv": 600, "pool": 320, "gather": 300, "concat": 200, "softmax": 360}
NO_HARDWARE_DIVIDE = ("cortex-m0", "cortex-m0plus")  # Armv6-M: no divide, and no multiply-accumulate
ARMV6M_LOOP_SCALE = 1.6         # Armv6-M's simple loops (elementwise, gathers, Concat, Softmax): fewer addressing
                                # modes and registers, measured on the M0


def const_operand(g: Graph, node: Node):
    """The constant operand of an Add or Mul by a constant (None for anything else)."""
    if node.op not in ("Add", "Mul"):
        return None
    consts = [g.tensor(t) for t in node.inputs if g.tensor(t).is_const]
    return consts[0] if len(consts) == 1 and len(node.inputs) == 2 else None


def activation_input(g: Graph, node: Node) -> str:
    """The input of an Add or Mul by a constant that is not the constant."""
    return next(t for t in node.inputs if not g.tensor(t).is_const)


def is_step(g: Graph, node: Node) -> bool:
    """A node that maps each value on its own (element i of its input to element i of its output): the C backend
    applies it to each result of the unit before it, as that result is stored."""
    if node.op in ("Relu", "Quantize", "Reshape", "Clip", "LeakyRelu", "Table", "Requantize"):
        return True
    return const_operand(g, node) is not None


def absorbs_step(g: Graph, head: Node, node: Node) -> bool:
    """Whether a unit takes along `node`, the one reader of its last result: any per-element step. Behind a Dense
    or Conv, whose results are told by their output channel, a step's constant must repeat along the channels (one
    value, or one per channel)."""
    if not is_step(g, node):
        return False
    c = const_operand(g, node)
    size = c.size if c is not None else len(node.attrs["multiplier"]) if node.op == "Requantize" else 1
    return head.op not in ("Dense", "Conv") or g.tensor(head.output).shape[-1] % size == 0


def unit_kind(g: Graph, node: Node) -> str:
    """The shape of the C function a unit's first node makes."""
    if node.op in ("Dense", "Conv", "Concat", "Softmax"):
        return node.op.lower()
    if node.op in ("MaxPool", "AvgPool"):
        return "pool"
    if node.op in ("Pad", "Resize", "Transpose"):
        return "gather"
    return "elementwise"


def conv_encoding(g: Graph, node: Node, dsp: bool) -> str:
    """How a Conv's kernel reads its weights: depthwise (one input channel per output), SMLAD pairs where the CPU
    has DSP and the operands fit, else the portable loop."""
    w = g.tensor(node.inputs[1])
    if w.shape[-2] == 1 and node.attrs["groups"] == w.shape[-1]:
        return "depthwise"
    return "smlad" if dsp and smlad_fits(g, node.name) else "loop"


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
    latency_model = "sum"       # one unit after another
    latency_offset = 0

    def __init__(self, cpu: CpuModel, clock_ns: float, pack_weights: str = "auto"):
        self.cpu = cpu
        self.clock_ns = clock_ns
        self.levels_per_stage = 0
        self.pack_weights = pack_weights
        self._cache: dict = {}

    @classmethod
    def for_board(cls, board, clock_ns: float, options=None) -> "CCostModel":
        return cls(cpu_model(board.cpu), clock_ns, (options or {}).get("pack_weights") or "auto")

    def units(self, g: Graph) -> list[UnitSpec]:
        return group_units(g, True, absorbs=lambda head, node: absorbs_step(g, head, node))

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
        head = g.node(unit.head)
        steps = [g.node(n) for n in unit.nodes[1:]]
        kind = unit_kind(g, head)
        if kind == "elementwise" and all(n.op == "Reshape" for n in [head] + steps):
            if unit.output not in g.outputs:
                return [("alias", 0, 0)], 1  # the same codes in the same storage
            return [("c_copy", 2 * out.size, CODE_BYTES_PER_UNIT)], 1  # into the caller's output buffer
        if kind == "elementwise" and is_step(g, head):   # the loop reads its input, the head is its first step
            steps = [head] + steps
        per_step = sum(STEP_INSTRUCTIONS[n.op] for n in steps)
        flash = sum(_step_flash(g, n) for n in steps)
        scale = ARMV6M_LOOP_SCALE if self.cpu.cpu in NO_HARDWARE_DIVIDE else 1.0
        if kind == "dense":
            return self._dense_variants(g, head, out.size * (FINISH_INSTRUCTIONS + per_step), flash)
        if kind == "conv":
            return self._conv_variants(g, head, per_step, flash)
        src = g.tensor(head.inputs[0])
        if kind == "elementwise":   # a load per input (an Add of two tensors: two)
            work = out.size * (LOOP_INSTRUCTIONS + len(unit.inputs) - 1 + per_step) * scale
            return [("c_elementwise", work, CODE_BYTES_PER_UNIT + flash)], 1
        work = out.size * per_step
        if kind == "pool":
            geo = window_geometry(src.shape, head.attrs)
            per_tap, per_row, per_out = POOL_INSTRUCTIONS
            taps = int(np.outer(geo["rows"]["reads"], geo["cols"]["reads"]).sum()) * geo["channels"]
            rows = sum(hi - lo for lo, hi in geo["rows"]["ranges"]) * geo["cols"]["n_out"] * geo["channels"]
            work += taps * per_tap + rows * per_row + out.size * per_out
            if head.op == "AvgPool":
                work += out.size * DIVIDE_INSTRUCTIONS[self.cpu.cpu not in NO_HARDWARE_DIVIDE]
            tables = sum(2 * ax["n_out"] for ax in (geo["rows"], geo["cols"]) if ax["clipped"])
            return [("c_pool", work, CODE_BYTES["pool"] + tables + flash)], 1
        if kind == "gather":
            maps = sum(len(m) * uint_bytes(m) for m in head.attrs.get("maps", ()))
            work += out.size * GATHER_INSTRUCTIONS
            return [("c_gather", work * scale, CODE_BYTES["gather"] + maps + flash)], 1
        if kind == "concat":
            work += out.size * CONCAT_INSTRUCTIONS
            return [("c_concat", work * scale, CODE_BYTES["concat"] + flash)], 1
        # softmax: its two tables, in the narrowest C types of their entries
        a = head.attrs
        per_row, per_element = SOFTMAX_INSTRUCTIONS
        work += out.size // out.shape[-1] * per_row + out.size * per_element
        tables = len(a["exp_table"]) * c_bytes(a["exp_type"].width) + len(a["inv_table"]) * c_bytes(a["inv_type"].width)
        return [("c_softmax", work * scale, CODE_BYTES["softmax"] + tables + flash)], 1

    def _conv_variants(self, g: Graph, node: Node, per_step: int, step_flash: int):
        """The direct convolution, as the portable loop and (where the CPU has DSP and the operands fit) with SMLAD,
        the fastest first: SMLAD does two multiply-accumulates per instruction but pads an odd channel count to
        pairs and widens a narrower input first, which a convolution with few input channels does not repay."""
        encodings = [conv_encoding(g, node, False)]
        if self.cpu.dsp and encodings[0] == "loop" and smlad_fits(g, node.name):
            encodings.append("smlad")
        variants = sorted((self._conv_variant(g, node, e, per_step, step_flash) for e in encodings),
                          key=lambda v: (v[1], v[2]))
        return variants, 1

    def _conv_variant(self, g: Graph, node: Node, encoding: str, per_step: int, step_flash: int):
        """Multiply-accumulates at the loop's or SMLAD's rate, plus each inner loop's set-up and each result's;
        flash: every block's weights of every tap (a skipped tap's too: its place keeps the addressing plain), the
        bias, the tap ranges and masks, and the code."""
        w, x, out = g.tensor(node.inputs[1]), g.tensor(node.inputs[0]), g.tensor(node.output)
        geo = window_geometry(x.shape, node.attrs)
        data = np.asarray(w.data).astype(np.int64).reshape(geo["taps"], w.shape[-2], w.shape[-1])
        layout = merge_rows(conv_layout(data, node.attrs["groups"], encoding), geo, node.attrs["groups"])
        macs, loops = conv_work(geo, layout)
        rate = encoding + ("-m0" if encoding != "smlad" and self.cpu.cpu in NO_HARDWARE_DIVIDE else "")
        instructions = (macs * CONV_MAC_INSTRUCTIONS[rate] + loops * CONV_LOOP_INSTRUCTIONS[encoding]
                        + out.size * (CONV_OUTPUT_INSTRUCTIONS + per_step))
        if encoding == "smlad" and node.inputs[0] in g.hw_inputs() \
                and w.shape[-2] % conv_lanes(8 * c_bytes(x.type.width)):   # a copy with room to read past the end
            instructions += x.size * WIDEN_INSTRUCTIONS
        weight_bytes = 4 if encoding == "smlad" else c_bytes(w.type.width)
        bias = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
        flash = (len(layout["weights"]) * weight_bytes + (bias.size * 4 if bias is not None else 0)
                 + (4 * len(layout["masks"]) if layout["masks"] else 0)
                 + sum(2 * ax["n_out"] for ax in (geo["rows"], geo["cols"]) if ax["clipped"])
                 + CODE_BYTES["conv"] + step_flash)
        return ("c_smlad" if encoding == "smlad" else "c_loop", instructions, flash)

    def _dense_variants(self, g: Graph, node: Node, finish: float, step_flash: int):
        w = g.tensor(node.inputs[1])
        macs = op_def(node).cost(g, node).mults
        bias = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
        fixed = (bias.size * c_bytes(bias.type.width) if bias is not None else 0) + step_flash
        codes = np.asarray(w.data).astype(np.int64)
        layout = blocked(codes.T)
        dsp = self.cpu.dsp and smlad_fits(g, node.name)
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


def _step_flash(g: Graph, node: Node) -> int:
    """Flash of a step's constants: a table's entries, a Mul's or Add's constant (one value is an immediate)."""
    if node.op == "Table":
        return len(node.attrs["table"]) * c_bytes(node.attrs["out_type"].width)
    if node.op == "Requantize":   # a multiplier (8 bytes) and a shift (1) per channel
        n = len(node.attrs["multiplier"])
        return 9 * n if n > 1 else 0
    c = const_operand(g, node)
    return c.size * 4 if c is not None and c.size > 1 else 0


def _ctype(bits: int, signed: bool) -> str:
    return f"{'' if signed else 'u'}int{bits}_t"


def plan_buffers(g: Graph, units: list[UnitSpec], chosen: dict) -> tuple[tuple[BufferPlan, ...], int]:
    """Where each unit's output lives and in which C type: the caller's output buffer, the same storage as its
    input (a Reshape; or an elementwise unit in place of an input that dies there), or a place in the arena; the
    arena from the lifetimes.

    A tensor an SMLAD unit reads in pairs (`reads_pairs`) is stored as int16_t, so that it reads two values with one
    load; the graph input (the caller's, in its own type) is widened into a scratch buffer by that unit instead. A
    Conv reads its input as it is stored otherwise, with room past the end where its loads may reach there (a
    widened copy where that is the caller's buffer). Returns (plans, bytes)."""
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
    pairs = {u.name for u in units if chosen[u.name].microarch == "c_smlad" and reads_pairs(g, u)}
    for u in units:
        x = g.node(u.head).inputs[0]
        if u.name in pairs and root[x] not in hw_in and root[x] not in out:
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
        producer_step[u.output] = step
        # an elementwise unit's result can take the place of an input that dies here (no narrower, as many elements):
        # element i of every input is read before element i is written
        src = next((t for t in u.inputs if home.get(root[t]) == "arena" and last_read(t) == step
                    and g.tensor(u.output).size == g.tensor(t).size and bits[u.output] <= bits[t]), None) \
            if micro == "c_elementwise" else None
        if u.output in out:
            root[u.output], home[u.output] = u.output, "out"
        elif micro == "alias":
            continue
        elif src is not None:
            for a, r in list(root.items()):
                if r == u.output:
                    root[a] = root[src]
        else:
            home[u.output] = "arena"
    slack: dict[str, int] = {}      # bytes an SMLAD Conv may read past a tensor's end
    for u in units:
        if chosen[u.name].microarch == "c_smlad":
            x = g.node(u.head).inputs[0]
            slack[root[x]] = max(slack.get(root[x], 0), smlad_overread(g, u, bits[x]))
    lifetimes, scratch = [], set()
    for t, r in root.items():
        if r == t and home[t] == "arena":
            size = max(g.tensor(a).size * bits[a] // 8 for a, ra in root.items() if ra == t) + slack.get(t, 0)
            lifetimes.append(Lifetime(t, size, producer_step[t], max(last_read(t), producer_step[t])))
    for step, u in enumerate(units):
        head = g.node(u.head)
        x = head.inputs[0]
        # widened into 16-bit scratch: a Dense's input one row at a time where it is not 16-bit, a Conv's whole input
        # (its windows overlap) where it would read past the end of the caller's buffer
        if chosen[u.name].microarch == "c_smlad" and (bits[x] != 16 if u.name in pairs else
                                                        smlad_overread(g, u, bits[x]) and home[root[x]] != "arena"):
            n = g.tensor(head.inputs[1]).shape[0] if head.op == "Dense" else g.tensor(x).size
            scratch.add(scratch_name(u.name))
            lifetimes.append(Lifetime(scratch_name(u.name), 2 * (n + n % 2) + smlad_overread(g, u, 16), step, step))
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


def reads_pairs(g: Graph, unit: UnitSpec) -> bool:
    """Whether an SMLAD unit reads its input as pairs of 16-bit values: a Dense, and a Conv whose input channels per
    group do not come in fours (one that does reads 8-bit storage four channels at a time: half the RAM)."""
    head = g.node(unit.head)
    return head.op == "Dense" or g.tensor(head.inputs[1]).shape[-2] % 4 != 0


def conv_lanes(bits: int) -> int:
    """Input channels an SMLAD Conv reads with one load: four of 8-bit storage (unpacked in pairs), two of 16-bit."""
    return 4 if bits == 8 else 2


def smlad_overread(g: Graph, unit: UnitSpec, bits: int) -> int:
    """Bytes an SMLAD Conv may read past its input's last element (stored in `bits`-bit integers): where the input
    channels per group are not a multiple of its lanes, a tap's last load reaches into the next channels (times
    zero weights), past the end at the last one."""
    head = g.node(unit.head)
    return 4 if head.op == "Conv" and g.tensor(head.inputs[1]).shape[-2] % conv_lanes(bits) else 0


def scratch_name(unit: str) -> str:
    """The arena buffer a unit uses for its own work (a name no tensor has: tensor names have no NUL)."""
    return f"\0scratch:{unit}"
