"""An op that rounds its own result (AvgPool, a table activation, Softmax) takes the quantizer that alone follows
it as its output type: one rounding, as the reference executor's float op and quantizer make, never two."""
from __future__ import annotations

from ..graph import Graph

SELF_ROUNDING_OPS = ("AvgPool", "Activation", "Softmax")


def run(g: Graph, config) -> bool:
    changed = False
    for node in list(g.nodes):
        if node.op not in SELF_ROUNDING_OPS or node.output in g.outputs:
            continue
        users = g.consumers(node.output)
        if len(users) != 1 or users[0].op != "Quantize":
            continue
        q = users[0]
        node.attrs.update(out_type=g.tensor(q.output).type, lo=int(q.attrs["lo"]), hi=int(q.attrs["hi"]))
        if node.op == "AvgPool":
            node.attrs["rounding"] = q.attrs["rounding"]
            node.attrs["frac"] = g.tensor(q.output).type.frac
        g.replace_uses(q.output, node.output)
        g.tensor(node.output).type = g.tensor(q.output).type
        g.remove_node(q)
        changed = True
    g.prune()
    return changed
