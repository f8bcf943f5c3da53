"""Give float inputs and float constants a fixed-point type: the model's own where it has none, from the config."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Tensor
from ..quantizers import QuantSpec, quantize_constant


def _spec_of(t) -> QuantSpec:
    return QuantSpec(t.frac, t.min_int, t.max_int, t.rounding, t.overflow == "SAT_SYM")


def run(g: Graph, config) -> bool:
    changed = False
    # a graph input not read by a quantizer gets one of the input (or default) type
    for name in g.inputs:
        users = g.consumers(name)
        if users and all(u.op == "Quant" for u in users):
            continue
        ftype = config.input_type or config.default_type
        q = g.fresh_name(f"{name}_q")
        g.add_tensor(Tensor(q, g.tensor(name).shape))
        for u in users:
            u.inputs = [q if t == name else t for t in u.inputs]
        g.nodes.insert(0, Node(f"{name}_quant", "Quant", [name], [q], {"spec": _spec_of(ftype)}))
        changed = True
    # float constants: weights and biases of Dense layers, operands of Add
    for node in g.nodes:
        layer = config.layer(node.name)
        for k, name in enumerate(node.inputs):
            t = g.tensor(name)
            if not t.is_const or t.type is not None:
                continue
            role_type = layer.weight_type if (node.op == "Dense" and k == 1) else layer.bias_type
            ftype = role_type or config.default_type
            codes, _ = quantize_constant(np.asarray(t.data, dtype=np.float64), np.array(ftype.frac),
                                         ftype.min_int, ftype.max_int, ftype.rounding)
            g.tensors[name] = Tensor(name, t.shape, ftype.plain(), codes)
            changed = True
    return changed
