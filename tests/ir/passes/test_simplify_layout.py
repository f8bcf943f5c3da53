"""simplify_layout: a Transpose moved in front of a per-element op keeps the graph typed."""
from __future__ import annotations

import edgecc
from models_cnn import cnn1d


def test_transpose_hoisted_above_a_quantizer_keeps_the_quantizer_type():
    # cnn1d ends Conv -> Quant -> (NCHW) Transpose -> Flatten -> Dense: the Transpose moves above the Quantize,
    # whose fixed output type must move with it (before the fix, load failed: "input has no fixed-point type")
    graph = edgecc.load(cnn1d())
    q = graph.node("q16")
    assert graph.producer(q.inputs[0]).op == "Transpose"
    assert str(graph.tensor(q.output).type) == "ufixed<8,4,ROUND,SAT>"
