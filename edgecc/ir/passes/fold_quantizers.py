"""Model quantizers (QONNX Quant, Q/DQ pairs) become typed tensors: a Quantize node with the model's rounding
and clamp range, whose output type is the narrowest fixed-point type holding that range, with the quantizer's
overflow mode (SAT, SAT_SYM or WRAP)."""
from __future__ import annotations

from ..graph import Graph


def run(g: Graph, config) -> bool:
    changed = False
    for node in g.nodes:
        if node.op != "Quant":
            continue
        spec = node.attrs.pop("spec")
        g.tensor(node.output).type = spec.out_type()
        node.op = "Quantize"
        node.attrs.update({"rounding": spec.rounding, "lo": spec.lo, "hi": spec.hi})
        changed = True
    return changed
