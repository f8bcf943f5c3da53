"""The search: targets decide each unit's folding, once per layer's candidate points, within the board."""
from __future__ import annotations

import pytest

import edgecc
from edgecc.boards import get_board
from edgecc.config import CompileConfig, LayerConfig
from edgecc.errors import InfeasibleTarget, ModelError
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


class CountingRtlCostModel(RtlCostModel):
    """The real RTL cost model, counting how often each unit is asked for its candidate points."""

    asked: dict = {}

    def candidates(self, g, unit, layer_config=None):
        CountingRtlCostModel.asked[unit.name] = CountingRtlCostModel.asked.get(unit.name, 0) + 1
        return super().candidates(g, unit, layer_config)


def test_each_unit_is_asked_for_its_points_once_however_long_the_search(graph):
    CountingRtlCostModel.asked = {}
    board = get_board("zcu104")
    fast = schedule_graph(graph, RtlCostModel, board, CompileConfig())
    relaxed = Targets(latency_cycles=fast.latency_cycles + 60)
    schedule_graph(graph, CountingRtlCostModel, board, CompileConfig(), relaxed)
    assert CountingRtlCostModel.asked and set(CountingRtlCostModel.asked.values()) == {1}


@pytest.mark.parametrize("cost", COST_MODELS, ids=lambda c: c.backend)
def test_scheduling_does_not_write_to_the_graph(graph, cost):
    before = graph.to_json()
    schedule_graph(graph, cost, get_board("zcu104"), CompileConfig(), Targets(latency_cycles=200))
    schedule_graph(graph, cost, get_board("zcu104"), CompileConfig(), Targets(ii=4))
    assert graph.to_json() == before


def test_the_schedule_cannot_be_changed(graph):
    s = schedule_graph(graph, RtlCostModel, get_board("zcu104"), CompileConfig())
    with pytest.raises(AttributeError):
        s.latency_cycles = 1
    with pytest.raises(AttributeError):
        s.units[0].point.reuse = 8
    with pytest.raises(TypeError):
        s.resources["lut"] = 0
    assert isinstance(s.units, tuple) and isinstance(s.layers, tuple)


@pytest.mark.parametrize("cost", COST_MODELS, ids=lambda c: c.backend)
def test_unreachable_latency_names_the_best_figure_and_the_bottleneck(graph, cost):
    with pytest.raises(InfeasibleTarget, match=r"latency target 2 cycles .* best is \d+ cycles .* bottleneck layer"):
        schedule_graph(graph, cost, get_board("zcu104"), CompileConfig(), Targets(latency_cycles=2))


def test_unreachable_ii_with_a_configured_reuse_names_the_layer(graph):
    dense = [n.name for n in graph.nodes if n.op == "Dense"]
    cfg = CompileConfig(layers={dense[0]: LayerConfig(reuse_factor=8)})
    with pytest.raises(InfeasibleTarget, match=f"II 2 is not reachable.*{dense[0]}"):
        schedule_graph(graph, RtlCostModel, get_board("zcu104"), cfg, Targets(ii=2))


def test_a_design_beyond_the_board_is_infeasible_when_a_target_is_given(graph):
    with pytest.raises(InfeasibleTarget, match="exceeds icebreaker's"):
        schedule_graph(graph, RtlCostModel, get_board("icebreaker"), CompileConfig(), Targets(ii=1))


def test_latency_in_ns_becomes_whole_cycles_of_the_clock(graph):
    board = get_board("zcu104")
    by_ns = schedule_graph(graph, RtlCostModel, board, CompileConfig(), Targets(latency_ns=99.0))
    by_cycles = schedule_graph(graph, RtlCostModel, board, CompileConfig(), Targets(latency_cycles=19))
    assert by_ns.targets["latency_cycles"] == 19 and by_ns.latency_cycles == by_cycles.latency_cycles


def test_duplicate_node_names_are_refused(graph):
    import copy

    g = copy.deepcopy(graph)
    g.nodes[1].name = g.nodes[2].name
    with pytest.raises(ModelError, match="appears more than once"):
        schedule_graph(g, RtlCostModel, get_board("zcu104"), CompileConfig())
