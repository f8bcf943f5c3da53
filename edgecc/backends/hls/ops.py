"""One emitter per IR op for the HLS backend: each returns the plain data its template (templates/hls/ops/) needs."""
from __future__ import annotations

import numpy as np

from ...ir.graph import Node, Tensor
from ...ir.types import AP_QUANT_MODE, FixedType
from .. import OpEmitters
from ..common import label
from .emit import HlsProject

EMITTERS = OpEmitters("hls")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def _io(prj: HlsProject, node: Node) -> dict:
    out = node.output
    return {"x": prj.variable(node.inputs[0]), "y": prj.variable(out), "x_t": prj.typename(node.inputs[0]),
            "y_t": prj.declare(out, prj.g.tensor(out).type), "size": prj.g.tensor(out).size}


@EMITTERS.register("Dense", microarchs=("hls_dense",))
def dense(prj: HlsProject, node: Node) -> dict:
    g = prj.g
    x = g.tensor(node.inputs[0])
    k, m = g.tensor(node.inputs[1]).shape
    layer_label = label(node.name)
    w_t = prj.declare(node.inputs[1], g.tensor(node.inputs[1]).type)
    w = prj.constant(f"{node.name}_w", g.tensor(node.inputs[1]), layer_label, w_t)
    if len(node.inputs) > 2:
        b_t = prj.declare(node.inputs[2], g.tensor(node.inputs[2]).type)
        b = prj.constant(f"{node.name}_b", g.tensor(node.inputs[2]), layer_label, b_t)
    else:  # no bias in the model: a zero that synthesis removes
        zero = Tensor(f"{node.name}_zero_bias", (m,), FixedType(1, 1, False), np.zeros(m, dtype=np.int64))
        b_t = prj.new_type(f"{zero.name}_t", zero.type, "no bias")
        b = prj.constant(zero.name, zero, layer_label, b_t)
    acc = node.attrs["accumulator_type"]
    acc_t = prj.new_type(f"{node.name}_acc_t", acc.plain(), f"accumulator of {layer_label}")
    return {**_io(prj, node), "w": w, "b": b, "w_t": w_t, "b_t": b_t, "acc_t": acc_t, "outer": x.size // k,
            "n_in": k, "n_out": m, "reuse": prj.schedule.layer(node.name).reuse,
            "relu": node.attrs.get("activation") == "relu"}


@EMITTERS.register("Relu", microarchs=("elementwise",))
def relu(prj: HlsProject, node: Node) -> dict:
    return _io(prj, node)


@EMITTERS.register("Reshape", microarchs=("wiring",))
def reshape(prj: HlsProject, node: Node) -> dict:
    return _io(prj, node)


@EMITTERS.register("Add", microarchs=("elementwise",))
def add(prj: HlsProject, node: Node) -> dict:
    g = prj.g
    operands, types = [], []
    for t in node.inputs:
        types.append(prj.declare(t, g.tensor(t).type))
        if t in prj.var:
            operands.append(prj.variable(t))
        else:
            operands.append(prj.constant(f"{node.name}_c", g.tensor(t), label(node.name), types[-1]))
    # the frontend puts a constant operand second
    return {"a": operands[0], "b": operands[1], "a_t": types[0], "b_t": types[1], "y": prj.variable(node.output),
            "y_t": prj.declare(node.output, g.tensor(node.output).type), "size": g.tensor(node.output).size,
            "b_const": node.inputs[1] not in prj.var}


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


@EMITTERS.register("Quantize", microarchs=("elementwise",))
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

