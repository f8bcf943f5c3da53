"""The RTL cost model: the units the Verilog is built from, each one's exact stages and II, and how they compose.

A unit is a computing node (Dense, Conv, Add, a pool, ...) with the zero-cost nodes that follow it alone (Relu,
Quantize, Reshape), registered at its end; a node that only moves codes (Pad, Resize, Transpose, Reshape, a lone
Quantize) is wiring. A Conv is a Dense over every output position's window (`dense_matrix`). A fully parallel Dense is an adder graph with a register
every `levels_per_stage` adder levels; a folded one (reuse R) has ceil(K / R) multipliers per output that
accumulate over R cycles; a pe_array (FINN's folding) has P processing elements of S multipliers each that take the
N = outer x M neurons P at a time and their K inputs S at a time (II = ceil(N / P) x ceil(K / S)), the weights in a
ROM read one word per cycle (block RAM, distributed RAM or logic).

Composition, exact to the cycle:
- lock-step, when every unit with registers has the same II: all registers advance together once per beat of II
  cycles; a shorter path is balanced with delay registers. Latency = 1 + S * II, S the stages after the input
  register on the longest path.
- stream, when they differ: every unit has its own ready/valid handshake and runs at its own rate; the input is
  accepted at most once per design II (the slowest unit's), so no unit is ever busy when the next input reaches
  it and every input sees the same latency: the input register's cycle plus the sum of the unit latencies
  (stages x own II) along the longest path. An edge whose value must wait longer than the producer can hold it
  (a join of paths of different latency) gets a FIFO of the depth computed here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..ir.graph import Graph
from ..ir.ops import op_def
from .adder_graph import plan_of
from .cost import Composition, CostModel, UnitSpec, requantize_resources
from .plan import FPGA_RESOURCES, EdgePlan, Point, frozen_resources
from .search import reuse_candidates
from .timing import tree_depth


def dense_matrix(g: Graph, node) -> tuple[np.ndarray, np.ndarray | None, int]:
    """A Dense or Conv as one integer matrix [K, M] applied at `outer` positions: (matrix, bias codes, outer).
    A grouped Conv's matrix is block diagonal over the whole window (the zero blocks cost nothing)."""
    w = g.tensor(node.inputs[1])
    bias = g.tensor(node.inputs[2]).data if len(node.inputs) > 2 else None
    x = g.tensor(node.inputs[0])
    if node.op == "Dense":
        return np.asarray(w.data), bias, x.size // w.shape[0]
    groups = node.attrs["groups"]
    taps = int(np.prod(node.attrs["kernel"]))
    cin, cout = x.shape[-1], w.shape[-1]
    cin_g, cout_g = cin // groups, cout // groups
    blocks = np.asarray(w.data).reshape(taps, cin_g, cout)
    full = np.zeros((taps, cin, cout), dtype=blocks.dtype)
    for grp in range(groups):
        full[:, grp * cin_g:(grp + 1) * cin_g, grp * cout_g:(grp + 1) * cout_g] = \
            blocks[:, :, grp * cout_g:(grp + 1) * cout_g]
    return full.reshape(taps * cin, cout), bias, g.tensor(node.output).size // cout


# ops a unit computes and registers (one stage); the others move codes only (no logic, no register of their own)
REGISTERED_OPS = ("Add", "Concat", "MaxPool", "AvgPool", "Clip", "LeakyRelu", "Mul", "Table", "Softmax", "Requantize")


# A streaming design where the whole-vector one would be this large (multiply-accumulates of its window ops)
STREAM_AUTO_MACS = 50_000

MEMORY_KINDS = ("block", "distributed", "logic")   # where a pe_array's weights live (the ROM's rom_style)
MAX_CANDIDATES = 64                                 # pe_array points kept per unit (after dropping dominated ones)

# Costs: FFs and DSPs are counted from the structure the emitter builds; LUTs are the family's (LUT4 on iCE40, LUT6
# on Xilinx: a k-input LUT holds a 2**k-bit table or a mux of `mux_ways` inputs), each term scaled by a FamilyTiming
# coefficient fitted to Yosys 0.23 (benchmarks/cost_calibration.py).


@dataclass(frozen=True)
class PEPlan:
    """A pe_array: `pe` processing elements x `simd` lanes; neuron n = nf * pe + p is computed by PE p in neuron
    fold nf, input i = sf * simd + s by lane s in synapse fold sf; phase = nf * synapse_fold + sf. The weights are
    one ROM word per phase (every PE's lanes side by side), read synchronously (`memory`: block, distributed or
    logic, the ROM's rom_style)."""

    pe: int
    simd: int
    neuron_fold: int
    synapse_fold: int
    memory: str

    @property
    def ii(self) -> int:
        return self.neuron_fold * self.synapse_fold

    def to_json(self) -> dict:
        return {"pe": self.pe, "simd": self.simd, "neuron_fold": self.neuron_fold,
                "synapse_fold": self.synapse_fold, "memory": self.memory}


def rom_field_width(lo: int, hi: int) -> int:
    """Bits a ROM field of values in [lo, hi] takes: no sign bit where none is negative, 0 where all are zero."""
    lo, hi = min(lo, 0), max(hi, 0)
    if lo == hi == 0:
        return 0
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1 if lo < 0 else hi.bit_length()


def pe_lane_widths(matrix: np.ndarray, n_total: int, pe: int, simd: int) -> np.ndarray:
    """The ROM field width of every lane, [pe, simd]: lane (p, s) multiplies the weights of inputs s, s + simd, ...
    (rows) by those of PE p's neurons (columns j = (nf * pe + p) mod M); 0 where they are all zero."""
    k, m = matrix.shape
    sf = -(-k // simd)
    padded = np.zeros((sf * simd, m), dtype=np.int64)
    padded[:k] = matrix
    rows = padded.reshape(sf, simd, m)
    lo, hi = rows.min(axis=0), rows.max(axis=0)                  # [simd, m]: over the synapse folds
    widths = np.zeros((pe, simd), dtype=np.int64)
    for p in range(pe):
        cols = sorted({n % m for n in range(p, min(n_total, p + pe * m), pe)})   # the pattern repeats after m
        for s, (a, b) in enumerate(zip(lo[:, cols].min(axis=1), hi[:, cols].max(axis=1))):
            widths[p, s] = rom_field_width(int(a), int(b))
    return widths


def _signed_width(lo: int, hi: int) -> int:
    """Bits of the narrowest two's complement number holding [lo, hi] (the RTL netlist's wire width)."""
    lo, hi = min(lo, 0), max(hi, 0)
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


def _control_luts(timing, ii: int) -> float:
    """A folded unit's handshake in a stream design (edgecc_stream_ctrl.v: its phase counter, valid bit and the
    compare at the last phase), counted with the unit so the search sees it."""
    return (1 + max(1, (ii - 1).bit_length())) * timing.control_luts_per_bit if ii > 1 else 0.0


def _mux_ways(lut_inputs: int) -> int:
    """Inputs of the widest multiplexer one LUT is (a 2:1 in a LUT4, a 4:1 in a LUT6)."""
    m = 1
    while 2 * m + (2 * m).bit_length() - 1 <= lut_inputs:
        m *= 2
    return m


def _fold_options(n: int) -> list[int]:
    """Divisors of n and powers of two below it."""
    out = {d for d in range(1, math.isqrt(n) + 1) if n % d == 0}
    out |= {n // d for d in out}
    p = 1
    while p < n:
        out.add(p)
        p *= 2
    return sorted(out)


def _dominated(p: Point, q: Point) -> bool:
    """q is no worse than p in II, latency and every resource, and better in one."""
    a = [p.ii_cycles, p.latency_cycles] + [p.resources.get(k, 0) for k in FPGA_RESOURCES]
    b = [q.ii_cycles, q.latency_cycles] + [q.resources.get(k, 0) for k in FPGA_RESOURCES]
    return all(y <= x for x, y in zip(a, b)) and any(y < x for x, y in zip(a, b))


def pareto(points: list[Point], cap: int = MAX_CANDIDATES) -> list[Point]:
    """The points no other one dominates, fastest first; at most `cap` of them, keeping the fastest and the most
    folded and an even spread between."""
    kept = [p for p in points if not any(_dominated(p, q) for q in points if q is not p)]
    kept.sort(key=lambda p: (p.ii_cycles, p.latency_cycles, sum(p.resources.values())))
    if len(kept) > cap:
        step = (len(kept) - 1) / (cap - 1)
        kept = [kept[round(i * step)] for i in range(cap)]
    return kept


class RtlCostModel(CostModel):
    backend = "rtl"
    fuse_zero_cost = True
    fusing_heads = None   # every computing node registers its result after the zero-cost nodes that follow it

    def __init__(self, timing, clock_ns: float, io_type: str = "auto", budget=None):
        super().__init__(timing, clock_ns)
        self.io_type = io_type
        self.budget = dict(budget or {})
        self.view = None
        self._compositions: dict = {}

    @classmethod
    def for_board(cls, board, clock_ns: float, options=None) -> "RtlCostModel":
        from .timing import family_timing

        return cls(family_timing(board.family), clock_ns, (options or {}).get("io_type") or "auto",
                   dict(board.resources))

    def units(self, g):
        if self._streams(g):
            from .rtl_stream import stream_view

            self.view = stream_view(g)
            return super().units(self.view.tg)
        return super().units(g)

    @property
    def latency_model(self):
        """Whole-vector designs: the input register plus the longest path of unit latencies (lock-step and stream
        compositions alike; a FIFO's extra cycle is checked after). Pixel streams: the cycle-exact model only."""
        return None if self.view is not None else "path"

    def _streams(self, g) -> bool:
        """Stream pixels (window generators, per-token units) where asked, or where a whole-vector design of the
        window ops would exceed STREAM_AUTO_MACS multiply-accumulates."""
        if self.io_type != "auto":
            return self.io_type == "stream"
        windows = [n for n in g.compute_nodes() if n.op in ("Conv", "MaxPool", "AvgPool")]
        return bool(windows) and sum(op_def(n).cost(g, n).mults for n in windows) > STREAM_AUTO_MACS

    def _graph(self, g):
        return self.view.tg if self.view is not None else g

    def max_reuse(self, g, unit):
        g = self._graph(g)
        if unit.op not in ("Dense", "Conv"):
            return 1
        return max(1, dense_matrix(g, g.node(unit.head))[0].shape[0])  # one multiplier per output at most

    def points(self, g: Graph, unit: UnitSpec, reuses):
        """The adder graph (reuse 1) and reuse_mac points at these reuse factors (the scheduler asks `candidates`)."""
        return self._points(self._graph(g), unit, reuses)

    def _points(self, g: Graph, unit: UnitSpec, reuses) -> dict[int, Point]:
        node = g.node(unit.head)
        out = g.tensor(unit.output)
        out_bits = out.size * out.type.width
        if unit.op == "Requantize":
            return {1: Point("elementwise", 1, 1, 1, 1, frozen_resources(requantize_resources(g, node, out.size)))}
        if unit.op in REGISTERED_OPS:
            lut = round(out_bits * self.timing.elementwise_luts_per_bit) + \
                sum(len(a) * out.type.width for a in (node.attrs.get("table"),) if a)
            return {1: Point("elementwise", 1, 1, 1, 1, frozen_resources({"lut": lut, "ff": out_bits}))}
        if unit.op not in ("Dense", "Conv"):
            lut = out_bits if any(g.node(n).op == "Quantize" for n in unit.nodes) else 0
            return {1: Point("wiring", 1, 1, 0, 0, frozen_resources({"lut": lut}))}
        points, cap = {}, self.max_reuse(g, unit)
        for reuse in sorted(set(reuses)):
            if 1 <= reuse <= cap:
                points[reuse] = self._adder_graph(g, node, out_bits) if reuse == 1 else \
                    self._reuse_mac(g, node, reuse, out_bits)
        return points

    # ---- every point a unit may take (the scheduler's view) ---------------------------------------------------
    def candidates(self, g: Graph, unit: UnitSpec, layer_config=None) -> list[Point]:
        """Every point the unit may take, none dominated by another (II, latency, resources), fastest first. A
        Dense or Conv: its adder graph, reuse_mac at powers of two up to its largest reuse (and that), pe_array at
        P in the divisors of N and powers of two below it, S likewise of K, in each memory the board has; the
        layer config's pe / simd / ram_style narrow it to the matching pe_array points. Any other unit: its one."""
        tg = self._graph(g)
        node = tg.node(unit.head)
        _check_fused_config(g, unit)
        _check_layer_config(tg, unit, layer_config)
        if unit.op not in ("Dense", "Conv"):
            return list(self._points(tg, unit, [1]).values())
        n, k = self.pe_shape(tg, unit)
        out = tg.tensor(unit.output)
        out_bits = out.size * out.type.width
        memories = self._memories(layer_config, unit.head)
        if layer_config is not None and (layer_config.pe or layer_config.simd):
            pes = [layer_config.pe] if layer_config.pe else _fold_options(n)
            simds = [layer_config.simd] if layer_config.simd else _fold_options(k)
            return pareto([self._pe_array(tg, node, p, s, m, out_bits) for p in pes for s in simds
                           for m in memories])
        fixed = getattr(layer_config, "reuse_factor", None)
        if fixed:   # hls4ml's knob: that reuse (capped), as the config says
            return list(self._points(tg, unit, [min(fixed, self.max_reuse(tg, unit))]).values())
        points = list(self._points(tg, unit, reuse_candidates(self.max_reuse(tg, unit))).values())
        points += [self._pe_array(tg, node, p, s, m, out_bits) for p in _fold_options(n) for s in _fold_options(k)
                   if (p, s) != (n, k) for m in memories]
        return pareto(points)

    def pe_shape(self, g: Graph, unit: UnitSpec) -> tuple[int, int]:
        """(N, K) of a Dense or Conv unit: neurons (outputs at every position) and inputs per neuron."""
        matrix, _, outer = dense_matrix(g, g.node(unit.head))
        return outer * matrix.shape[1], matrix.shape[0]

    def configured_point(self, g: Graph, unit: UnitSpec, layer) -> Point:
        """The one pe_array point a layer config asks for (an unset pe or simd is 1; ram_style auto: the memory
        that takes the smallest share of the board)."""
        tg = self._graph(g)
        _check_layer_config(tg, unit, layer)
        out = tg.tensor(unit.output)
        node = tg.node(unit.head)
        points = [self._pe_array(tg, node, layer.pe or 1, layer.simd or 1, m, out.size * out.type.width)
                  for m in self._memories(layer, unit.head)]
        return min(points, key=lambda p: sum(v / self.budget[r] if self.budget.get(r) else v
                                             for r, v in p.resources.items()))

    def _memories(self, layer, name: str) -> list[str]:
        """The weight memories this board offers (block RAM where it has some, distributed RAM on Xilinx, logic),
        or the one the layer config names."""
        offered = [m for m in MEMORY_KINDS if m == "logic" or
                   (m == "block" and self.timing.bram_shapes and self.budget.get("bram", 1) > 0) or
                   (m == "distributed" and self.timing.lutram_bits)]
        style = getattr(layer, "ram_style", None) if layer is not None else None
        if style in (None, "auto"):
            return offered
        if style not in offered:
            raise ModelError(f"config layer {name!r}: ram_style {style!r} is not available on this board "
                             f"({self.timing.family}: {', '.join(offered)})")
        return [style]

    def _pe_array(self, g, node, pe: int, simd: int, memory: str, out_bits: int) -> Point:
        """P processing elements x S lanes (see PEPlan): multipliers, accumulators, input and bias selects, the
        weight ROM, the holding and output registers, the fold counters."""
        t = self.timing
        acc = node.attrs["accumulator_type"]
        x, w = g.tensor(node.inputs[0]), g.tensor(node.inputs[1])
        matrix, bias, outer = dense_matrix(g, node)
        k, m = matrix.shape
        n = outer * m
        nf, sf = -(-n // pe), -(-k // simd)
        ii = nf * sf
        value_bits = out_bits // n
        ways = _mux_ways(t.lut_inputs)

        def mux(options: int) -> int:   # LUTs per bit of an n-way multiplexer
            return -(-(options - 1) // (ways - 1)) if options > 1 else 0

        def table(bits: int) -> int:    # LUTs of a constant table
            return -(-bits // (1 << t.lut_inputs))

        lanes = pe_lane_widths(matrix, n, pe, simd)
        mults = int(np.count_nonzero(lanes))
        product_bits = x.type.width + w.type.width
        wide = product_bits >= t.dsp_min_variable_product_bits and self.budget.get("dsp", 1) > 0
        lut = 0 if wide else int(mults * x.type.width * w.type.width * t.mult_luts_per_bit_pair)
        lut += int(pe * ((simd - 1) * product_bits * t.adder_luts_per_bit + acc.width * t.accumulator_luts_per_bit))
        lut += int(pe * acc.width * t.quant_luts_per_acc_bit)
        selects = simd * outer * x.type.width * mux(sf)                     # lanes by synapse fold
        if outer > 1:                                                       # a Conv: the position by neuron fold
            selects += mults * x.type.width * mux(min(nf, outer))
        lut += int(selects * t.select_luts_factor)
        if bias is not None and nf > 1:
            lut += table(pe * nf * acc.width)
        phase_bits = max(1, (ii - 1).bit_length())
        lut += 2 * phase_bits + (nf - 1) * -(-phase_bits // (t.lut_inputs - 1))   # counters, hold enables
        ff = (pe * acc.width if sf > 1 else 0) + min(n, (nf - 1) * pe) * value_bits + out_bits + 2 * phase_bits
        rom_width, bram = int(lanes.sum()), 0
        if ii > 1:
            if memory == "block":
                bram = t.bram_blocks(rom_width, ii)
            else:   # distributed or logic: Yosys builds both in LUTs (as Vivado builds a distributed ROM)
                lut += int((table(rom_width * ii) + rom_width * mux(table(ii))) * t.rom_logic_luts_factor)
                ff += rom_width
        res = {"lut": lut + round(_control_luts(t, ii)), "ff": ff, "dsp": mults if wide else 0, "bram": bram}
        return Point("pe_array", ii, ii, 1, ii, frozen_resources(res), detail=PEPlan(pe, simd, nf, sf, memory))

    def _adder_graph(self, g, node, out_bits) -> Point:
        acc = node.attrs["accumulator_type"]
        x = g.tensor(node.inputs[0])
        matrix, bias, outer = dense_matrix(g, node)
        dplan = plan_of(matrix, bias)
        stages = self.timing.stages_for(dplan.depth, self.clock_ns) if dplan.depth else 1
        terms = [len(l) + 1 for l in dplan.leaves] * outer
        width = (acc.width + x.type.width) // 2 + 1  # adders widen from the inputs to the accumulator
        k = max(1, -(-dplan.depth // stages)) if dplan.depth else 1
        # a register between stages holds a partial sum: between the adders' average width and the accumulator's
        pipeline = sum(-(-t // (1 << level)) for t in terms for level in range(k, dplan.depth, k)) * \
            ((width + acc.width) // 2)
        n_out = matrix.shape[1] * outer
        lut = dplan.adders * outer * width * self.timing.adder_luts_per_bit + \
            n_out * acc.width * self.timing.quant_luts_per_acc_bit
        res = {"lut": round(lut), "ff": out_bits + pipeline}
        return Point("adder_graph", 1, 1, stages, stages, frozen_resources(res), depth=dplan.depth, detail=dplan)

    def _reuse_mac(self, g, node, reuse, out_bits) -> Point:
        """ceil(K / R) multipliers per output (as backends/rtl/ops.py builds it): each multiplies an input selected
        by phase with a weight selected by phase from a column of constants, so Yosys sees a variable product and
        puts it on a DSP slice where it is wide enough (mul2dsp) and the board has them; a product tree and an
        accumulator per output; the output register."""
        t = self.timing
        acc = node.attrs["accumulator_type"]
        x = g.tensor(node.inputs[0])
        matrix, _, outer = dense_matrix(g, node)
        k, m = matrix.shape
        per = -(-k // reuse)
        padded = np.zeros((per * reuse, m), dtype=np.int64)
        padded[:k] = matrix
        cols = padded.reshape(reuse, per, m)                   # phase, multiplier slot, output
        lo, hi = np.minimum(cols.min(axis=0), 0), np.maximum(cols.max(axis=0), 0)
        x_bits = _signed_width(x.type.min_int, x.type.max_int)
        ways = _mux_ways(t.lut_inputs)
        sel_luts = -(-(reuse - 1) // (ways - 1)) if reuse > 1 else 0   # per bit of a phase-selected value
        lut = dsp = 0
        use_dsp = self.budget.get("dsp", 1) > 0
        for j in range(m):
            products = 0
            for slot in range(per):
                if lo[slot, j] == hi[slot, j] == 0:
                    continue
                w_bits = _signed_width(int(lo[slot, j]), int(hi[slot, j]))
                corners = [a * b for a in (x.type.min_int, x.type.max_int) for b in (int(lo[slot, j]), int(hi[slot, j]))]
                p_bits = _signed_width(min(corners), max(corners))
                if use_dsp and p_bits >= t.dsp_min_variable_product_bits:
                    dsp += -(-x_bits // t.dsp_operand_bits[0]) * -(-w_bits // t.dsp_operand_bits[1])
                else:
                    lut += x_bits * w_bits * t.mult_luts_per_bit_pair
                lut += w_bits * max(1, sel_luts) * t.const_select_luts_per_bit
                lut += p_bits * t.adder_luts_per_bit if products else 0   # the product tree
                products += 1
            lut += acc.width * (t.accumulator_luts_per_bit + t.quant_luts_per_acc_bit)
        lut = lut * outer + outer * per * x_bits * sel_luts * t.select_luts_factor   # the inputs selected by phase
        lut += _control_luts(t, reuse)
        res = {"lut": round(lut), "ff": out_bits + m * outer * acc.width, "dsp": dsp * outer}
        return Point("reuse_mac", reuse, reuse, 1, reuse, frozen_resources(res))

    # ---- composition ------------------------------------------------------------------------------------
    def compose(self, g, units, chosen):
        if self.view is not None:
            key = tuple((u.name, chosen[u.name].microarch, chosen[u.name].reuse) for u in units)
            if key not in self._compositions:
                self._compositions[key] = _pixel(self.view, units, chosen)
            return self._compositions[key]
        iis = {chosen[u.name].ii_cycles for u in units if chosen[u.name].stages > 0}
        if len(iis) <= 1:
            return _lockstep(g, units, chosen, max(iis or {1}))
        return _stream(g, units, chosen, max(iis))


def _check_fused_config(g: Graph, unit: UnitSpec) -> None:
    """pe or simd on a node fused behind the unit's computing node is an error."""
    config = getattr(g, "config", None)
    for name in unit.nodes[1:] if config is not None else ():
        layer = config.layers.get(name)
        if layer is not None and (layer.pe or layer.simd):
            raise ModelError(f"config layer {name!r}: pe and simd apply to Dense and Conv layers, not "
                             f"{g.node(name).op}")


def _check_layer_config(g: Graph, unit: UnitSpec, layer) -> None:
    """pe and simd fold a Dense or Conv, at most to its N neurons and K inputs per neuron."""
    if layer is None or not (layer.pe or layer.simd):
        return
    if unit.op not in ("Dense", "Conv"):
        raise ModelError(f"config layer {unit.head!r}: pe and simd apply to Dense and Conv layers, not {unit.op}")
    matrix, _, outer = dense_matrix(g, g.node(unit.head))
    n, k = outer * matrix.shape[1], matrix.shape[0]
    if layer.pe and layer.pe > n:
        raise ModelError(f"config layer {unit.head!r}: pe {layer.pe} exceeds its {n} neurons")
    if layer.simd and layer.simd > k:
        raise ModelError(f"config layer {unit.head!r}: simd {layer.simd} exceeds its {k} inputs per neuron")


def _pixel(view, units: list[UnitSpec], chosen: dict[str, Point]) -> Composition:
    """A streaming design's timing from its cycle-exact model (rtl_stream.pixel_timing)."""
    from .rtl_stream import pixel_timing, stages_of

    tg = view.tg
    stages = stages_of(view, units, chosen)
    timing = pixel_timing(view, stages)
    edges = tuple(EdgePlan(t, reader, "fifo", depth) for (t, reader), depth in sorted(timing.fifos.items()))
    start = {u.name: 0 for u in units}
    ready = {u.name: timing.latency for u in units}
    ff = sum(depth * _bus_bits(tg, t) for (t, _), depth in timing.fifos.items())
    ff += sum((w.history - 1 + w.taps) * w.channels * w.width for w in view.windows)
    ff += sum(x.count * _bus_bits(tg, x.input) for x in view.gathers)
    ff += _input_bits(tg)   # the input register (one token)
    return Composition("pixel", timing.latency, timing.period, start, ready, edges, 0, {"ff": ff})


def _input_bits(g: Graph) -> int:
    """The top's input register (x_reg): every input bit."""
    return sum(_bus_bits(g, t) for t in g.hw_inputs())


def _bus_bits(g: Graph, tensor: str) -> int:
    t = g.tensor(tensor)
    return t.size * t.type.width


def _lockstep(g: Graph, units: list[UnitSpec], chosen: dict[str, Point], ii: int) -> Composition:
    """Beats: the input register is beat 0; a unit's output is ready `stages` beats after its last input."""
    arrival = {t: 0 for t in g.hw_inputs()}
    start, ready, edges = {}, {}, []
    for u in units:
        start[u.name] = max((arrival[t] for t in u.inputs), default=0)
        ready[u.name] = start[u.name] + chosen[u.name].stages
        arrival[u.output] = ready[u.name]
    stages = max(1, max(arrival[t] for t in g.outputs))
    delay_bits = 0
    for u in units:
        for t in dict.fromkeys(u.inputs):
            beats = start[u.name] - arrival[t]
            edges.append(EdgePlan(t, u.name, "delay" if beats else "none", beats))
            delay_bits += beats * _bus_bits(g, t)
    for t in g.outputs:  # a graph of wiring only still registers its output
        beats = stages - arrival[t]
        edges.append(EdgePlan(t, "", "delay" if beats else "none", beats))
        delay_bits += beats * _bus_bits(g, t)
    # the top's registers: the input register, one valid bit per stage and the input's, the phase counter
    control = stages + 1 + (max(1, (ii - 1).bit_length()) if ii > 1 else 0)
    return Composition("lockstep", 1 + stages * ii, ii, start, ready, tuple(edges), stages,
                       {"ff": _input_bits(g) + delay_bits + control})


def _stream(g: Graph, units: list[UnitSpec], chosen: dict[str, Point], ii: int) -> Composition:
    """Cycles: an input accepted at cycle 0 is in the input register at cycle 1.

    A registered value must be taken before its producer needs the room again: a pipeline of S stages that moves
    as one (II 1) needs it when the next input enters, II - S cycles after the value appeared (any time if it is
    taken at once); a folded unit or the input register only at its next write, II - 1 cycles after. A reader that
    would keep it longer reads it through a FIFO (one more cycle on that edge), so FIFOs are added until every
    edge keeps its value no longer than its producer allows."""
    allowed = {t: ii - 1 for t in g.hw_inputs()}  # how long each value may be kept by its readers
    for u in units:
        p = chosen[u.name]
        if p.stages == 0:  # wiring: its value is its input's
            allowed[u.output] = allowed[u.inputs[0]]
        else:
            allowed[u.output] = ii - 1 if p.ii_cycles > 1 else max(0, ii - p.stages)

    def consumed_after(u: UnitSpec) -> int:  # a folded unit reads its input until its last phase
        p = chosen[u.name]
        return p.ii_cycles - 1 if p.stages else 0

    fifos: set[tuple[str, str]] = set()
    while True:
        arrival = {t: 1 for t in g.hw_inputs()}
        start, ready = {}, {}
        for u in units:
            p = chosen[u.name]
            start[u.name] = max((arrival[t] + ((t, u.name) in fifos) for t in u.inputs), default=1)
            ready[u.name] = start[u.name] + p.stages * p.ii_cycles
            arrival[u.output] = ready[u.name]
        hold = {(t, u.name): start[u.name] + consumed_after(u) - arrival[t]
                for u in units if chosen[u.name].stages for t in u.inputs}
        late = {e for e, h in hold.items() if e not in fifos and h > allowed[e[0]]}
        if not late:
            break
        fifos |= late
    edges, fifo_bits = [], 0
    for u in units:
        for t in dict.fromkeys(u.inputs):
            if (t, u.name) in fifos:
                depth = (hold[(t, u.name)] - 1) // ii + 2
                edges.append(EdgePlan(t, u.name, "fifo", depth))
                fifo_bits += depth * _bus_bits(g, t)
            else:
                edges.append(EdgePlan(t, u.name))
    edges += [EdgePlan(t, "") for t in g.outputs]
    latency = max(arrival[t] for t in g.outputs)
    # each unit's handshake (a valid bit per stage, a phase counter where folded); the input register, its valid
    # bit and the gap counter that spaces inputs II cycles apart
    control = sum(chosen[u.name].stages + (max(1, (chosen[u.name].ii_cycles - 1).bit_length())
                                           if chosen[u.name].ii_cycles > 1 else 0) for u in units if chosen[u.name].stages)
    control += 1 + max(1, (ii - 1).bit_length())
    return Composition("stream", latency, ii, start, ready, tuple(edges), 0,
                       {"ff": _input_bits(g) + fifo_bits + control})


# ---- timing: the deepest register-to-register path, in adder levels ------------------------------------------
def unit_path(g: Graph, unit, levels_per_stage: int) -> tuple[int, int]:
    """(adder levels, bits) of a unit's deepest register-to-register path as the emitter builds it: an adder graph
    registered every `levels_per_stage` levels, its last segment followed by the fused rounding and clamp; a folded
    Dense's phase select, multiplier, product tree and accumulator; one level for an element-wise op."""
    p = unit.point
    node = g.node(unit.head)
    out = g.tensor(unit.output)
    # the fused ops after the last register: rounding is one more adder, a clamp or ReLU a compare and select
    post = sum(1 for n in unit.nodes[1:] if g.node(n).op == "Quantize")
    if p.microarch == "adder_graph":
        acc = node.attrs["accumulator_type"]
        depth, k = max(p.depth, 1), levels_per_stage
        last = depth - (math.ceil(depth / k) - 1) * k
        return max(min(depth, k), last + post), acc.width
    if p.microarch in ("reuse_mac", "pe_array"):   # phase select, multiplier, product tree, accumulator
        acc = node.attrs["accumulator_type"]
        x_bits, w_bits = (g.tensor(t).type.width for t in node.inputs[:2])
        k = dense_matrix(g, node)[0].shape[0]
        lanes = p.detail.simd if p.microarch == "pe_array" else math.ceil(k / p.reuse)
        multiplier = 1 + math.ceil(math.log2(max(2, min(x_bits, w_bits))))
        return 1 + multiplier + tree_depth(lanes) + 1 + post, acc.width
    if p.microarch == "elementwise":
        return 1 + post, out.type.width
    return 0, 0


def critical_path(g: Graph, schedule, timing) -> dict:
    """The unit whose path the timing model finds slowest, its adder levels and width, and the Fmax it predicts."""
    best = {"unit": None, "levels": 0, "width": 0, "ns": 0.0}
    for unit in schedule.units:
        levels, width = unit_path(g, unit, schedule.levels_per_stage)
        if levels and timing.path_ns(levels, width) > best["ns"]:
            best = {"unit": unit.name, "levels": levels, "width": width, "ns": timing.path_ns(levels, width)}
    levels, width = max(best["levels"], 1), best["width"] or 8
    return {"unit": best["unit"], "levels": levels, "width": width,
            "predicted_fmax_mhz": round(timing.predicted_fmax_mhz(levels, width), 2)}
