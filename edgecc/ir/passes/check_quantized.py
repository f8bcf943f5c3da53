"""The lowered graph is hardware: every tensor typed, float only at graph inputs, which feed quantizers only."""
from __future__ import annotations

from ...errors import ModelError, UnsupportedOp
from ..graph import Graph
from ..ops import OPS


def run(g: Graph, config) -> bool:
    names = [n.name for n in g.nodes]
    if len(set(names)) != len(names):  # every pass that adds a node must give it a fresh name
        dup = next(n for n in names if names.count(n) > 1)
        raise ModelError(f"two nodes are named {dup!r} after lowering", dup)
    for node in g.nodes:
        if node.op not in OPS:
            raise UnsupportedOp(f"op {node.op} has no hardware definition", node.name)
        for t in node.inputs:
            if t in g.inputs and node.op != "Quantize":
                raise ModelError(f"reads float input {t!r} without a quantizer", node.name)
            if g.tensor(t).type is None and t not in g.inputs:
                raise ModelError(f"input {t!r} has no fixed-point type", node.name)
    for name in g.inputs:
        if len(g.consumers(name)) != 1:
            raise UnsupportedOp(f"graph input {name!r} feeds {len(g.consumers(name))} quantizers; edgecc needs one")
    for t in g.outputs:
        if t in g.inputs:
            raise UnsupportedOp(f"graph output {t!r} is a graph input")
    return False
