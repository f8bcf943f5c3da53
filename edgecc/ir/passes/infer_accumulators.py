"""Exact output types for every computing node: accumulators wide enough that no sum ever overflows. Table
activations get their tables here (they need their input's type), float attributes become codes, and ratios of
scale factors become a Requantize's integer multipliers and a bias's codes on its accumulator's grid."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ...errors import ModelError, UnsupportedOp
from ..graph import Graph, Tensor
from ..ops import op_def
from ..quantizers import exact_codes_of_floats, round_fraction
from ..scales import power_of_two, quantized_multiplier
from ..types import FixedType
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
    """Attributes the frontend could only give as floats or defaults, as codes on the input's grid; ratios of scale
    factors (ir/passes/infer_scales.py) as integer multipliers and bias codes."""
    in_t = g.tensor(node.inputs[0]).type
    a = node.attrs
    if node.op == "Requantize" and "ratio" in a:
        out_t = g.tensor(node.output).type
        step = Fraction(2) ** (out_t.frac - in_t.frac)   # the ratio of the real steps: factors and fractions
        pairs = [quantized_multiplier(r * step) for r in a.pop("ratio")]
        a["multiplier"], a["exponent"] = tuple(m for m, _ in pairs), tuple(e for _, e in pairs)
    elif node.op in ("Dense", "Conv") and "bias_ratio" in a:
        _bias_onto_accumulator(g, node, a.pop("bias_ratio"))
    elif node.op == "Clip" and "lo_float" in a:
        lo_f, hi_f = a.pop("lo_float"), a.pop("hi_float")
        factor = a.pop("factor", None)
        if factor is not None:   # the codes' real step is 2^-f * factor: compare in exact rationals
            a["lo"] = max(in_t.min_int, _ceil_scaled(lo_f, in_t.frac, factor))
            a["hi"] = min(in_t.max_int, _floor_scaled(hi_f, in_t.frac, factor))
            if a["lo"] > a["hi"]:
                raise ModelError(f"Clip bounds [{lo_f}, {hi_f}] hold no value of {in_t}", node.name)
            return
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


def _bias_onto_accumulator(g: Graph, node, ratios) -> None:
    """A bias whose scale factor differs from the accumulator's (per channel c, bias factor = ratios[c] times the
    accumulator's): the same codes at another fraction where every ratio is one power of two (exact), else the
    bias rounded half to even onto the products' grid (as TFLite adds an int32 bias of scale s_x * s_w; a model's
    float32 bias scale differs from that product by at most 2**-24 relative, which rounds to the same codes for
    any bias below 2**23)."""
    x_t, w_t = g.tensor(node.inputs[0]).type, g.tensor(node.inputs[1]).type
    b = g.tensor(node.inputs[2])
    ks = {power_of_two(r) for r in ratios}
    name = g.fresh_name(f"{b.name}_acc")
    out_scale = g.tensor(node.output).scale
    if len(ks) == 1 and None not in ks:
        k = ks.pop()
        # b * 2**-frac * (2**k * the accumulator's factor): the same codes at frac - k
        t = FixedType(b.type.width, b.type.integer + k, b.type.signed)
        g.add_tensor(Tensor(name, b.shape, t, b.data, out_scale))
    else:
        frac = x_t.frac + w_t.frac
        step = Fraction(2) ** (frac - b.type.frac)
        codes = [round_fraction(int(v) * ratios[c % len(ratios)] * step, "ROUND")
                 for c, v in enumerate(np.ravel(b.data))]
        t = FixedType.covering(min(codes + [0]), max(codes + [0]), frac)
        data = np.array(codes, dtype=object).reshape(b.shape)
        g.add_tensor(Tensor(name, b.shape, t, data.astype(np.int64) if t.fits_int64() else data, out_scale))
    node.inputs[2] = name


def _ceil_scaled(v: float, frac: int, factor) -> int:
    if v == -math.inf:
        return -(1 << 4096)
    q = Fraction(v) * Fraction(2) ** frac / Fraction(factor)
    return -((-q.numerator) // q.denominator)


def _floor_scaled(v: float, frac: int, factor) -> int:
    if v == math.inf:
        return 1 << 4096
    q = Fraction(v) * Fraction(2) ** frac / Fraction(factor)
    return q.numerator // q.denominator


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
