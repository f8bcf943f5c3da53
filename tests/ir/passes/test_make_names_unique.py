"""make_names_unique: the first node of a name keeps it, later ones get the first free suffix, in graph order."""
from __future__ import annotations

import numpy as np
from onnx import helper

import edgecc
from edgecc.config import CompileConfig, LayerConfig
from helpers import probe_inputs
from models import qonnx_mlp

from .lowering import lowered_until


def duplicated(model, name="layer"):
    """Every MatMul and its bias Add renamed to one name, as some exporters leave them."""
    for node in model.graph.node:
        if node.op_type in ("MatMul", "Add"):
            node.name = name
    return model


def test_duplicate_names_become_unique_deterministically():
    graph, config, run = lowered_until(duplicated(qonnx_mlp(sizes=(6, 5, 4), seed=1)), "make_names_unique")
    before = [n.name for n in graph.nodes]
    assert before.count("layer") == 4
    assert run(graph, config) is True
    after = [n.name for n in graph.nodes]
    assert len(set(after)) == len(after)
    assert [n for n in after if n.startswith("layer")] == ["layer", "layer_2", "layer_3", "layer_4"]
    again, config, run = lowered_until(duplicated(qonnx_mlp(sizes=(6, 5, 4), seed=1)), "make_names_unique")
    run(again, config)
    assert [n.name for n in again.nodes] == after


def test_a_suffix_never_takes_a_name_the_model_already_has():
    model = duplicated(qonnx_mlp(sizes=(6, 5, 4), seed=1))
    model.graph.node.append(helper.make_node("Relu", [model.graph.output[0].name], ["y2"], name="layer_2"))
    model.graph.output[0].name = "y2"
    graph, config, run = lowered_until(model, "make_names_unique")
    run(graph, config)
    names = [n.name for n in graph.nodes]
    assert len(set(names)) == len(names) and "layer_5" in names


def test_names_already_unique_are_left_alone():
    graph, config, run = lowered_until(qonnx_mlp(seed=2), "make_names_unique")
    before = [n.name for n in graph.nodes]
    assert run(graph, config) is False and [n.name for n in graph.nodes] == before


def test_report_and_design_agree_with_duplicate_names(tmp_path):
    """The config names the first duplicate only; the report lists each layer once, with the reuse it was built with."""
    model = duplicated(qonnx_mlp(sizes=(8, 6, 3), seed=4))
    graph = edgecc.load(model, config=CompileConfig(layers={"layer": LayerConfig(reuse_factor=2)}))
    dense = [n.name for n in graph.nodes if n.op == "Dense"]
    assert dense == ["layer", "layer_3"]  # the MatMuls; their bias Adds (layer_2, layer_4) fused into them
    project = edgecc.compile(graph, backend="rtl", out=str(tmp_path / "o"))
    layers = project.report["layers"]
    assert len({l["name"] for l in layers}) == len(layers)
    reuse = {l["name"]: l["reuse"] for l in layers}
    assert reuse["layer"] == 2 and reuse["layer_3"] == 1
    x = probe_inputs(graph, 300)
    np.testing.assert_array_equal(project.run(x), graph.golden(x))
