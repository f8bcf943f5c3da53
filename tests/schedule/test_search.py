"""The search: targets decide each unit's folding, once per layer's candidate points, within the board."""
from __future__ import annotations

import pytest

import edgecc
from edgecc.boards import get_board
from edgecc.config import CompileConfig
from edgecc.schedule import Targets, schedule_graph
from edgecc.schedule.hls import HlsCostModel
from edgecc.schedule.rtl import RtlCostModel
from models import qonnx_mlp

COST_MODELS = [HlsCostModel, RtlCostModel]


@pytest.fixture(scope="module")
def graph():
    return edgecc.load(qonnx_mlp(sizes=(16, 64, 32, 5), seed=1))


@pytest.mark.parametrize("cost", COST_MODELS, ids=lambda c: c.backend)
def test_latency_target_trades_parallelism_for_resources(graph, cost):
    board = get_board("zcu104")
    fast = schedule_graph(graph, cost, board, CompileConfig())
    relaxed = schedule_graph(graph, cost, board, CompileConfig(), Targets(latency_cycles=fast.latency_cycles + 40))
    assert fast.latency_cycles < relaxed.latency_cycles <= fast.latency_cycles + 40
    weight = lambda s: s.resources["lut"] + 100 * s.resources["dsp"]  # noqa: E731
    assert weight(relaxed) < weight(fast)
    assert max(l.reuse for l in relaxed.layers) > 1
