"""fuse_bias_activation: MatMul + constant Add + Relu become one Dense; what does not fit the pattern stays."""
from __future__ import annotations

import numpy as np

from models import float_mlp, qonnx_ops_model

from .lowering import lowered_until


def test_matmul_bias_and_relu_become_one_dense():
    graph, config, run = lowered_until(float_mlp(sizes=(4, 6, 3), use_gemm=False), "fuse_bias_activation")
    assert [n.op for n in graph.nodes] == ["MatMul", "Add", "Relu", "MatMul", "Add"]
    bias = graph.tensor(graph.nodes[1].inputs[1]).data
    assert run(graph, config) is True
    assert [n.op for n in graph.nodes] == ["Dense", "Dense"]
    first, last = graph.nodes
    assert first.attrs["activation"] == "relu" and last.attrs["activation"] is None
    np.testing.assert_array_equal(graph.tensor(first.inputs[2]).data, bias)
    assert graph.outputs == [last.output]


def test_an_add_of_a_non_vector_constant_stays_an_add():
    """The ops model adds a [2, 8] constant to a Reshape's output (no MatMul before it): not a bias."""
    graph, config, run = lowered_until(qonnx_ops_model(), "fuse_bias_activation")
    run(graph, config)
    ops = [n.op for n in graph.nodes]
    assert "Add" in ops and "Relu" in ops and ops.count("Dense") == 1
