"""check_quantized: the lowered graph is hardware, or a clear error says what is not."""
from __future__ import annotations

import pytest

from edgecc.errors import ModelError
from models import qonnx_mlp

from .lowering import lowered_until


def test_a_lowered_model_passes():
    graph, config, run = lowered_until(qonnx_mlp(seed=1), "check_quantized")
    assert run(graph, config) is False


def test_two_nodes_of_one_name_after_lowering_are_an_error():
    graph, config, run = lowered_until(qonnx_mlp(seed=1), "check_quantized")
    graph.nodes[2].name = graph.nodes[3].name
    with pytest.raises(ModelError, match="two nodes are named"):
        run(graph, config)


def test_an_untyped_tensor_is_an_error_naming_the_node():
    graph, config, run = lowered_until(qonnx_mlp(seed=1), "check_quantized")
    dense = next(n for n in graph.nodes if n.op == "Dense")
    graph.tensor(dense.inputs[0]).type = None
    with pytest.raises(ModelError, match=f"node '{dense.name}'.*has no fixed-point type"):
        run(graph, config)
