"""The RTL cost model: units, exact stages, and the two compositions with their exact latency, II and buffers."""
from __future__ import annotations

import pytest

from edgecc.boards import get_board
from edgecc.config import CompileConfig, LayerConfig
from edgecc.schedule import Targets, schedule_graph
from edgecc.schedule.rtl import RtlCostModel
from edgecc.schedule.timing import family_timing
from suite import cases

CASES = cases()


def schedule(name, board="pynq-z2"):
    case = CASES[name]
    graph = case.graph()
    targets = {k: v for k, v in case.compile.items() if k != "board"}
    return schedule_graph(graph, RtlCostModel, get_board(case.compile.get("board", board)), graph.config,
                          Targets(**targets))


def test_units_fuse_the_zero_cost_nodes_behind_a_computing_node():
    s = schedule("qonnx_ops")
    nodes = {u.name: u.nodes for u in s.units}
    assert nodes["offset"] == ("offset", "relu5", "q6")       # Add, then its Relu and Quantize
    assert nodes["fc"] == ("fc", "q11", "flatten")
    assert nodes["rows"] == ("rows",)  # wiring alone: nothing computes before it
    assert {u.point.microarch for u in s.units} == {"wiring", "elementwise", "adder_graph"}


def test_lock_step_latency_is_one_plus_stages_times_ii():
    s = schedule("qonnx_round_unsigned_act")
    assert s.composition == "lockstep" and s.ii_cycles == 1
    assert s.latency_cycles == 1 + s.stages
    assert s.stages == max(u.ready for u in s.units)


def test_fully_parallel_dense_registers_every_levels_per_stage_adder_levels():
    slow, fast = schedule("qonnx_residual", board="pynq-z2"), schedule("residual_fast_clock")
    for s in (slow, fast):
        lps = family_timing("xilinx").levels_per_stage(s.clock_ns)
        assert s.levels_per_stage == lps
        for u in s.units:
            if u.point.microarch == "adder_graph":
                assert u.point.stages == max(1, -(-u.point.depth // lps))
    assert fast.latency_cycles > slow.latency_cycles


def test_a_shorter_path_into_a_join_gets_delay_registers_in_lock_step():
    s = schedule("qonnx_residual")
    join = s.unit("residual")
    delays = [e for e in s.edges_into("residual") if e.buffer == "delay"]
    assert len(delays) == 1
    (edge,) = delays
    producer = next(u for u in s.units if u.output == edge.tensor)
    assert edge.depth == join.start - producer.ready > 0


def test_units_of_different_ii_compose_as_streams_with_the_sum_of_their_latencies():
    s = schedule("stream_folded_then_parallel")
    assert s.composition == "stream" and s.ii_cycles == 4
    fc1, fc2 = s.unit("fc1"), s.unit("fc2")
    assert (fc1.point.ii_cycles, fc1.point.stages, fc2.point.ii_cycles) == (4, 1, 1)
    assert fc1.start == 1 and fc1.ready == 1 + 4 and fc2.start == fc1.ready
    assert s.latency_cycles == fc2.ready == 1 + 4 + fc2.point.stages
    assert all(e.buffer == "none" for e in s.edges)  # nothing waits longer than its producer holds it


def test_a_value_waiting_for_a_folded_branch_goes_through_a_fifo_of_the_right_depth():
    s = schedule("stream_residual_fifo")
    assert s.composition == "stream"
    fifos = {(e.tensor, e.unit): e.depth for e in s.edges if e.buffer == "fifo"}
    fc1 = s.unit("fc1")
    assert (fc1.output, "residual") in fifos
    # the value waits from fc1's output until the Add starts; one entry per II of that wait, plus one
    wait = s.unit("residual").start - fc1.ready
    assert fifos[(fc1.output, "residual")] == (wait - 1) // s.ii_cycles + 2


def test_same_ii_everywhere_is_lock_step_even_when_folded():
    s = schedule("ii4")
    assert s.composition == "lockstep" and s.ii_cycles == 4
    assert {u.point.reuse for u in s.units if u.point.microarch == "reuse_mac"} == {4}


def test_reuse_is_capped_at_one_multiplier_per_output():
    graph = CASES["qonnx_round_unsigned_act"].graph()
    dense = [n.name for n in graph.nodes if n.op == "Dense"]
    cfg = CompileConfig(layers={dense[0]: LayerConfig(reuse_factor=10_000)})
    s = schedule_graph(graph, RtlCostModel, get_board("pynq-z2"), cfg)
    k = graph.tensor(graph.node(dense[0]).inputs[1]).shape[0]
    assert s.unit(dense[0]).point.reuse == k


@pytest.mark.parametrize("name", ["qonnx_residual", "stream_residual_fifo", "ii4"])
def test_the_schedule_is_plain_data(name):
    plan = schedule(name).to_json()
    assert plan["composition"] in ("lockstep", "stream")
    assert [u["name"] for u in plan["units"]] == [u.name for u in schedule(name).units]
