"""Exact output types for every computing node: accumulators wide enough that no sum ever overflows."""
from __future__ import annotations

from ...errors import ModelError
from ..graph import Graph
from ..ops import op_def


def run(g: Graph, config) -> bool:
    g.toposort()
    for node in g.nodes:
        if node.op == "Quantize":
            continue
        for t in node.inputs:
            if g.tensor(t).type is None:
                raise ModelError(f"input {t!r} has no fixed-point type (is it quantized?)", node.name)
        g.tensor(node.output).type = op_def(node).infer(g, node)
        if node.op == "Dense":
            node.attrs["accumulator_type"] = op_def(node).accumulator_type(g, node)
    return True
