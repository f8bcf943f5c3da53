"""One emitter per IR op for the C backend. A unit becomes one C function: its first node decides the function's
shape (an inner-product loop for a Dense, a direct convolution for a Conv, a window loop for a pool, a gather for
Pad/Resize/Transpose, a Concat, a Softmax over rows, an elementwise loop otherwise), and every node that maps each
value on its own adds a scalar step applied to each result before it is stored (a Dense's bias and ReLU, a
Quantize's rounding and clamp, a Requantize's multiplier, a Clip, LeakyRelu, table, or Mul/Add by a constant)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import UnsupportedOp
from ...ir.graph import Graph, Node
from ...ir.ops import Requantize, op_def
from ...ir.ops_spatial import pool_counts
from ...ir.scales import requantized_range
from ...ir.types import FixedType
from ...schedule.c import activation_input, const_operand, conv_encoding
from ...schedule.c_kernel import (BLOCK, blocked, conv_layout, merge_rows, nibbles, packed_pairs, uint_bytes,
                                  window_geometry)
from ...schedule.plan import UnitPlan
from .. import OpEmitters

EMITTERS = OpEmitters("c")


@dataclass
class CUnit:
    """The unit being written: its function's shape and data, and the scalar steps on each result."""

    g: Graph
    unit: UnitPlan
    prefix: str
    kind: str = "elementwise"            # "dense", "conv", "pool", "gather", "concat", "softmax", "elementwise"
    data: dict = field(default_factory=dict)
    constants: list[dict] = field(default_factory=list)  # const arrays in flash: name, ctype, values, guard
    steps: list[dict] = field(default_factory=list)      # scalar steps on each result, in order
    frac: int = 0                        # fractional bits of the current scalar
    bits: int = 1                        # signed width the scalar needs at any step (picks int32_t or int64_t)
    lo: int = 0                          # the scalar's range now: steps that cannot change it are left out
    hi: int = 0
    index_bound: int = 1                 # each result comes with an index k < index_bound (a channel, or its place)
    in_ctypes: list[str] = field(default_factory=list)  # the C types the inputs are stored in
    widens: bool = False                 # the unit first widens its input into 16-bit scratch (SMLAD)

    def const(self, suffix: str, ctype: str, values, guard: str = "") -> str:
        """A const array in flash; `guard` "SMLAD" or "PORTABLE" keeps it to the build that reads it."""
        name = f"{self.prefix}_{suffix}"
        taken = {c["name"] for c in self.constants}
        name = next(f"{name}{k or ''}" for k in range(len(taken) + 1) if f"{name}{k or ''}" not in taken)
        values = [int(v) for v in np.ravel(values)]
        self.constants.append({"name": name, "ctype": ctype, "values": values or [0], "guard": guard})
        return name

    def table(self, suffix: str, values) -> str:
        """A const array in the narrowest C integer type of its values."""
        values = [int(v) for v in np.ravel(values)]
        t = FixedType.covering(min(values, default=0), max(values, default=0), 0)
        if t.width > 64:
            raise UnsupportedOp(f"a constant operand needs {t.width}-bit integers; the C backend stores at most 64 "
                                "bits", self.unit.head)
        return self.const(suffix, t.c_int_type(), values)

    def need(self, lo: int, hi: int) -> None:
        self.bits = max(self.bits, signed_bits(lo, hi))

    def holds(self, lo: int, hi: int) -> None:
        """The scalar now lies in [lo, hi] (and the container must hold that)."""
        self.lo, self.hi = int(lo), int(hi)
        self.need(lo, hi)

    def source(self, t: FixedType, n: int) -> None:
        """Each result starts as one element of the unit's input (of type t, n elements), told by its place."""
        self.data = {"sources": [{"port": 0, "shift": 0}], "n": n}
        self.frac, self.index_bound = t.frac, n
        self.holds(t.min_int, t.max_int)

    def index(self, size: int) -> str:
        """The C index of a constant of `size` values for the current result (its k-th, repeating)."""
        return "k" if size == self.index_bound else f"k % {size}u"


def signed_bits(lo: int, hi: int) -> int:
    lo, hi = min(int(lo), 0), max(int(hi), 0)
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


def container(bits: int, what: str, node: str) -> str:
    if bits <= 32:
        return "int32_t"
    if bits <= 64:
        return "int64_t"
    raise UnsupportedOp(f"{what} needs {bits}-bit integers; the C backend computes in at most 64 bits", node)


def _kernel(u: CUnit, layout: dict, ctype: str, tag: str, guard: str, packed: bool = False) -> dict:
    """The const arrays of one kernel layout (weights; the tables only where some output lacks a column). Packed:
    4-bit fields, a 16-bit word per column of four outputs (wq) and a byte per two weights of one output (wb: each
    run of them starts on a byte)."""
    kernel = {k: layout[k] for k in ("columns", "contiguous", "other_blocks", "other_singles")}
    kernel["full_blocks"] = len(layout["full_blocks"])
    if packed:
        if layout["quads"]:
            kernel["wq"] = u.const(f"{tag}wq", "uint16_t", nibbles(layout["quads"], BLOCK), guard)
        if layout["singles"]:
            kernel["wb"] = u.const(f"{tag}wb", "uint8_t", [b for run in layout["singles"] for b in nibbles(run, 2)],
                                   guard)
    else:
        kernel["w"] = u.const(f"{tag}w", ctype, layout["weights"], guard)
    def table(key: str, suffix: str) -> str:
        """A table in the narrowest unsigned type its values need; its name, and its type as kernel[key + "_ct"]."""
        kernel[f"{key}_ct"] = f"uint{8 * uint_bytes(layout[key])}_t"
        return u.const(f"{tag}{suffix}", kernel[f"{key}_ct"], layout[key], guard)

    if layout["full_blocks"] and not layout["contiguous"]:
        kernel["block_rows"] = table("full_blocks", "block_rows")
    if layout["full_singles"]:
        kernel["single_rows"] = table("full_singles", "single_rows")
        kernel["full_singles"] = len(layout["full_singles"])
    if layout["table"]:
        kernel["table"] = table("table", "blocks")
        if layout["other_blocks"]:
            kernel["runs"] = table("runs", "runs")
        kernel["index"] = table("index", "index")
    return kernel


def _sums(u: CUnit, node: Node, m: int) -> dict:
    """What a Dense or Conv does to each of its m output channels' sums (int32 where the IR's product-sum type
    fits): widened to the accumulator's fraction, plus the bias (aligned at compile time: exact integers), ReLU."""
    g = u.g
    dot_t = op_def(node).product_sum_type(g, node)
    acc_t = node.attrs["accumulator_type"]
    bias = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
    data = {"dot_ct": container(dot_t.width, "the inner product", node.name), "extra": acc_t.frac - dot_t.frac,
            "relu": node.attrs.get("activation") == "relu", "bias": None}
    if bias is not None:
        shift = acc_t.frac - bias.type.frac
        data["bias"] = u.const("b", container(acc_t.width, "the bias", node.name),
                               [int(b) << shift for b in np.ravel(bias.data)])
    u.frac, u.index_bound = acc_t.frac, m
    u.need(dot_t.min_int << max(data["extra"], 0), dot_t.max_int << max(data["extra"], 0))
    u.holds(0 if data["relu"] else acc_t.min_int, max(acc_t.max_int, 0))
    return data


@EMITTERS.register("Dense", microarchs=("c_loop", "c_smlad", "c_packed"))
def dense(u: CUnit, node: Node) -> None:
    g = u.g
    x = g.tensor(node.inputs[0])
    w = g.tensor(node.inputs[1])
    k, m = w.shape
    codes = np.asarray(w.data).astype(object)
    data = {"outer": x.size // k, "k": k, "m": m, "w_ct": w.type.c_int_type(), **_sums(u, node, m)}
    layout = blocked(codes.T)
    micro = u.unit.point.microarch
    dsp = micro == "c_smlad"     # the schedule chose it where the CPU has DSP and the operands fit (smlad_fits)
    guard = "PORTABLE" if dsp else ""
    data["loop"] = _kernel(u, layout, data["w_ct"], "", guard, packed=micro == "c_packed")
    data["w_signed"] = w.type.signed
    if dsp:
        pairs = blocked(packed_pairs(codes.astype(np.int64)))
        data["smlad"] = _kernel(u, pairs, "uint32_t", "p", "SMLAD")
    u.kind, u.data = "dense", data


@EMITTERS.register("Conv", microarchs=("c_loop", "c_smlad"))
def conv(u: CUnit, node: Node) -> None:
    """A direct convolution over the channels-last input: for each output position, the taps inside the input (the
    loop bounds skip the padding; no padded or im2col copy), blocks of up to four output channels of a group side
    by side over each tap's input channels; a block skips the taps whose weights are all zero."""
    g = u.g
    x, w = g.tensor(node.inputs[0]), g.tensor(node.inputs[1])
    geo = window_geometry(x.shape, node.attrs)
    taps, cin_g, cout = geo["taps"], w.shape[-2], w.shape[-1]
    groups = node.attrs["groups"]
    codes = np.asarray(w.data).astype(np.int64).reshape(taps, cin_g, cout)
    dsp = u.unit.point.microarch == "c_smlad"
    encoding = conv_encoding(g, node, False)
    data = {**_window(u, geo), "in_size": x.size, "c_out": cout, "groups": groups, "cin_g": cin_g, "cout_g": cout // groups,
            "depthwise": encoding == "depthwise", "w_ct": w.type.c_int_type(), **_sums(u, node, cout)}

    def kernel(enc: str, ctype: str, tag: str, guard: str) -> dict:
        layout = merge_rows(conv_layout(codes, groups, enc), geo, groups)
        per_group = 1 if enc == "depthwise" else groups
        blocks = [{"size": size, "count": sum(b["size"] == size for b in layout["blocks"]) // per_group,
                   "accs": [f"a{q}" for q in range(size)]} for size in layout["block_sizes"]]
        out = {"w": u.const(f"{tag}w", ctype, layout["weights"], guard), "seg": layout["seg"], "blocks": blocks,
               "row_runs": layout["row_runs"], "path": enc, "lanes": layout["lanes"]}
        if layout["masks"]:
            out["masks"] = u.const(f"{tag}masks", "uint32_t", layout["masks"], guard)
        return out

    data["loop"] = kernel("depthwise" if data["depthwise"] else "loop", data["w_ct"], "", "PORTABLE" if dsp else "")
    if dsp:   # 8-bit storage four channels to a load, 16-bit (or the widened copy) two
        eight = not u.widens and u.in_ctypes[0] in ("int8_t", "uint8_t")
        data["smlad"] = kernel("smlad8" if eight else "smlad", "uint32_t", "p", "SMLAD")
    u.kind, u.data = "conv", data


def _window(u: CUnit, geo: dict) -> dict:
    """A window op's loop bounds as plain data: sizes, strides, dilations, leading pads, and for an axis whose
    windows reach into the padding, a table of each output index's taps inside the input ([first, end) pairs)."""
    out = {"channels": geo["channels"], "in_w": geo["cols"]["n_in"]}
    for name, ax in (("h", geo["rows"]), ("w", geo["cols"])):
        out.update({f"out_{name}": ax["n_out"], f"k_{name}": ax["k"], f"s_{name}": ax["s"], f"d_{name}": ax["d"],
                    f"p_{name}": ax["p"],
                    f"taps_{name}": u.table(f"taps_{name}", [v for r in ax["ranges"] for v in r])
                    if ax["clipped"] else None})
    return out


@EMITTERS.register("MaxPool", microarchs=("c_pool",))
def max_pool(u: CUnit, node: Node) -> None:
    x = u.g.tensor(node.inputs[0])
    geo = window_geometry(x.shape, node.attrs)
    if any(r == (0, 0) for ax in (geo["rows"], geo["cols"]) for r in ax["ranges"]):
        raise UnsupportedOp("a MaxPool window lies entirely in the padding", node.name)
    u.kind, u.data = "pool", {**_window(u, geo), "op": "max", "init": x.type.min_int}
    u.frac, u.index_bound = x.type.frac, u.g.tensor(node.output).size
    u.holds(x.type.min_int, x.type.max_int)


@EMITTERS.register("AvgPool", microarchs=("c_pool",))
def avg_pool(u: CUnit, node: Node) -> None:
    """The window's exact integer sum, then round(sum * 2^shift / count) by an exact integer division with the
    node's rounding (count: the window's size, or its taps inside the input), then saturated (or wrapped)."""
    g = u.g
    x, out_t = g.tensor(node.inputs[0]), g.tensor(node.output).type
    geo = window_geometry(x.shape, node.attrs)
    counts = pool_counts(x.shape[:-1], node.attrs)
    if counts.min() < 1:
        raise UnsupportedOp("an AvgPool window lies entirely in the padding", node.name)
    shift = out_t.frac - x.type.frac
    most = int(counts.max())
    data = {**_window(u, geo), "op": "avg", "init": 0, "shift": shift,
            "mode": node.attrs["rounding"], "count": most if counts.min() == most else None,
            "include_pad": bool(node.attrs.get("count_include_pad"))}
    u.kind, u.data, u.index_bound = "pool", data, g.tensor(node.output).size
    up, down = max(shift, 0), max(-shift, 0)
    u.need(x.type.min_int * most << up, x.type.max_int * most << up)   # the numerator
    u.need(0, 2 * most << down)                                        # twice the denominator
    # the rounded average lies within the extreme codes' roundings (as AvgPool.infer says)
    lo = x.type.min_int << shift if shift >= 0 else -((-x.type.min_int) >> -shift) - 1
    hi = x.type.max_int << shift if shift >= 0 else (x.type.max_int >> -shift) + 1
    u.frac = out_t.frac
    u.holds(lo, hi)
    clamp = None if out_t.overflow == "WRAP" else (node.attrs.get("lo", out_t.min_int),
                                                    node.attrs.get("hi", out_t.max_int))
    requantize(u, out_t, node.attrs["rounding"], clamp)


def _gather(u: CUnit, node: Node, axes: list[dict], value: int | None = None) -> None:
    """Each output element (in C order over `axes`) reads one input element, or `value` outside the input."""
    x = u.g.tensor(node.inputs[0])
    flag = None
    for k, a in enumerate(axes):   # inside the input on every axis so far (Pad's padded axes)
        a.setdefault("map", None)
        a.setdefault("begin", 0)
        a["outer_flag"], a["flag"] = flag, (f"in{k}" if "limit" in a else None)
        flag = a["flag"] or flag
    u.kind, u.data = "gather", {"axes": axes, "value": value, "flag": flag}
    u.frac, u.index_bound = x.type.frac, u.g.tensor(node.output).size
    lo, hi = x.type.min_int, x.type.max_int
    if value is not None:
        lo, hi = min(lo, value), max(hi, value)
    u.holds(lo, hi)


def _strides(shape) -> list[int]:
    return [int(np.prod(shape[a + 1:], dtype=np.int64)) for a in range(len(shape))]


@EMITTERS.register("Transpose", microarchs=("c_gather",))
def transpose(u: CUnit, node: Node) -> None:
    out, stride = u.g.tensor(node.output).shape, _strides(u.g.tensor(node.inputs[0]).shape)
    _gather(u, node, [{"n": n, "stride": stride[p]} for n, p in zip(out, node.attrs["perm"])])


@EMITTERS.register("Resize", microarchs=("c_gather",))
def resize(u: CUnit, node: Node) -> None:
    out, stride = u.g.tensor(node.output).shape, _strides(u.g.tensor(node.inputs[0]).shape)
    maps = list(node.attrs["maps"])
    axes = []
    for a, n in enumerate(out):
        m = [int(v) for v in maps[a]] if a < len(maps) else list(range(n))
        axes.append({"n": n, "stride": stride[a]} if m == list(range(n)) else
                    {"n": n, "stride": stride[a], "map": u.table(f"map{a}", m)})
    _gather(u, node, axes)


@EMITTERS.register("Pad", microarchs=("c_gather",))
def pad(u: CUnit, node: Node) -> None:
    shape = u.g.tensor(node.inputs[0]).shape
    out, stride, pads = u.g.tensor(node.output).shape, _strides(shape), node.attrs["pads"]
    rank = len(shape)
    axes = [{"n": out[a], "stride": stride[a]} if pads[a] == 0 and pads[rank + a] == 0 else
            {"n": out[a], "stride": stride[a], "begin": pads[a], "limit": shape[a]} for a in range(rank)]
    _gather(u, node, axes, int(node.attrs["value"]))


@EMITTERS.register("Concat", microarchs=("c_concat",))
def concat(u: CUnit, node: Node) -> None:
    """Along any axis: for each index of the axes before it, each input's block in turn, aligned to the finest
    fraction by a left shift."""
    g = u.g
    out_t = g.tensor(node.output)
    axis = node.attrs["axis"]
    outer = int(np.prod(out_t.shape[:axis], dtype=np.int64))
    parts, lo, hi = [], 0, 0
    for t in node.inputs:
        tt = g.tensor(t)
        shift = out_t.type.frac - tt.type.frac
        if tt.is_const:
            raise UnsupportedOp("the C backend concatenates activations only (a constant input is not supported)",
                                node.name)
        parts.append({"block": tt.size // outer, "shift": shift, "port": u.unit.inputs.index(t)})
        lo, hi = min(lo, tt.type.min_int << shift), max(hi, tt.type.max_int << shift)
    u.kind, u.data = "concat", {"outer": outer, "parts": parts}
    u.frac, u.index_bound = out_t.type.frac, out_t.size
    u.holds(lo, hi)


@EMITTERS.register("Softmax", microarchs=("c_softmax",))
def softmax(u: CUnit, node: Node) -> None:
    """Per row (the last axis), as the IR defines it: the row's maximum, e = EXP[max(x - max, exp_lo) - exp_lo]
    (computed twice rather than kept), the exact sum, floored to the reciprocal table's input, r = INV[...], then
    e * r rounded (ROUND) and saturated to the output type."""
    g = u.g
    a = node.attrs
    x, out_t = g.tensor(node.inputs[0]), g.tensor(node.output).type
    n = x.shape[-1]
    exp_t, inv_in, inv_t = a["exp_type"], a["inv_in_type"], a["inv_type"]
    u.kind, u.index_bound = "softmax", x.size
    u.data = {"rows": x.size // n, "n": n, "exp": u.table("exp", a["exp_table"]),
              "exp_lo": a["exp_lo"], "inv": u.table("inv", a["inv_table"]), "inv_lo": a["inv_lo"],
              "inv_hi": inv_in.max_int, "sum_shift": exp_t.frac - inv_in.frac}
    u.need(x.type.min_int - x.type.max_int, x.type.max_int - x.type.min_int)          # x - max
    u.need(0, (n * exp_t.max_int) << max(-u.data["sum_shift"], 0))                    # the sum
    u.frac = exp_t.frac + inv_t.frac
    u.holds(0, max(a["exp_table"]) * max(a["inv_table"]))                             # e * r
    requantize(u, out_t, "ROUND", (out_t.min_int, out_t.max_int))


@EMITTERS.register("Add", microarchs=("c_elementwise",))
def add(u: CUnit, node: Node) -> None:
    """Two tensors of one shape (both aligned to the output's fraction), or a step adding a constant that repeats
    along the trailing axes (element i + const[i % size])."""
    g = u.g
    out_t = g.tensor(node.output).type
    c = const_operand(g, node)
    if c is not None:
        x_t = g.tensor(activation_input(g, node)).type
        shift, c_shift = out_t.frac - x_t.frac, out_t.frac - c.type.frac
        values = [int(v) << c_shift for v in np.ravel(c.data)]
        u.steps.append({"op": "add", "shift": shift, **_operand(u, "c", values)})
        lo, hi = u.lo << shift, u.hi << shift
        u.need(lo, hi)
        u.holds(lo + min(values), hi + max(values))
        u.frac = out_t.frac
        return
    sources = []
    for k, t in enumerate(node.inputs):
        tt = g.tensor(t)
        shift = out_t.frac - tt.type.frac
        sources.append({"port": u.unit.inputs.index(t), "shift": shift})
        u.need(tt.type.min_int << shift, tt.type.max_int << shift)
    u.kind, u.frac = "elementwise", out_t.frac
    u.data = {"sources": sources, "n": g.tensor(node.output).size}
    u.index_bound = u.data["n"]
    u.holds(out_t.min_int, out_t.max_int)


def _operand(u: CUnit, suffix: str, values: list[int]) -> dict:
    """A constant operand of a step: an immediate where it is one value, else a const array read at the result's
    index (repeating)."""
    if len(set(values)) == 1:
        return {"value": values[0]}
    return {"array": u.table(suffix, values), "index": u.index(len(values))}


@EMITTERS.register("Mul", microarchs=("c_elementwise",))
def mul(u: CUnit, node: Node) -> None:
    """A step: times a constant that repeats along the trailing axes (exact)."""
    c = const_operand(u.g, node)
    values = [int(v) for v in np.ravel(c.data)]
    u.steps.append({"op": "mul", **_operand(u, "m", values)})
    ends = [e * v for e in (u.lo, u.hi) for v in (min(values), max(values))]
    u.holds(min(ends), max(ends))
    u.frac += c.type.frac


@EMITTERS.register("Relu", microarchs=("c_elementwise",))
def relu(u: CUnit, node: Node) -> None:
    if u.lo < 0:
        u.steps.append({"op": "relu"})
        u.holds(0, max(u.hi, 0))


@EMITTERS.register("LeakyRelu", microarchs=("c_elementwise",))
def leaky_relu(u: CUnit, node: Node) -> None:
    """v << alpha_frac where v >= 0, v * alpha_code below (the output's fraction is the input's plus alpha_frac)."""
    a, af = node.attrs["alpha_code"], node.attrs["alpha_frac"]
    ends = [max(u.lo, 0) << af, max(u.hi, 0) << af]
    if u.lo < 0:
        ends += [u.lo * a, min(u.hi, -1) * a]
    u.steps.append({"op": "leaky", "alpha": a, "shift": af})
    u.holds(min(ends), max(ends))
    u.frac += af


@EMITTERS.register("Clip", microarchs=("c_elementwise",))
def clip(u: CUnit, node: Node) -> None:
    requantize(u, u.g.tensor(node.output).type, "FLOOR", (node.attrs["lo"], node.attrs["hi"]))


@EMITTERS.register("Table", microarchs=("c_elementwise",))
def table(u: CUnit, node: Node) -> None:
    """A step: v = table[v - in_lo] (the table covers every code of its input type)."""
    values = [int(v) for v in node.attrs["table"]]
    in_t = u.g.tensor(node.inputs[0]).type
    lo, hi = max(u.lo, in_t.min_int), min(u.hi, in_t.max_int)   # the codes the input type holds
    u.lo, u.hi = lo, hi
    u.steps.append({"op": "table", "table": u.table("t", values), "in_lo": node.attrs["in_lo"]})
    u.holds(min(values), max(values))
    u.frac = node.attrs["out_type"].frac


@EMITTERS.register("Quantize", microarchs=("c_elementwise",))
def quantize(u: CUnit, node: Node) -> None:
    out_t = u.g.tensor(node.output).type
    requantize(u, out_t, node.attrs["rounding"],
               None if out_t.overflow == "WRAP" else (int(node.attrs["lo"]), int(node.attrs["hi"])))


@EMITTERS.register("Requantize", microarchs=("c_elementwise",))
def requantize_scaled(u: CUnit, node: Node) -> None:
    """A step: TFLite's integer requantization with the result's channel's multiplier M0 * 2**left (one 64-bit
    product: of two int32 where the value and the multiplier fit them, as TFLite's kernel has it, which a Cortex-M3
    or M4 does in one SMULL) and right shift, then the clamp (ir/ops.py Requantize)."""
    out_t = u.g.tensor(node.output).type
    channels = Requantize.channels(node, len(node.attrs["multiplier"]))
    mults = [m0 << max(e, 0) for m0, e in channels]
    rights = [max(-e, 0) for _, e in channels]
    u.need(min(u.lo * max(mults), 0), max(u.hi * max(mults), 0))      # the product (M0 >= 0)
    ends = [requantized_range(u.lo, u.hi, m0, e) for m0, e in channels]
    narrow = max(mults) < (1 << 31) and signed_bits(u.lo, u.hi) <= 32
    u.steps.append({"op": "scale", "mult": _operand(u, "m", mults), "right": _operand(u, "r", rights),
                    "bits": 32 if narrow else 64})
    u.holds(min(lo for lo, _ in ends), max(hi for _, hi in ends))
    u.frac = out_t.frac
    requantize(u, out_t, "FLOOR", (int(node.attrs["lo"]), int(node.attrs["hi"])))


def requantize(u: CUnit, out_t: FixedType, rounding: str, clamp: tuple[int, int] | None) -> None:
    """A step onto out_t's grid: round as the mode says (v + an offset that depends on the mode, then a floor), then
    clamp to `clamp` or (None) wrap to out_t's width; a clamp bound the value cannot pass is left out."""
    shift = u.frac - out_t.frac
    step = {"op": "requantize", "shift": shift, "mode": rounding}
    lo, hi = u.lo, u.hi
    if shift > 0:
        u.need(lo - (1 << shift), hi + (1 << shift))  # v plus the rounding offset, before the shift
        lo, hi = lo >> shift, (hi >> shift) + 1
    elif shift < 0:
        lo, hi = lo << -shift, hi << -shift
    u.need(lo, hi)
    if clamp is None:
        step.update(wrap=lo < out_t.min_int or hi > out_t.max_int, width=out_t.width, signed=out_t.signed,
                    clamp_lo=False, clamp_hi=False)
        lo, hi = (max(lo, out_t.min_int), min(hi, out_t.max_int)) if not step["wrap"] else \
            (out_t.min_int, out_t.max_int)
    else:
        c_lo, c_hi = int(clamp[0]), int(clamp[1])
        step.update(wrap=False, lo=c_lo, hi=c_hi, clamp_lo=lo < c_lo, clamp_hi=hi > c_hi)
        lo, hi = max(lo, c_lo), min(hi, c_hi)
    if shift or step["wrap"] or step["clamp_lo"] or step["clamp_hi"]:
        u.steps.append(step)
    u.holds(lo, hi)
    u.frac = out_t.frac


@EMITTERS.register("Reshape", microarchs=("alias", "c_copy", "c_elementwise"))
def reshape(u: CUnit, node: Node) -> None:
    """The same codes in the same order: no step."""
