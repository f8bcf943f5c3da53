"""insert_requantization: every layer result of a float model, and any layer the config types, gets a quantizer;
a quantized model's own quantizers are left as the model wrote them."""
from __future__ import annotations

from edgecc.config import CompileConfig, LayerConfig
from edgecc.ir.types import parse_type
from models import float_mlp, qonnx_mlp

from .lowering import lowered_until


def test_float_model_quantizes_every_dense_result_with_the_default_type():
    graph, config, run = lowered_until(float_mlp(sizes=(4, 6, 3)), "insert_requantization")
    assert run(graph, config) is True
    quants = [n for n in graph.nodes if n.op == "Quant" and n.inputs[0] not in graph.inputs]
    assert [q.name for q in quants] == ["gemm0_result", "gemm1_result"]
    assert all(q.attrs["spec"].frac == config.default_type.frac for q in quants)


def test_quantized_model_keeps_its_own_quantizers():
    graph, config, run = lowered_until(qonnx_mlp(seed=3), "insert_requantization")
    before = [(n.name, n.op) for n in graph.nodes]
    assert run(graph, config) is False and [(n.name, n.op) for n in graph.nodes] == before


def test_config_result_type_adds_a_quantizer_to_that_layer_only():
    t = parse_type("fixed<9,4,FLOOR,WRAP>")
    cfg = CompileConfig(layers={"fc4": LayerConfig(result_type=t)})
    graph, config, run = lowered_until(qonnx_mlp(seed=3), "insert_requantization", cfg)
    run(graph, config)
    added = [n for n in graph.nodes if n.name == "fc4_result"]
    assert len(added) == 1 and added[0].attrs["spec"].overflow == "WRAP"
    assert added[0].inputs[0] == graph.node("fc4").output
