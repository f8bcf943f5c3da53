"""MatMul with a constant weight matrix, plus a following constant Add and Relu, becomes one Dense node; a Conv
takes a following per-channel Add as its bias (where it has none) and a Relu likewise."""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedOp
from ..graph import Graph, Node, Tensor
from ..scales import compact


def _only_consumer(g: Graph, tensor: str, op: str) -> Node | None:
    users = g.consumers(tensor)
    if len(users) == 1 and users[0].op == op and tensor not in g.outputs:
        return users[0]
    return None


def _bias_vector(g: Graph, add: Node, product: str):
    """The constant operand of `add` as one vector over output channels, or None if it varies along other axes."""
    const = next((t for t in add.inputs if t != product), None)
    if const is None:  # x + x
        return None
    t = g.tensor(const)
    if not t.is_const:
        return None
    channels = g.tensor(product).shape[-1]
    data = np.asarray(t.data)
    shape = data.shape[:-1] + (channels,) if data.ndim else (channels,)
    rows = np.broadcast_to(data, shape).reshape(-1, channels)
    if not all(np.array_equal(rows[0], r) for r in rows[1:]):
        return None
    scale = None
    if t.scale is not None:   # the scale factor of each channel's bias, likewise
        srows = np.broadcast_to(np.broadcast_to(np.asarray(t.scale, dtype=object), data.shape), shape)
        srows = srows.reshape(-1, channels)
        if not all(np.array_equal(srows[0], r) for r in srows[1:]):
            return None
        scale = compact(srows[0])
    return const, rows[0], scale


def run(g: Graph, config) -> bool:
    changed = False
    for node in list(g.nodes):
        if node.op == "MatMul":
            node.op = "Dense"
        elif node.op != "Conv":
            continue
        node.attrs.setdefault("activation", None)
        changed = True
        add = _only_consumer(g, node.output, "Add") if len(node.inputs) < 3 else None
        if add is not None:
            bias = _bias_vector(g, add, node.output)
            if bias is not None:
                const, vector, scale = bias
                t = g.tensor(const)
                name = g.fresh_name(f"{const}_bias")
                g.add_tensor(Tensor(name, (vector.shape[0],), t.type, np.ascontiguousarray(vector), scale))
                node.inputs.append(name)
                g.replace_uses(add.output, node.output)
                g.remove_node(add)
        relu = _only_consumer(g, node.output, "Relu")
        if relu is not None:
            node.attrs["activation"] = "relu"
            g.replace_uses(relu.output, node.output)
            g.remove_node(relu)
    for node in g.nodes:
        if node.op == "Add" and sum(g.tensor(t).is_const for t in node.inputs) > 1:
            raise UnsupportedOp("Add of two constants", node.name)
    g.prune()
    return changed
