"""Model quantizers (QONNX Quant, Q/DQ pairs) become typed tensors: a Quantize node with the model's rounding
and clamp range, whose output type is the narrowest fixed-point type holding that range, with the quantizer's
overflow mode (SAT, SAT_SYM or WRAP). A scale that is not a power of two becomes the output's scale factor; at a
graph input, the quantizer keeps the model's float32 recipe where it needs one (ir/scales.py)."""
from __future__ import annotations

import numpy as np

from ..graph import Graph


def run(g: Graph, config) -> bool:
    changed = False
    for node in g.nodes:
        if node.op != "Quant":
            continue
        spec = node.attrs.pop("spec")
        out = g.tensor(node.output)
        out.type = spec.out_type()
        out.scale = None if spec.factor is None else np.array(spec.factor, dtype=object)
        node.op = "Quantize"
        node.attrs.update({"rounding": spec.rounding, "lo": spec.lo, "hi": spec.hi})
        if spec.float_scale is not None and node.inputs[0] in g.inputs:
            node.attrs.update({"scale": float(spec.float_scale), "zero_point": int(spec.zero_point),
                               "zero_point_first": bool(spec.zero_point_first)})
        changed = True
    return changed
