"""Exact output types for every computing node: accumulators wide enough that no sum ever overflows. Table
activations get their tables here (they need their input's type), and float attributes become codes."""
from __future__ import annotations

import math

import numpy as np

from ...errors import ModelError, UnsupportedOp
from ..graph import Graph
from ..ops import op_def
from ..quantizers import exact_codes_of_floats
from ..tables import lower_activation, lower_softmax


def run(g: Graph, config) -> bool:
    g.toposort()
    for node in list(g.nodes):
        if node.op == "Quantize":
            continue
        for t in node.inputs:
            if g.tensor(t).type is None:
                raise ModelError(f"input {t!r} has no fixed-point type (is it quantized?)", node.name)
        if node.op == "Activation":   # its table needs its input's type: built now (may quantize the input)
            lower_activation(g, node, config)
        elif node.op == "Softmax" and "exp_table" not in node.attrs:
            lower_softmax(g, node, config)
        else:
            resolve_attrs(g, node)
        g.tensor(node.output).type = op_def(node).infer(g, node)
        if node.op in ("Dense", "Conv"):
            node.attrs["accumulator_type"] = op_def(node).accumulator_type(g, node)
    return True


def resolve_attrs(g: Graph, node) -> None:
    """Attributes the frontend could only give as floats or defaults, as codes on the input's grid."""
    in_t = g.tensor(node.inputs[0]).type
    a = node.attrs
    if node.op == "Clip" and "lo_float" in a:
        lo_f, hi_f = a.pop("lo_float"), a.pop("hi_float")
        # x >= lo exactly when its code >= ceil(lo * 2^f); bounds beyond the type clamp nothing
        a["lo"] = max(in_t.min_int, _ceil_code(lo_f, in_t.frac))
        a["hi"] = min(in_t.max_int, _floor_code(hi_f, in_t.frac))
        if a["lo"] > a["hi"]:
            raise ModelError(f"Clip bounds [{lo_f}, {hi_f}] hold no value of {in_t}", node.name)
    elif node.op == "Pad" and "value_float" in a:
        codes, frac = exact_codes_of_floats(np.array([a.pop("value_float")]))
        if frac > in_t.frac:
            raise UnsupportedOp(f"the Pad value needs {frac} fractional bits, its input has {in_t.frac}", node.name)
        a["value"] = int(codes[0]) << (in_t.frac - frac)
    elif node.op == "AvgPool" and a.get("frac") is None and a.get("out_type") is None:
        from ..ops_spatial import _spatial, average_default_frac, pool_counts

        a["frac"] = average_default_frac(in_t.frac, pool_counts(_spatial(g, node), a))


def _ceil_code(v: float, frac: int) -> int:
    if math.isinf(v):   # beyond every code of any type (a lower bound of +inf holds nothing)
        return (1 << 4096) if v > 0 else -(1 << 4096)
    num, den = float(v).as_integer_ratio()
    return -((-num << max(frac, 0)) // (den << max(-frac, 0)))


def _floor_code(v: float, frac: int) -> int:
    if math.isinf(v):
        return (1 << 4096) if v > 0 else -(1 << 4096)
    num, den = float(v).as_integer_ratio()
    return (num << max(frac, 0)) // (den << max(-frac, 0))
