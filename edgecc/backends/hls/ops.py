"""One emitter per IR op for the HLS backend: each returns the plain data its template (templates/hls/ops/) needs.

Call templates are the same in both I/O styles: the layer library overloads each layer for arrays and streams.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import UnsupportedOp
from ...ir.graph import Node, Tensor
from ...ir.ops import Requantize
from ...ir.ops_pointwise import softmax_sum_type
from ...ir.types import AP_QUANT_MODE, FixedType
from .. import OpEmitters
from ..common import label
from .emit import HlsProject

EMITTERS = OpEmitters("hls")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# the layer library's IntRounding for each IR rounding mode
INT_ROUNDING = {"FLOOR": "INT_FLOOR", "CEIL": "INT_CEIL", "DOWN": "INT_DOWN", "UP": "INT_UP",
                "ROUND": "INT_HALF_EVEN", "HALF_EVEN": "INT_HALF_EVEN", "HALF_UP": "INT_HALF_UP",
                "HALF_DOWN": "INT_HALF_DOWN", "HALF_POS_INF": "INT_HALF_POS_INF",
                "HALF_NEG_INF": "INT_HALF_NEG_INF"}

ELEMENTWISE = ("elementwise",)
MAC = {"Dense": ("hls_dense", "hls_dense_stream"), "Conv": ("hls_conv", "hls_conv_line_buffer")}
WINDOW = ("window", "line_buffer", "global")


def _io(prj: HlsProject, node: Node) -> dict:
    """What every call needs: the variables, their types, the element count and the values per pixel."""
    out = node.output
    return {"x": prj.input(node, 0), "y": prj.output(node), "x_t": prj.typename(node.inputs[0]),
            "y_t": prj.declare(out, prj.g.tensor(out).type), "size": prj.g.tensor(out).size,
            "c": prj.chunk(node.inputs[0])}


def _operand(prj: HlsProject, node: Node, k: int, hint: str) -> tuple[str, str]:
    """(C name, type name) of a node's k-th input: a variable, or a constant's ROM."""
    t = node.inputs[k]
    typename = prj.declare(t, prj.g.tensor(t).type)
    if prj.g.tensor(t).is_const:
        return prj.constant(f"{node.name}_{hint}", prj.g.tensor(t), label(node.name), typename), typename
    return prj.input(node, k), typename


def _bias(prj: HlsProject, node: Node, n_out: int) -> tuple[str, str]:
    """The bias ROM and type (a zero that synthesis removes where the model has none)."""
    if len(node.inputs) > 2:
        return _operand(prj, node, 2, "b")
    zero = Tensor(f"{node.name}_zero_bias", (n_out,), FixedType(1, 1, False), np.zeros(n_out, dtype=np.int64))
    b_t = prj.new_type(f"{zero.name}_t", zero.type, "no bias")
    return prj.constant(zero.name, zero, label(node.name), b_t), b_t


def _accumulator(prj: HlsProject, node: Node) -> str:
    acc = node.attrs["accumulator_type"]
    return prj.new_type(f"{node.name}_acc_t", acc.plain(), f"accumulator of {label(node.name)}")


@EMITTERS.register("Dense", microarchs=MAC["Dense"])
def dense(prj: HlsProject, node: Node) -> dict:
    g = prj.g
    x = g.tensor(node.inputs[0])
    k, m = g.tensor(node.inputs[1]).shape
    w, w_t = _operand(prj, node, 1, "w")
    b, b_t = _bias(prj, node, m)
    if k % prj.chunk(node.inputs[0]):
        raise UnsupportedOp(f"Dense input rows of {k} values do not split into pixels of "
                            f"{prj.chunk(node.inputs[0])}", node.name)
    return {**_io(prj, node), "w": w, "b": b, "w_t": w_t, "b_t": b_t, "acc_t": _accumulator(prj, node),
            "outer": x.size // k, "n_in": k, "n_out": m, "reuse": prj.schedule.layer(node.name).reuse,
            "relu": node.attrs.get("activation") == "relu"}


@EMITTERS.register("Conv", microarchs=MAC["Conv"])
def conv(prj: HlsProject, node: Node) -> dict:
    g = prj.g
    c_out = g.tensor(node.output).shape[-1]
    w, w_t = _operand(prj, node, 1, "w")
    b, b_t = _bias(prj, node, c_out)
    return {**_io(prj, node), "w": w, "b": b, "w_t": w_t, "b_t": b_t, "acc_t": _accumulator(prj, node),
            "window": prj.window(node), "c_out": c_out, "groups": node.attrs["groups"],
            "reuse": prj.schedule.layer(node.name).reuse, "relu": node.attrs.get("activation") == "relu"}


def _pool(prj: HlsProject, node: Node) -> dict:
    """A window's geometry, or (the schedule's "global" pools) the pixels a running result reads."""
    if prj.schedule.layer(node.name).microarch == "global":
        return {**_io(prj, node), "global": True, "pixels": prj.g.tensor(node.inputs[0]).size // prj.chunk(
            node.inputs[0])}
    return {**_io(prj, node), "global": False, "window": prj.window(node)}


@EMITTERS.register("MaxPool", microarchs=WINDOW)
def maxpool(prj: HlsProject, node: Node) -> dict:
    return _pool(prj, node)


def _check_64_bits(node: Node, t: FixedType) -> None:
    """Results the layer library clamps as 64-bit integer codes."""
    if not (INT64_MIN <= t.min_int and t.max_int <= INT64_MAX):
        raise UnsupportedOp(f"{node.op} output type {t} is wider than the 64-bit codes the HLS backend clamps",
                            node.name)


def _bits(v: int) -> int:
    """Bits of a two's complement integer that holds -v..v."""
    return abs(int(v)).bit_length() + 1


@EMITTERS.register("AvgPool", microarchs=WINDOW)
def avgpool(prj: HlsProject, node: Node) -> dict:
    g = prj.g
    in_t, out_t = g.tensor(node.inputs[0]).type, g.tensor(node.output).type
    a = node.attrs
    taps = math.prod(a["kernel"])
    shift = out_t.frac - in_t.frac
    biggest = taps * max(abs(in_t.min_int), in_t.max_int)
    num_bits = _bits(biggest << max(shift, 0))
    den_bits = _bits(2 * (taps << max(-shift, 0)))
    saturate = out_t.overflow != "WRAP"
    _check_64_bits(node, out_t)
    return {**_pool(prj, node), "count_pad": bool(a.get("count_include_pad")),
            "shift": shift, "mode": INT_ROUNDING[a["rounding"]], "saturate": saturate,
            "nw": max(num_bits, den_bits) + 2,
            "lo": int(a.get("lo", out_t.min_int)) if saturate else 0,
            "hi": int(a.get("hi", out_t.max_int)) if saturate else 0}


@EMITTERS.register("Relu", microarchs=ELEMENTWISE)
def relu(prj: HlsProject, node: Node) -> dict:
    return _io(prj, node)


@EMITTERS.register("Reshape", microarchs=("wiring",))
def reshape(prj: HlsProject, node: Node) -> dict:
    """C order is kept, only the pixels change. On a stream read by a Dense alone, the Dense reads the input's
    pixels as they come (a flattened feature map needs no buffer)."""
    g = prj.g
    readers = prj.readers.get(node.output, [])
    if (prj.stream and len(readers) == 1 and readers[0][0] and len(prj.readers[node.inputs[0]]) == 1
            and g.node(readers[0][0]).op == "Dense" and readers[0][1] == 0
            and g.tensor(node.output).shape[-1] % prj.chunk(node.inputs[0]) == 0):
        prj.alias(node)
        return {"alias": True}
    return {**_io(prj, node), "alias": False, "cy": g.tensor(node.output).shape[-1]}


@EMITTERS.register("Add", microarchs=ELEMENTWISE)
def add(prj: HlsProject, node: Node) -> dict:
    g = prj.g
    a, a_t = _operand(prj, node, 0, "a")
    b, b_t = _operand(prj, node, 1, "c")
    if g.tensor(node.inputs[0]).is_const:
        raise UnsupportedOp("Add with a constant first operand (the frontend puts constants second)", node.name)
    return {"a": a, "b": b, "a_t": a_t, "b_t": b_t, "y": prj.output(node),
            "y_t": prj.declare(node.output, g.tensor(node.output).type), "size": g.tensor(node.output).size,
            "c": prj.chunk(node.inputs[0]), "b_const": g.tensor(node.inputs[1]).is_const,
            "b_size": g.tensor(node.inputs[1]).size}


@EMITTERS.register("Mul", microarchs=ELEMENTWISE)
def mul(prj: HlsProject, node: Node) -> dict:
    c, c_t = _operand(prj, node, 1, "c")
    return {**_io(prj, node), "k": c, "k_t": c_t, "k_size": prj.g.tensor(node.inputs[1]).size}


@EMITTERS.register("Clip", microarchs=ELEMENTWISE)
def clip(prj: HlsProject, node: Node) -> dict:
    # lo and hi are codes at the input's fraction, within its range (the IR clamps them to it)
    return {**_io(prj, node), "lo": _bound(node.attrs["lo"]), "hi": _bound(node.attrs["hi"])}


@EMITTERS.register("LeakyRelu", microarchs=ELEMENTWISE)
def leaky_relu(prj: HlsProject, node: Node) -> dict:
    alpha = int(node.attrs["alpha_code"])
    a_type = FixedType.covering(alpha, alpha, node.attrs["alpha_frac"])
    a_t = prj.new_type(f"{node.name}_alpha_t", a_type, f"alpha of {label(node.name)}")
    return {**_io(prj, node), "a_t": a_t, "alpha": _bound(alpha)}


@EMITTERS.register("Table", microarchs=("rom",))
def table(prj: HlsProject, node: Node) -> dict:
    out_t = prj.g.tensor(node.output).type
    codes = np.asarray(node.attrs["table"], dtype=np.int64)
    rom = Tensor(f"{node.name}_table", codes.shape, out_t, codes)
    io = _io(prj, node)
    return {**io, "rom": prj.constant(f"{node.name}_table", rom, label(node.name), io["y_t"]),
            "lo": int(node.attrs["in_lo"]), "rom_size": codes.size}


@EMITTERS.register("Softmax", microarchs=("hls_softmax",))
def softmax(prj: HlsProject, node: Node) -> dict:
    a = node.attrs
    n = prj.g.tensor(node.output).shape[-1]
    exp_t, inv_in, inv_t, out_t = a["exp_type"], a["inv_in_type"], a["inv_type"], a["out_type"]
    _check_64_bits(node, out_t)
    roms = []
    for name, key, t in (("exp", "exp_table", exp_t), ("inv", "inv_table", inv_t)):
        codes = np.asarray(a[key], dtype=np.int64)
        rom = Tensor(f"{node.name}_{name}", codes.shape, t, codes)
        roms.append(prj.constant(f"{node.name}_{name}", rom, label(node.name),
                                 prj.new_type(f"{node.name}_{name}_t", t, f"{name} table of {label(node.name)}")))
    sum_shift = exp_t.frac - inv_in.frac
    out_shift = exp_t.frac + inv_t.frac - out_t.frac
    biggest_sum = softmax_sum_type(node, n).max_int
    biggest_product = exp_t.max_int * max(abs(inv_t.min_int), inv_t.max_int)
    io = _io(prj, node)
    return {**io, "n": n, "rows": io["size"] // n, "exp_lo": int(a["exp_lo"]), "inv_lo": int(a["inv_lo"]),
            "inv_hi": int(inv_in.max_int), "sum_shift": sum_shift, "out_shift": out_shift,
            "sw": max(_bits(biggest_sum << max(-sum_shift, 0)), sum_shift + 2, inv_in.width + 1) + 1,
            "pw": max(_bits(biggest_product << max(-out_shift, 0)), out_shift + 2) + 1,
            "y_lo": out_t.min_int, "y_hi": out_t.max_int, "exp": roms[0], "inv": roms[1]}


def _rank3(shape, *per_axis):
    """A shape (and per-axis lists) of rank <= 3 with leading axes of 1 (0 for the per-axis lists)."""
    lead = 3 - len(shape)
    if lead < 0:
        raise UnsupportedOp(f"tensors of rank {len(shape)} (the HLS backend handles up to 3 axes)")
    return [[1] * lead + list(shape)] + [[0] * lead + list(p) for p in per_axis]


@EMITTERS.register("Pad", microarchs=("wiring",))
def pad(prj: HlsProject, node: Node) -> dict:
    g = prj.g
    shape = g.tensor(node.inputs[0]).shape
    rank = len(shape)
    try:
        dims, before = _rank3(shape, node.attrs["pads"][:rank])
    except UnsupportedOp as e:
        raise UnsupportedOp(str(e), node.name) from None
    outs = _rank3(g.tensor(node.output).shape)[0]
    return {**_io(prj, node), "dims": dims, "outs": outs, "before": before, "value": _bound(node.attrs["value"])}


@EMITTERS.register("Concat", microarchs=("wiring",))
def concat(prj: HlsProject, node: Node) -> dict:
    """Two inputs at a time: more become a chain through intermediate buffers of the output's type."""
    g = prj.g
    out = g.tensor(node.output)
    axis = node.attrs["axis"]
    outer = math.prod(out.shape[:axis])
    inner = math.prod(out.shape[axis + 1:])
    y_t = prj.declare(node.output, out.type)
    parts, first = [], None
    for k in range(1, len(node.inputs)):
        if g.tensor(node.inputs[k]).is_const or g.tensor(node.inputs[0]).is_const:
            raise UnsupportedOp("Concat of a constant", node.name)
        if first is None:
            x0, x0_t, b0, c0 = prj.input(node, 0), prj.typename(node.inputs[0]), \
                g.tensor(node.inputs[0]).shape[axis] * inner, prj.chunk(node.inputs[0])
        else:
            x0, x0_t, b0, c0 = first
        x1 = g.tensor(node.inputs[k])
        b1 = x1.shape[axis] * inner
        last = k == len(node.inputs) - 1
        cy = out.shape[-1] if axis != len(out.shape) - 1 else b0 + b1
        y = prj.output(node) if last else prj.buffer(prj.names(f"{node.output}_part{k}", "var"), outer * (b0 + b1),
                                                      y_t, cy)
        parts.append({"x0": x0, "x1": prj.input(node, k), "x0_t": x0_t, "x1_t": prj.typename(node.inputs[k]),
                      "y": y, "outer": outer, "b0": b0, "b1": b1, "c0": c0, "c1": prj.chunk(node.inputs[k]),
                      "cy": cy})
        first = (y, y_t, b0 + b1, cy)
    return {"parts": parts, "y_t": y_t}


@EMITTERS.register("Resize", microarchs=("wiring", "row_buffer"))
def resize(prj: HlsProject, node: Node) -> dict:
    g = prj.g
    maps = [np.asarray(m, dtype=np.int64) for m in node.attrs["maps"]]
    if len(maps) == 1:
        maps = [np.zeros(1, dtype=np.int64)] + maps
    if np.any(np.diff(maps[0]) < 0):
        raise UnsupportedOp("Resize whose row map decreases (nearest resampling never does)", node.name)
    in_shape = [1] * (3 - len(g.tensor(node.inputs[0]).shape)) + list(g.tensor(node.inputs[0]).shape)
    io = _io(prj, node)
    return {**io, "h": in_shape[0], "w": in_shape[1], "oh": len(maps[0]), "ow": len(maps[1]),
            "rows": prj.index_table(f"{node.name}_rows", maps[0], label(node.name)),
            "cols": prj.index_table(f"{node.name}_cols", maps[1], label(node.name))}


@EMITTERS.register("Transpose", microarchs=("wiring", "frame_buffer"))
def transpose(prj: HlsProject, node: Node) -> dict:
    shape = prj.g.tensor(node.inputs[0]).shape
    perm = tuple(node.attrs["perm"])
    lead = 3 - len(shape)
    try:
        dims = _rank3(shape)[0]
    except UnsupportedOp as e:
        raise UnsupportedOp(str(e), node.name) from None
    return {**_io(prj, node), "dims": dims, "perm": list(range(lead)) + [p + lead for p in perm]}


@EMITTERS.register("Requantize", microarchs=ELEMENTWISE)
def requantize_scaled(prj: HlsProject, node: Node) -> dict:
    """TFLite's integer requantization per channel (ir/ops.py Requantize): tables of M0 * 2**left and of the right
    shifts, one entry per channel, and the product's width."""
    out_t = prj.g.tensor(node.output).type
    _check_64_bits(node, out_t)
    channels = Requantize.channels(node, len(node.attrs["multiplier"]))
    where = label(node.name)
    return {**_io(prj, node), "k": len(channels), "pw": Requantize.product_bits(prj.g, node) + 3,
            "m": prj.index_table(f"{node.name}_multiplier", [m0 << max(e, 0) for m0, e in channels], where),
            "r": prj.index_table(f"{node.name}_shift", [max(-e, 0) for _, e in channels], where),
            "lo": int(node.attrs["lo"]), "hi": int(node.attrs["hi"])}


def needs_explicit_rounding(g, node: Node) -> bool:
    """No ap_fixed mode rounds this way (CEIL, UP), or the clamp range is not the type's own (QONNX narrow
    unsigned, QDQ zero points): the rounding and the clamp are written out on integers."""
    out_t = g.tensor(node.output).type
    natural = (out_t.min_int, out_t.max_int) == (node.attrs["lo"], node.attrs["hi"])
    return AP_QUANT_MODE[node.attrs["rounding"]] is None or (out_t.overflow != "WRAP" and not natural)


def rounding_intermediate(in_t: FixedType, out_t: FixedType, rounding: str) -> FixedType:
    """Out's fractional bits and integer room for any value of in_t rounded up by one step."""
    integer = max(in_t.integer + (0 if in_t.signed else 1), out_t.integer) + 2
    mode = rounding if AP_QUANT_MODE[rounding] else "FLOOR"
    return FixedType(integer + out_t.frac, integer, True, mode, "WRAP")


def _bound(code: int) -> dict:
    """An integer code for the template: a 64-bit literal when it fits, else decimal text (exact at any width)."""
    return {"code": int(code), "fits": INT64_MIN <= int(code) <= INT64_MAX}


@EMITTERS.register("Quantize", microarchs=ELEMENTWISE)
def quantize(prj: HlsProject, node: Node) -> dict:
    g = prj.g
    out_t = g.tensor(node.output).type
    if not needs_explicit_rounding(g, node):  # a cast: the output type carries its own rounding and overflow
        prj.declare(node.output, out_t, with_modes=True)
        return {**_io(prj, node), "explicit": False}
    rounding = node.attrs["rounding"]
    r_type = rounding_intermediate(g.tensor(node.inputs[0]).type, out_t, rounding)
    r_t = prj.names(f"{node.name}_round_t", "type")
    prj.rounding_types.append({"rtype": r_type.ap_type(), "rtypename": r_t, "label": label(node.name)})
    mode = {"CEIL": "ROUND_CEIL", "UP": "ROUND_UP"}.get(rounding, "ROUND_AP")  # ROUND_AP: R's own ap mode
    return {**_io(prj, node), "explicit": True, "r_t": r_t, "mode": mode, "saturate": out_t.overflow != "WRAP",
            "lo": _bound(node.attrs["lo"]), "hi": _bound(node.attrs["hi"])}
