"""Lookup-table activations, computed once when the graph is lowered: the golden model and every backend read
the same integer tables, so they agree bit for bit.

A table covers every code of its input type. Where the producer's type is narrow (at most MAX_TABLE_INPUT_BITS,
e.g. a quantized activation), the table reads it directly, and where a quantizer follows, the table's entries are
that quantizer applied to the function's float64 value: the same answer the reference executor gives, up to its
own float rounding. Otherwise the input is first quantized to the layer's `table_input` type (config; default
fixed<10,4>: 1024 entries over [-8, 8), as hls4ml's default table) and the output is the layer's result type.
A Softmax's exponential and reciprocal tables hold entries of the layer's `table` type (default ufixed<18,1>).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError, UnsupportedOp
from .graph import Graph, Node, Tensor
from .types import FixedType

MAX_TABLE_INPUT_BITS = 12
DEFAULT_TABLE_INPUT = FixedType(10, 4, True, "ROUND", "SAT")
SOFTMAX_TABLE_TYPE = FixedType(18, 1, False, "ROUND", "SAT")   # e^d for d <= 0 and 1/s for s >= 1: (0, 1]
INV_FRACTION_BITS = 8                                     # the sum's steps as the reciprocal table reads it
MAX_EXP_ENTRIES = 1 << 12


def _function(node: Node):
    f = node.attrs["function"]
    if f == "Sigmoid":
        return lambda x: 1.0 / (1.0 + np.exp(-x))
    if f == "Tanh":
        return np.tanh
    if f == "HardSigmoid":
        a, b = node.attrs["alpha"], node.attrs["beta"]
        return lambda x: np.clip(a * x + b, 0.0, 1.0)
    if f == "HardSwish":
        return lambda x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0)
    raise UnsupportedOp(f"activation {f} has no table", node.name)


def table_input(g: Graph, node: Node, config) -> str:
    """The tensor a table reads: the input itself where its type is narrow and no type is configured, else the
    input quantized to the configured (or default) table input type by a Quantize node inserted here."""
    src = g.tensor(node.inputs[0])
    wanted = getattr(config.layer(node.name), "table_input", None) if config is not None else None
    if wanted is None and src.type.width <= MAX_TABLE_INPUT_BITS:
        return src.name
    if src.scale is not None:
        raise UnsupportedOp(f"a table over a {src.type.width}-bit input whose scale is not a power of two (edgecc "
                            f"reads such an input directly, up to {MAX_TABLE_INPUT_BITS} bits)", node.name)
    t = wanted or DEFAULT_TABLE_INPUT
    name = g.fresh_name(f"{node.inputs[0]}_table_in")
    g.add_tensor(Tensor(name, src.shape, t))
    q = Node(g.fresh_node_name(f"{node.name}_table_in"), "Quantize", [src.name], [name],
             {"rounding": t.rounding, "lo": t.min_int, "hi": t.max_int})
    g.nodes.insert(g.nodes.index(node), q)
    node.inputs[0] = name
    return name


def _factor(x: Tensor) -> float:
    """The input's scale factor (one for the tensor; ir/scales.py), as the float the table's function reads."""
    return 1.0 if x.scale is None else float(np.ravel(x.scale)[0])


def _out_type(node: Node, config) -> tuple[FixedType, int, int]:
    fused = node.attrs.get("out_type")
    if fused is not None:
        return fused, node.attrs.get("lo", fused.min_int), node.attrs.get("hi", fused.max_int)
    layer = config.layer(node.name) if config is not None else None
    t = (layer.result_type if layer is not None else None) or (config.default_type if config is not None else
                                                                FixedType(16, 6, True, "ROUND", "SAT"))
    return t, t.min_int, t.max_int


def lower_activation(g: Graph, node: Node, config) -> None:
    """Activation(function) -> Table with the entries f(x) quantized to the output type."""
    x = g.tensor(table_input(g, node, config))
    out_t, lo, hi = _out_type(node, config)
    codes = np.arange(x.type.min_int, x.type.max_int + 1, dtype=np.int64)
    values = _function(node)(x.type.to_float(codes).astype(np.float64) * _factor(x))
    table = out_t.quantize(values, lo, hi)
    node.op = "Table"
    node.attrs = {"function": node.attrs["function"], "table": tuple(int(v) for v in table),
                  "in_lo": int(x.type.min_int), "out_type": out_t.with_modes(overflow="SAT")}


def _table_type(node: Node, config) -> FixedType:
    """The Softmax tables' entry type: the layer's `table` config, else SOFTMAX_TABLE_TYPE. Both tables hold values in
    (0, 1], so the type must be unsigned with an integer bit and a fraction."""
    layer = config.layer(node.name) if config is not None else None
    t = getattr(layer, "table_type", None) or SOFTMAX_TABLE_TYPE
    if t.signed or t.integer < 1 or t.frac < 1 or t.width > 30:
        raise ModelError(f"Softmax table type {t} must be unsigned with 1 or more integer and fractional bits and "
                         f"at most 30 bits (its entries lie in (0, 1]), e.g. ufixed<18,1>", node.name)
    return t.with_modes(rounding="ROUND", overflow="SAT")


def lower_softmax(g: Graph, node: Node, config) -> None:
    """Softmax -> the integer Softmax op with its exponential and reciprocal tables (see ir/ops_pointwise.py)."""
    x = g.tensor(table_input(g, node, config))
    n = x.shape[-1]
    out_t, _, _ = _out_type(node, config)
    exp_t = inv_t = _table_type(node, config)
    span = x.type.max_int - x.type.min_int
    exp_lo = -min(span, MAX_EXP_ENTRIES - 1)
    d = np.arange(exp_lo, 1, dtype=np.int64)
    exp_table = exp_t.quantize(np.exp(d.astype(np.float64) * 2.0 ** -x.type.frac * _factor(x)))
    exp_table = np.maximum(exp_table, 0)
    int_bits = max(1, math.ceil(math.log2(n + 1)))
    inv_in = FixedType(int_bits + INV_FRACTION_BITS, int_bits, False, "FLOOR", "SAT")
    inv_lo = 1 << inv_in.frac                      # the sum is at least e^0 = 1
    s = np.arange(inv_lo, inv_in.max_int + 1, dtype=np.int64)
    inv_table = inv_t.quantize(1.0 / (s.astype(np.float64) * 2.0 ** -inv_in.frac))
    node.op = "Softmax"
    node.attrs = {"exp_table": tuple(int(v) for v in exp_table), "exp_lo": int(exp_lo), "exp_type": exp_t,
                  "inv_table": tuple(int(v) for v in inv_table), "inv_lo": int(inv_lo), "inv_in_type": inv_in,
                  "inv_type": inv_t, "out_type": out_t.with_modes(overflow="SAT")}
