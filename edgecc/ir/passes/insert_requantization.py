"""Quantize layer results where the model does not: every layer of a float model, and layers the config types."""
from __future__ import annotations

from ..graph import Graph, Node, Tensor
from ..quantizers import QuantSpec

# the ops whose results grow (sums, products, averages); the others keep their input's grid or have their own type
RESULT_OPS = ("Dense", "Conv", "Add", "Mul", "LeakyRelu", "AvgPool")


def run(g: Graph, config) -> bool:
    float_model = not g.meta.get("quantized", False)
    changed = False
    for node in list(g.nodes):
        if node.op not in RESULT_OPS:
            continue
        result_type = config.layer(node.name).result_type
        users = g.consumers(node.output)
        already = users and all(u.op == "Quant" for u in users) and node.output not in g.outputs
        if result_type is None and (already or not float_model):
            continue
        ftype = result_type or config.default_type
        out = node.output
        raw = g.fresh_name(f"{out}_acc")
        g.add_tensor(Tensor(raw, g.tensor(out).shape))
        node.outputs = [raw]
        g.nodes.insert(g.nodes.index(node) + 1, Node(g.fresh_node_name(f"{node.name}_result"), "Quant", [raw], [out],
                                                     {"spec": QuantSpec.of_type(ftype)}))
        changed = True
    return changed
