"""The calibrated RTL cost model against Yosys 0.23: a unit's estimate within 15% of what Yosys mapped its module to.

The counts were measured once by synthesizing each layer module alone (synth_xilinx -flatten -family xc7, synth_ice40
-dsp; benchmarks/cost_calibration.py sweeps whole designs); no Yosys runs here."""
from __future__ import annotations

import pytest

import edgecc
from edgecc.boards import get_board
from edgecc.config import CompileConfig, LayerConfig
from edgecc.schedule import schedule_graph
from edgecc.schedule.rtl import RtlCostModel
from models import qonnx_mlp

MLP_A = dict(sizes=(16, 16, 5), seed=1, w_bits=4, w_frac=3)   # the benchmark's mlp_a: 4-bit weights
MLP_B = dict(sizes=(8, 16, 8, 4), seed=2)                     # mlp_b: 8-bit, three layers

# (model, board, layer, reuse) -> Yosys counts of that layer's module
MEASURED = [
    (MLP_A, "icebreaker", "fc11", 8, {"lut": 553, "ff": 145, "dsp": 7}),
    (MLP_A, "pynq-z2", "fc11", 1, {"lut": 711, "ff": 53, "dsp": 0}),
    (MLP_A, "icebreaker", "fc4", 16, {"lut": 1450, "ff": 384, "dsp": 8}),
    (MLP_B, "pynq-z2", "fc18", 8, {"lut": 141, "ff": 116, "dsp": 4}),
    (MLP_B, "icebreaker", "fc4", 1, {"lut": 3503, "ff": 513, "dsp": 0}),
    (MLP_B, "icebreaker", "fc18", 8, {"lut": 289, "ff": 116, "dsp": 4}),
    (MLP_B, "pynq-z2", "fc11", 1, {"lut": 2439, "ff": 277, "dsp": 0}),
]


@pytest.mark.parametrize("model, board, layer, reuse, yosys", MEASURED,
                         ids=[f"{b}-{l}-r{r}" for _, b, l, r, _ in MEASURED])
def test_unit_estimate_is_within_15_percent_of_yosys(model, board, layer, reuse, yosys):
    graph = edgecc.load(qonnx_mlp(**model))
    config = CompileConfig(layers={layer: LayerConfig(reuse_factor=reuse)})
    unit = schedule_graph(graph, RtlCostModel, get_board(board), config).unit(layer)
    assert unit.point.microarch == ("adder_graph" if reuse == 1 else "reuse_mac")
    got = unit.point.resources
    assert got["dsp"] == yosys["dsp"]   # a variable product on a DSP slice exactly where mul2dsp puts one
    for resource in ("lut", "ff"):
        assert abs(got[resource] / yosys[resource] - 1) <= 0.15, (resource, got[resource], yosys[resource])
