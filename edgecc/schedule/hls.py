"""The HLS cost model: first-order estimates of what Vitis HLS builds for each layer, in either I/O style.

io_parallel ("pipeline" composition): every node is one stage of one pipelined function; its II is the largest
layer II, its latency the longest path through the layers (the input register counts one cycle), not their sum.
A Dense or Conv with reuse R shares ceil(MACs / R) multipliers over R cycles.

io_stream ("dataflow" composition): every node is a process reading and writing streams of pixels (all channels
of one position). A process is busy `interval` cycles per inference (the design's II is the largest), gives its
first pixel `delay` cycles after its first input and its last `depth` cycles after its last input; a Conv or Dense
with reuse R spends R cycles per pixel on ceil(MACs per pixel / R) multipliers. Line buffers, row and frame buffers
and FIFOs go to block RAM when they are large. Each edge gets a FIFO deep enough for the pixels its producer makes
before its reader can start (a skip connection waits for the longer branch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir.graph import Graph, Node
from ..ir.ops import op_def
from .cost import Composition, CostModel, UnitSpec, requantize_resources
from .plan import EdgePlan, Point, add_resources, frozen_resources
from .timing import tree_depth

IO_TYPES = ("parallel", "stream", "auto")   # the compile option's choices, the default first
WINDOW_OPS = ("Conv", "MaxPool", "AvgPool")
REGISTER_BITS = 1024   # a buffer up to this size stays in registers; a larger one takes block RAM
LUT_ROM_BITS = 64      # one LUT6 holds 64 bits of a ROM
MIN_FIFO_DEPTH = 2


@dataclass(frozen=True)
class StreamTiming:
    """A dataflow process's timing per inference, in cycles (see the module docstring)."""

    delay: int
    interval: int
    depth: int


def _pixels(g: Graph, tensor: str) -> int:
    t = g.tensor(tensor)
    return t.size // t.shape[-1]


def _window_lag(g: Graph, node: Node) -> int:
    """Input pixels a windowed node reads before its first output's window is complete (its line buffer's fill)."""
    shape = g.tensor(node.inputs[0]).shape
    rank = len(shape) - 1
    a = node.attrs
    last = []
    for axis in range(rank):
        pos = (a["kernel"][axis] - 1) * a["dilations"][axis] - a["pads"][axis]
        last.append(min(max(pos, 0), shape[axis] - 1))
    index = 0
    for axis in range(rank):
        index = index * shape[axis] + last[axis]
    return index + 1


def is_global_pool(g: Graph, node: Node) -> bool:
    """A pool whose one window is the whole input (GlobalAveragePool, GlobalMaxPool): no padding, one output."""
    a = node.attrs
    spatial = g.tensor(node.inputs[0]).shape[:-1]
    return tuple(a["kernel"]) == tuple(spatial) and not any(a["pads"]) and all(d == 1 for d in a["dilations"])


class HlsCostModel(CostModel):
    backend = "hls"

    def __init__(self, timing, clock_ns: float, io_type: str = "parallel"):
        super().__init__(timing, clock_ns)
        self.io_type = io_type
        self.streaming = io_type == "stream"

    @classmethod
    def for_board(cls, board, clock_ns: float, options=None) -> "HlsCostModel":
        from .timing import family_timing

        return cls(family_timing(board.family), clock_ns, (options or {}).get("io_type") or "parallel")

    @property
    def latency_model(self):
        """The pipelined function's latency is the input register plus the longest path; dataflow's is not linear."""
        return None if self.stream else "path"

    @property
    def stream(self) -> bool:
        return self.streaming

    def units(self, g):
        """Every node is a unit; with io_type auto the design streams where the model has windows (a CNN)."""
        if self.io_type == "auto":
            self.streaming = any(n.op in WINDOW_OPS for n in g.compute_nodes())
        return super().units(g)

    # ---- folding ------------------------------------------------------------------------------------------------
    def _macs(self, g: Graph, node: Node) -> int:
        """Products that share multipliers: the whole layer's (parallel), one beat's (stream: an output pixel of a
        Conv, an input pixel of a Dense row)."""
        macs = op_def(node).cost(g, node).mults
        if not self.stream:
            return macs
        return math.ceil(macs / self._beats(g, node))

    def _beats(self, g: Graph, node: Node) -> int:
        """Stream: the pipeline beats one inference of a Conv or Dense takes at reuse 1."""
        if node.op == "Conv":
            return _pixels(g, node.output)
        rows = _pixels(g, node.output)
        return rows * (g.tensor(node.inputs[1]).shape[0] // self._dense_chunk(g, node))

    @staticmethod
    def _dense_chunk(g: Graph, node: Node) -> int:
        """Values per input pixel of a streamed Dense (a flattening Reshape before it passes its pixels on)."""
        n_in = g.tensor(node.inputs[1]).shape[0]
        producer = g.producer(node.inputs[0])
        if producer is not None and producer.op == "Reshape":
            c = g.tensor(producer.inputs[0]).shape[-1]
            return c if n_in % c == 0 else n_in
        return n_in

    def max_reuse(self, g, unit):
        """A Dense or Conv can share one multiplier among all the products of a beat (parallel: the layer)."""
        node = g.node(unit.head)
        return max(1, self._macs(g, node)) if node.op in ("Dense", "Conv") else 1

    def candidates(self, g, unit, layer_config=None):
        """The reuse factors as the base model lists them; a layer config's RTL folding (pe x simd multipliers) is
        the HLS reuse factor that gives the same number of multipliers: ceil(products / (pe * simd))."""
        pe, simd = getattr(layer_config, "pe", None), getattr(layer_config, "simd", None)
        if (pe or simd) and unit.op in ("Dense", "Conv"):
            reuse = max(1, math.ceil(self._macs(g, g.node(unit.head)) / ((pe or 1) * (simd or 1))))
            return list(self.points(g, unit, [min(reuse, self.max_reuse(g, unit))]).values())
        return super().candidates(g, unit, layer_config)

    # ---- points -------------------------------------------------------------------------------------------------
    def points(self, g: Graph, unit: UnitSpec, reuses):
        node = g.node(unit.head)
        if node.op in ("Dense", "Conv"):
            return self._mac_points(g, node, reuses)
        micro, latency, res, timing = (self._stream_point if self.stream else self._parallel_point)(g, node)
        return {1: Point(micro, 1, timing.interval if timing else 1, timing.depth if timing else latency, latency,
                         frozen_resources(res), detail=timing)}

    def _mac_points(self, g: Graph, node: Node, reuses) -> dict[int, Point]:
        x_t, w = g.tensor(node.inputs[0]).type, g.tensor(node.inputs[1])
        out = g.tensor(node.output)
        acc = node.attrs["accumulator_type"]
        has_bias = len(node.inputs) > 2
        macs = self._macs(g, node)
        wide = x_t.width + w.type.width > self.timing.dsp_min_product_bits
        if node.op == "Dense":
            fan_in, stored = w.shape[0], op_def(node).cost(g, node).mults
        else:
            fan_in, stored = math.prod(w.shape[:-1]), int((w.data != 0).sum())
        levels = max(1, tree_depth(fan_in + has_bias))
        tree_cycles = math.ceil(levels / self.levels_per_stage)
        micro = {"Dense": ("hls_dense", "hls_dense_stream"), "Conv": ("hls_conv", "hls_conv_line_buffer")}[node.op]
        points = {}
        for reuse in sorted(set(reuses)):
            if reuse < 1 or reuse > max(1, macs):  # at most one multiplier shared by every nonzero product
                continue
            mults = math.ceil(macs / reuse)
            depth = reuse + tree_cycles
            bits = stored * w.type.width
            bram = math.ceil(bits / self.timing.bram_bits) if reuse > 1 and bits > self.timing.bram_bits else 0
            lut = (0 if wide else mults * x_t.width * w.type.width // 2) + max(0, mults - 1) * acc.width
            dsp = mults if wide else 0
            if not self.stream:
                # Dense: as it always was; Conv: every output's accumulator and the multipliers' registers
                ff = out.size * acc.width * (1 + depth // 2) if node.op == "Dense" else \
                    out.size * acc.width + mults * (x_t.width + w.type.width)
                res = {"lut": lut, "ff": ff, "dsp": dsp, "bram": bram}
                points[reuse] = Point(micro[0], reuse, reuse, depth, depth, frozen_resources(res))
                continue
            in_pixels = _pixels(g, node.inputs[0]) if node.op == "Conv" else self._beats(g, node)
            interval = (in_pixels + _pixels(g, node.output)) * reuse if node.op == "Conv" else \
                self._beats(g, node) * reuse
            if node.op == "Conv":
                lag = _window_lag(g, node) * reuse
                buffer = self._storage(self._line_buffer_bits(g, node))
            else:
                lag = (self._beats(g, node) // _pixels(g, node.output)) * reuse
                buffer = {}
            # one output pixel's accumulators and the multipliers' registers
            res = add_resources([{"lut": lut, "ff": out.shape[-1] * acc.width + mults * (x_t.width + w.type.width),
                                  "dsp": dsp, "bram": bram}, buffer])
            timing = StreamTiming(lag + depth, interval, depth)
            points[reuse] = Point(micro[1], reuse, interval, depth, lag + depth + interval, res, detail=timing)
        return points

    def _parallel_point(self, g: Graph, node: Node):
        """(microarch, latency, resources, None) of a node that does not fold, in the pipelined function."""
        out = g.tensor(node.output)
        bits = out.size * out.type.width
        op = node.op
        if op in ("Reshape", "Pad", "Concat", "Resize", "Transpose"):
            return "wiring", 0, {}, None
        if op in ("Relu", "Quantize", "Clip"):
            return "elementwise", 0, {"lut": bits}, None
        if op == "Add":
            return "elementwise", 1, {"lut": bits, "ff": bits}, None
        if op in ("Mul", "LeakyRelu"):
            return "elementwise", 1, {"lut": self._const_mult_luts(g, node) * out.size, "ff": bits}, None
        if op == "Requantize":
            return "elementwise", 2, requantize_resources(g, node, out.size), None
        if op == "Table":
            res = add_resources([self._roms(node.attrs["table"], out.type.width, out.size), {"ff": bits}])
            return "rom", 1, res, None
        if op == "Softmax":
            latency, res = self._softmax(g, node, copies=out.size // out.shape[-1])
            return "hls_softmax", latency, res, None
        if op in ("MaxPool", "AvgPool"):
            latency, res = self._pool(g, node, out.size)
            return "window", latency, res, None
        raise NotImplementedError(op)

    def _stream_point(self, g: Graph, node: Node):
        """(microarch, latency, resources, StreamTiming) of a node that does not fold, as a dataflow process."""
        out = g.tensor(node.output)
        c = out.shape[-1]
        pixel_bits = c * out.type.width
        in_pixels, out_pixels = _pixels(g, node.inputs[0]), _pixels(g, node.output)
        op = node.op

        def process(micro, delay, res, interval=None, depth=1):
            interval = interval or max(in_pixels, out_pixels)
            return micro, delay + interval, res, StreamTiming(delay, interval, depth)

        if op == "Reshape":
            if self._feeds_dense_alone(g, node):
                return process("wiring", 0, {}, interval=1, depth=0)
            per_out = math.ceil(out.shape[-1] / g.tensor(node.inputs[0]).shape[-1])
            return process("wiring", per_out + 1, {"ff": pixel_bits})
        if op in ("Relu", "Quantize", "Clip", "Add", "Pad", "Concat"):
            inputs = sum(_pixels(g, t) for t in node.inputs if not g.tensor(t).is_const)
            return process("elementwise" if op not in ("Pad", "Concat") else "wiring", 1,
                           {"lut": pixel_bits, "ff": pixel_bits}, interval=max(inputs, out_pixels))
        if op in ("Mul", "LeakyRelu"):
            return process("elementwise", 2, {"lut": self._const_mult_luts(g, node) * c, "ff": pixel_bits})
        if op == "Requantize":
            return process("elementwise", 3, requantize_resources(g, node, c))
        if op == "Table":
            return process("rom", 2, add_resources([self._roms(node.attrs["table"], out.type.width, c),
                                                    {"ff": pixel_bits}]))
        if op == "Softmax":
            latency, res = self._softmax(g, node, copies=1)
            return process("hls_softmax", latency, res, depth=latency)
        if op in ("MaxPool", "AvgPool") and is_global_pool(g, node):
            latency, res = self._global_pool(g, node)
            return process("global", in_pixels + latency, res, interval=in_pixels + latency, depth=latency)
        if op in ("MaxPool", "AvgPool"):
            latency, res = self._pool(g, node, c)
            res = add_resources([res, self._storage(self._line_buffer_bits(g, node))])
            return process("line_buffer", _window_lag(g, node) + latency, res,
                           interval=in_pixels + out_pixels, depth=latency)
        if op == "Resize":
            x = g.tensor(node.inputs[0])
            row = (x.shape[-2] if len(x.shape) > 1 else 1) * x.shape[-1] * x.type.width
            w = x.shape[-2] if len(x.shape) > 1 else 1
            return process("row_buffer", w + 1, self._storage(row), interval=in_pixels + out_pixels)
        if op == "Transpose":
            frame = out.size * out.type.width
            return process("frame_buffer", in_pixels + 1, self._storage(frame), interval=in_pixels + out_pixels)
        raise NotImplementedError(op)

    # ---- pieces -------------------------------------------------------------------------------------------------
    @staticmethod
    def _feeds_dense_alone(g: Graph, node: Node) -> bool:
        users = g.consumers(node.output)
        return len(users) == 1 and users[0].op == "Dense" and node.output not in g.outputs

    def _storage(self, bits: int) -> dict:
        """A buffer: registers when small, else block RAM."""
        if bits <= REGISTER_BITS:
            return {"ff": bits}
        return {"bram": math.ceil(bits / self.timing.bram_bits)}

    @staticmethod
    def _line_buffer_bits(g: Graph, node: Node) -> int:
        x = g.tensor(node.inputs[0])
        a = node.attrs
        rows = (a["kernel"][0] - 1) * a["dilations"][0] + 1 if len(x.shape) == 3 else 1
        width = x.shape[-2] if len(x.shape) > 1 else 1
        return rows * width * x.shape[-1] * x.type.width

    def _roms(self, table, width: int, copies: int) -> dict:
        """`copies` lookups at once into one table: LUT ROMs when small, else dual-port block RAMs."""
        bits = len(table) * width
        if bits <= REGISTER_BITS * 4:
            return {"lut": copies * math.ceil(bits / LUT_ROM_BITS)}
        return {"bram": math.ceil(copies / 2) * math.ceil(bits / self.timing.bram_bits)}

    @staticmethod
    def _const_mult_luts(g: Graph, node: Node) -> int:
        """LUTs of one product by a constant (shift-adds: about half the product's bits)."""
        x_t = g.tensor(node.inputs[0]).type
        c_bits = g.tensor(node.inputs[1]).type.width if node.op == "Mul" else \
            max(1, int(node.attrs["alpha_code"]).bit_length() + 1)
        return max(1, x_t.width * c_bits // 2)

    def _softmax(self, g: Graph, node: Node, copies: int) -> tuple[int, dict]:
        """A row of n: max tree, n exp ROMs, sum tree, a reciprocal ROM, n multipliers (copies: rows at once)."""
        a = node.attrs
        n = g.tensor(node.output).shape[-1]
        tree = math.ceil(max(1, tree_depth(n)) / self.levels_per_stage)
        wide = a["exp_type"].width + a["inv_type"].width > self.timing.dsp_min_product_bits
        roms = [self._roms(a["exp_table"], a["exp_type"].width, copies * n),
                self._roms(a["inv_table"], a["inv_type"].width, copies)]
        res = {"lut": copies * (0 if wide else n * a["exp_type"].width * a["inv_type"].width // 2),
               "dsp": copies * n if wide else 0, "ff": copies * n * (a["exp_type"].width + a["out_type"].width)}
        return 2 * tree + 3, dict(add_resources([res, *roms]))

    def _pool(self, g: Graph, node: Node, outputs: int) -> tuple[int, dict]:
        """Comparators or adders over each window's taps (and a divider per output of an AvgPool)."""
        x_t = g.tensor(node.inputs[0]).type
        taps = math.prod(node.attrs["kernel"])
        levels = max(1, tree_depth(taps))
        lut = outputs * max(0, taps - 1) * (x_t.width + levels)
        if node.op == "AvgPool":
            quotient = x_t.width + levels + abs(g.tensor(node.output).type.frac - x_t.frac)
            levels += quotient
            lut += outputs * quotient * quotient // 2
        return math.ceil(levels / self.levels_per_stage), {"lut": lut, "ff": outputs * x_t.width}

    def _global_pool(self, g: Graph, node: Node) -> tuple[int, dict]:
        """Stream: a running max or sum per channel, then (AvgPool) one divider for the channels in turn."""
        x_t = g.tensor(node.inputs[0]).type
        c = g.tensor(node.output).shape[-1]
        bits = x_t.width + tree_depth(_pixels(g, node.inputs[0]))
        res = {"lut": c * bits, "ff": c * bits}
        if node.op == "MaxPool":
            return 1, res
        quotient = bits + abs(g.tensor(node.output).type.frac - x_t.frac)
        res["lut"] += quotient * quotient // 2
        return c + math.ceil(quotient / self.levels_per_stage), res

    # ---- composition --------------------------------------------------------------------------------------------
    def compose(self, g, units, chosen):
        if self.stream:
            return self._compose_dataflow(g, units, chosen)
        ready_of = {t: 1 for t in g.hw_inputs()}  # the input register
        start, ready = {}, {}
        for u in units:
            start[u.name] = max((ready_of[t] for t in u.inputs), default=1)
            ready[u.name] = start[u.name] + chosen[u.name].latency_cycles
            ready_of[u.output] = ready[u.name]
        latency = max(ready_of[t] for t in g.outputs)
        ii = max([p.ii_cycles for p in chosen.values()] or [1])
        return Composition("pipeline", latency, ii, start, ready)

    def _compose_dataflow(self, g, units, chosen):
        """Processes overlap: a unit starts when every input has its first pixel and ends after its own interval
        and after its last input; the design's II is the busiest process (or the input stream)."""
        x = g.hw_inputs()[0]
        first, last, rate = {x: 1}, {x: 1 + _pixels(g, x)}, {x: 1.0}
        start, ready = {}, {}
        for u in units:
            timing = chosen[u.name].detail
            start[u.name] = max((first[t] for t in u.inputs), default=1)
            first[u.output] = start[u.name] + timing.delay
            last[u.output] = max(first[u.output] + timing.interval,
                                 max((last[t] for t in u.inputs), default=1) + timing.depth)
            rate[u.output] = timing.interval / max(1, _pixels(g, u.output))
            ready[u.name] = last[u.output]
        edges, fifo = [], []
        for u in units:
            for t in u.inputs:
                waiting = start[u.name] - first[t]  # cycles the producer runs before this reader starts
                depth = min(max(MIN_FIFO_DEPTH, math.ceil(waiting / max(rate[t], 1e-9)) + MIN_FIFO_DEPTH),
                            _pixels(g, t))
                depth = max(MIN_FIFO_DEPTH, depth)
                edges.append(EdgePlan(t, u.name, "fifo", depth))
                bits = depth * g.tensor(t).shape[-1] * g.tensor(t).type.width
                fifo.append(self._storage(bits) if depth > MIN_FIFO_DEPTH else {"ff": bits})
        latency = max(last[t] for t in g.outputs)
        ii = max([p.ii_cycles for p in chosen.values()] + [_pixels(g, x)])
        return Composition("dataflow", latency, ii, start, ready, edges=tuple(edges),
                           buffer_resources=dict(add_resources(fifo)))
