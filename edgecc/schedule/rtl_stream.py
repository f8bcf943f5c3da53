"""The streaming RTL form of a convolutional network: pixels over ready/valid.

A spatial tensor (H, W, C) flows as H*W tokens of C codes in raster order; a vector as one token. The design is
lowered to a *token graph*: an IR graph whose tensors have the shape of one token, in which
- a Conv is a window generator (line buffers: the last rows of the padded input, as a shift register) feeding a
  Dense over the window (`dense_matrix`: taps x C_in -> C_out) with the Conv's name, accumulator and reuse;
- a MaxPool / AvgPool is a window generator feeding the same pool over one window (padding taps hold the input
  type's lowest code for a max, zero for an average with a constant count);
- a flattening Reshape of a stream is a gather (the frame's tokens side by side: the same C order);
- every other op (Quantize, Requantize, Relu, Add/Concat of two streams or with a per-channel constant, Mul, Clip,
  LeakyRelu, Table, Softmax over channels, and everything on vectors) is the same IR node on tokens.
The per-token nodes form units exactly as for whole vectors (their points, adder graphs, reuse); window and
gather units have fixed timing. How they run together is simulated cycle by cycle in `stream_timing.py` (the
model the generated Verilog follows exactly).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UnsupportedOp
from ..ir.graph import Graph, Node, Tensor
from ..ir.ops import op_def
from ..ir.ops_spatial import pool_counts
from .rtl import dense_matrix

WINDOW_OPS = ("Conv", "MaxPool", "AvgPool")
TOKEN_OPS = ("Quantize", "Relu", "Add", "Concat", "Mul", "Clip", "LeakyRelu", "Table", "Softmax", "Dense",
             "Requantize")


@dataclass(frozen=True)
class Window:
    """A window generator: a stream of (H, W) tokens of C codes in, one token per output position out (its taps
    in the IR's window order: tap-major, then channel)."""

    name: str
    input: str            # token-graph tensor (the stream read)
    output: str           # token-graph tensor (the windows)
    in_spatial: tuple     # (H, W) (1-D: (1, W))
    channels: int
    width: int            # bits per code
    kernel: tuple
    strides: tuple
    dilations: tuple
    pads: tuple           # (top, left, bottom, right)
    out_spatial: tuple
    fill: int             # the code a padding tap holds

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def padded(self) -> tuple:
        return (self.in_spatial[0] + self.pads[0] + self.pads[2], self.in_spatial[1] + self.pads[1] + self.pads[3])

    @property
    def history(self) -> int:
        """Padded pixels kept: from the window's oldest tap to the newest."""
        return (self.kernel[0] - 1) * self.dilations[0] * self.padded[1] + (self.kernel[1] - 1) * self.dilations[1] + 1


@dataclass(frozen=True)
class Gather:
    """The frame's `count` tokens side by side as one vector (the first token lowest)."""

    name: str
    input: str
    output: str
    count: int


@dataclass
class StreamView:
    """The token graph and the stream structure of a design."""

    tg: Graph
    windows: list[Window] = field(default_factory=list)
    gathers: list[Gather] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=dict)    # token-graph tensor -> tokens per frame

    def special(self) -> dict[str, object]:
        return {u.output: u for u in [*self.windows, *self.gathers]}


def _as_2d(spatial: tuple, attrs: dict) -> tuple:
    """1-D window attributes as 2-D ones over a single row."""
    if len(spatial) == 2:
        return spatial, attrs["kernel"], attrs["strides"], attrs["dilations"], \
            (attrs["pads"][0], attrs["pads"][1], attrs["pads"][2], attrs["pads"][3])
    return (1,) + tuple(spatial), (1,) + tuple(attrs["kernel"]), (1,) + tuple(attrs["strides"]), \
        (1,) + tuple(attrs["dilations"]), (0, attrs["pads"][0], 0, attrs["pads"][1])


def stream_view(g: Graph) -> StreamView:
    """The token graph of `g` (cached on the graph: the cost model and the emitter read the same one)."""
    cached = getattr(g, "_stream_view", None)
    if cached is not None:
        return cached
    view = _build(g)
    g._stream_view = view
    return view


def _build(g: Graph) -> StreamView:
    tg = Graph(g.name)
    tg.meta = dict(g.meta)
    view = StreamView(tg)
    spatial: dict[str, tuple] = {}     # stream tensors of g -> their (H, W) (or (W,))

    def token_tensor(name: str, shape, ftype, tokens: int) -> str:
        tg.add_tensor(Tensor(name, tuple(int(d) for d in shape), ftype))
        view.tokens[name] = tokens
        return name

    for q in g.input_quantizers():
        src = g.tensor(q.inputs[0])
        out = g.tensor(q.output)
        tg.add_tensor(Tensor(src.name, src.shape, src.type))
        tg.inputs.append(src.name)
        if len(out.shape) >= 2:
            spatial[out.name] = tuple(out.shape[:-1])
            token_tensor(out.name, (out.shape[-1],), out.type, int(np.prod(out.shape[:-1])))
        else:
            token_tensor(out.name, out.shape, out.type, 1)
        tg.add_node(Node(q.name, q.op, [src.name], [out.name], dict(q.attrs)))

    for node in g.compute_nodes():
        x = node.inputs[0]
        if node.op in WINDOW_OPS and x in spatial:
            _window_node(g, view, node, spatial, token_tensor)
        elif node.op == "Reshape" and x in spatial:
            out = g.tensor(node.output)
            n = view.tokens[x]
            if len(out.shape) != 1:
                raise UnsupportedOp("the streaming RTL reshapes a stream only by flattening it (use --io-type "
                                    "parallel)", node.name)
            token_tensor(node.output, out.shape, out.type, 1)
            view.gathers.append(Gather(node.name, x, node.output, n))
        elif node.op in TOKEN_OPS:
            _token_node(g, view, node, spatial, token_tensor)
        else:
            streamed = [t for t in node.inputs if t in spatial]
            if streamed:
                raise UnsupportedOp(f"{node.op} of a stream is not built by the streaming RTL yet (use --io-type "
                                    "parallel)", node.name)
            _token_node(g, view, node, spatial, token_tensor)
    tg.outputs = list(g.outputs)
    for t in g.outputs:
        if t in spatial:
            view.tokens.setdefault(t, int(np.prod(spatial[t])))
    return view


def _window_node(g: Graph, view: StreamView, node: Node, spatial: dict, token_tensor) -> None:
    tg = view.tg
    x = g.tensor(node.inputs[0])
    a = node.attrs
    in_sp = spatial[x.name]
    sp2, k2, s2, d2, p2 = _as_2d(in_sp, a)
    out = g.tensor(node.output)
    out_sp = tuple(out.shape[:-1])
    out_sp2 = out_sp if len(out_sp) == 2 else (1,) + out_sp
    taps = int(np.prod(a["kernel"]))
    c = x.shape[-1]
    fill = x.type.min_int if node.op == "MaxPool" else 0
    win_name = tg.fresh_name(f"{x.name}_win_{node.name}")
    if node.op == "Conv":
        token_tensor(win_name, (taps * c,), x.type, int(np.prod(out_sp)))
    else:
        token_tensor(win_name, (taps, c), x.type, int(np.prod(out_sp)))
    view.windows.append(Window(f"{node.name}_window", x.name, win_name, sp2, c, x.type.width, k2, s2, d2, p2,
                               out_sp2, int(fill)))
    spatial[node.output] = out_sp
    n_out = int(np.prod(out_sp))
    if node.op == "Conv":
        matrix, _, _ = dense_matrix(g, node)
        w = g.tensor(node.inputs[1])
        w_name = tg.fresh_name(f"{w.name}_matrix")
        tg.add_tensor(Tensor(w_name, matrix.shape, w.type, np.ascontiguousarray(matrix)))
        inputs = [win_name, w_name]
        if len(node.inputs) > 2:
            b = g.tensor(node.inputs[2])
            tg.add_tensor(Tensor(b.name, b.shape, b.type, b.data))
            inputs.append(b.name)
        token_tensor(node.output, (out.shape[-1],), out.type, n_out)
        dense = Node(node.name, "Dense", inputs, [node.output], {"activation": a.get("activation")})
        tg.add_node(dense)
        dense.attrs["accumulator_type"] = op_def(dense).accumulator_type(tg, dense)
        if dense.attrs["accumulator_type"] != a["accumulator_type"]:
            raise UnsupportedOp("the window's Dense has another accumulator than the Conv", node.name)
        return
    pool = {"kernel": (taps,), "strides": (1,), "dilations": (1,), "pads": (0, 0)}
    attrs = {**a, **pool}
    if node.op == "AvgPool":   # padding taps hold 0; the divisor of each position (in raster order) is kept
        attrs["count_include_pad"] = True
        attrs["position_counts"] = tuple(int(v) for v in pool_counts(in_sp, a))
    token_tensor(node.output, (out.shape[-1],), out.type, n_out)    # one position's pool: C codes
    tg.add_node(Node(node.name, node.op, [win_name], [node.output], attrs))


def _token_node(g: Graph, view: StreamView, node: Node, spatial: dict, token_tensor) -> None:
    tg = view.tg
    streamed = [t for t in node.inputs if t in spatial]
    inputs = []
    for t in node.inputs:
        tt = g.tensor(t)
        if t in tg.tensors:
            inputs.append(t)
            continue
        if not tt.is_const:
            raise UnsupportedOp(f"tensor {t!r} is read before the streaming RTL computes it", node.name)
        data = np.asarray(tt.data)
        if streamed:   # a constant operand of a per-token op: it must not vary with the position
            c = g.tensor(streamed[0]).shape[-1]
            if data.size > c and data.size % c == 0 and np.all(data.reshape(-1, c) == data.reshape(-1, c)[0]):
                data = data.reshape(-1, c)[0]
            if data.size > c:
                raise UnsupportedOp(f"a constant that varies with the position ({t!r}) is not built by the "
                                    "streaming RTL (use --io-type parallel)", node.name)
        tg.add_tensor(Tensor(t, data.shape, tt.type, data))
        inputs.append(t)
    out = g.tensor(node.output)
    attrs = dict(node.attrs)
    if streamed:
        if len({spatial[t] for t in streamed}) != 1:
            raise UnsupportedOp("a join of streams of different shapes", node.name)
        sp = spatial[streamed[0]]
        shape = (out.shape[-1],)
        if node.op == "Concat":
            if node.attrs["axis"] != len(out.shape) - 1:
                raise UnsupportedOp("the streaming RTL concatenates streams along the channels only (use "
                                    "--io-type parallel)", node.name)
            attrs["axis"] = 0
        spatial[node.output] = sp
        token_tensor(node.output, shape, out.type, int(np.prod(sp)))
    else:
        token_tensor(node.output, out.shape, out.type, 1)
    tg.add_node(Node(node.name, node.op, inputs, [node.output], attrs))


def window_taps(w: Window) -> list[int]:
    """For each tap (tap-major order), how many padded pixels before the newest one it is."""
    kh, kw = w.kernel
    dh, dw = w.dilations
    return [((kh - 1 - ky) * dh) * w.padded[1] + (kw - 1 - kx) * dw for ky in range(kh) for kx in range(kw)]


def stages_of(view: StreamView, units, chosen) -> list:
    """Every element of the streaming design in topological order: windows and gathers, and the token graph's
    units with their chosen stages and II."""
    from .stream_timing import Stage

    tg = view.tg
    pending = [("core", u) for u in units] + [("window", w) for w in view.windows] + \
        [("gather", x) for x in view.gathers]
    produced = set(tg.hw_inputs())
    order = []
    while pending:
        for item in pending:
            kind, u = item
            ins = tuple(dict.fromkeys(u.inputs)) if kind == "core" else (u.input,)
            if all(t in produced for t in ins):
                if kind == "core":
                    p = chosen[u.name]
                    order.append(Stage("core", u.name, ins, u.output, p.stages, p.ii_cycles))
                else:
                    order.append(Stage(kind, u.name, ins, u.output, spec=u))
                produced.add(u.output)
                pending.remove(item)
                break
        else:
            raise UnsupportedOp(f"the streaming design reads a value nobody produces ({pending[0][1].name})")
    return order


@dataclass(frozen=True)
class PixelTiming:
    latency: int                       # a frame's first input token to its last output token
    period: int                        # cycles between the first tokens of consecutive frames
    fifos: dict                        # (tensor, reader) -> depth


def pixel_timing(view: StreamView, stages: list) -> PixelTiming:
    """Latency, frame period and FIFO depths of a streaming design, from its cycle-exact model: a FIFO on every
    input of a join, as deep as the largest occupancy a run of frames at that period reaches; the period the
    smallest (by bisection from the slowest element's throughput) at which three frames each take exactly the
    first frame's latency."""
    from .stream_timing import network

    tg = view.tg
    hw_in, out = tg.hw_inputs()[0], tg.outputs[0]
    n_in, n_out = view.tokens[hw_in], view.tokens.get(out, 1)
    joins = {(t, st.name): None for st in stages if len(st.inputs) > 1 for t in st.inputs}

    def run(frames, period, fifos):
        net = network(stages, hw_in, out, n_in, frames, period, fifos)
        lat = net.run(n_out, frames, limit=10**9)
        return lat, {k: f.peak for k, f in net.fifos.items()}

    first, _ = run(1, 1, joins)
    latency = first[0]
    busy = max([n_in] + [view.tokens.get(st.output, 1) * st.ii for st in stages] +
               [view.tokens.get(st.inputs[0], 1) * st.ii for st in stages if st.kind == "core"])

    def uniform(period):
        # frames overlap ceil(latency / period) deep: one more than that shows any interference
        lats, peaks = run(min(-(-latency // period) + 1, 6), period, joins)
        return all(v == latency for v in lats), peaks

    lo, hi = busy, latency + 1
    ok, peaks = uniform(hi)
    if not ok:
        raise UnsupportedOp("the streaming design does not repeat itself frame after frame (an internal error)")
    while lo < hi:
        mid = (lo + hi) // 2
        good, mid_peaks = uniform(mid)
        if good:
            hi, peaks = mid, mid_peaks
        else:
            lo = mid + 1
    period = hi
    depths = {e: max(1, p) for e, p in peaks.items()}
    lats, _ = run(3, period, depths)
    if any(v != latency for v in lats):
        depths = {e: d + 1 for e, d in depths.items()}   # a push while full and popping: one more entry
        lats, _ = run(3, period, depths)
    if any(v != latency for v in lats):
        raise UnsupportedOp("the streaming design's FIFOs change its timing (an internal error)")
    return PixelTiming(latency, period, depths)
