"""fold_quantizers: a model quantizer becomes a typed tensor and a Quantize node with the model's rounding and
clamp range; the type is the narrowest that holds the range."""
from __future__ import annotations

from edgecc.ir.types import FixedType
from models import qdq_mlp, qonnx_mlp

from .lowering import lowered_until


def test_qonnx_quant_becomes_quantize_with_its_range_and_rounding():
    graph, config, run = lowered_until(qonnx_mlp(seed=1, rounding="HALF_DOWN", act_narrow=True), "fold_quantizers")
    assert run(graph, config) is True
    assert not [n for n in graph.nodes if n.op == "Quant"]
    act = next(n for n in graph.nodes if n.op == "Quantize" and n.name == "q8")
    assert (act.attrs["rounding"], act.attrs["lo"], act.attrs["hi"]) == ("HALF_DOWN", 0, 254)  # narrow unsigned
    assert graph.tensor(act.output).type == FixedType(8, 4, False, "HALF_DOWN", "SAT")


def test_qdq_zero_point_becomes_a_shifted_clamp_range():
    graph, config, run = lowered_until(qdq_mlp(act_dtype="uint8", act_zp=10), "fold_quantizers")
    run(graph, config)
    inp = graph.input_quantizers()[0]
    assert (inp.attrs["lo"], inp.attrs["hi"]) == (-10, 245)
    assert graph.tensor(inp.output).type.min_int <= -10 and graph.tensor(inp.output).type.max_int >= 245
