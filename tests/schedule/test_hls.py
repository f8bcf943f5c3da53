"""The HLS cost model: each layer's estimate, and a design latency that is the longest path, not a sum."""
from __future__ import annotations

from edgecc.boards import get_board
from edgecc.config import CompileConfig
from edgecc.schedule import Targets, schedule_graph
from edgecc.schedule.hls import HlsCostModel
from suite import cases

CASES = cases()


def schedule(name, **targets):
    case = CASES[name]
    return schedule_graph(case.graph(), HlsCostModel, get_board("zcu104"), CompileConfig(), Targets(**targets))


def test_latency_is_the_longest_path_through_parallel_branches_not_the_sum_of_layers():
    s = schedule("qonnx_two_branches")
    summed = 1 + sum(u.point.latency_cycles for u in s.units)
    assert s.latency_cycles < summed  # the one-layer branch runs beside the two-layer one
    assert s.latency_cycles == max(u.ready for u in s.units)
    join, short = s.unit("join"), s.unit("fa")
    assert short.start == 1 and join.start > short.ready


def test_chain_latency_is_one_input_register_plus_each_layer():
    s = schedule("qonnx_round_unsigned_act")
    assert s.latency_cycles == 1 + sum(u.point.latency_cycles for u in s.units)
    assert s.composition == "pipeline" and s.ii_cycles == 1


def test_ii_target_folds_every_dense_to_that_ii():
    s = schedule("qonnx_round_unsigned_act", ii=4)
    assert s.ii_cycles == 4
    assert all(l.reuse == 4 for l in s.layers if l.op == "Dense")
    assert all(l.reuse == 1 for l in s.layers if l.op != "Dense")


def test_dense_estimate_uses_the_family_timing_model():
    s = schedule("qonnx_round_unsigned_act")
    for u in s.units:
        if u.point.microarch == "hls_dense":
            assert u.point.latency_cycles >= u.point.reuse + 1
            assert u.point.ii_cycles == u.point.reuse
