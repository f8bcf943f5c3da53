"""One timing model per FPGA family, used by every backend's cost model."""
from __future__ import annotations

import pytest

from edgecc.errors import ModelError
from edgecc.schedule.hls import HlsCostModel
from edgecc.schedule.rtl import RtlCostModel
from edgecc.schedule.timing import FAMILIES, family_timing, tree_depth


def test_levels_per_stage_grow_with_the_clock_period_and_never_drop_below_one():
    xilinx = family_timing("xilinx")
    assert xilinx.levels_per_stage(0.5) == 1
    assert xilinx.levels_per_stage(3.2) == 2
    assert xilinx.levels_per_stage(10.0) == 6
    assert family_timing("ice40").levels_per_stage(10.0) < xilinx.levels_per_stage(10.0)


def test_stages_for_an_adder_graph():
    t = family_timing("xilinx")
    assert t.stages_for(0, 5.0) == 1        # a register at its end even without adders
    assert t.stages_for(3, 5.0) == 1
    assert t.stages_for(4, 5.0) == 2


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_hls_and_rtl_read_the_same_model(family):
    t = family_timing(family)
    for clock in (2.0, 5.0, 10.0, 20.0):
        assert HlsCostModel(t, clock).levels_per_stage == RtlCostModel(t, clock).levels_per_stage \
            == t.levels_per_stage(clock)


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ModelError, match="no timing model for FPGA family 'cortex-m'"):
        family_timing("cortex-m")


def test_tree_depth():
    assert [tree_depth(n) for n in (0, 1, 2, 3, 4, 5, 8, 9)] == [0, 0, 1, 2, 2, 3, 3, 4]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_predicted_fmax_falls_with_levels_and_width(family):
    t = family_timing(family)
    fmax = [t.predicted_fmax_mhz(levels, 16) for levels in range(1, 10)]
    assert all(a > b > 0 for a, b in zip(fmax, fmax[1:]))
    assert t.predicted_fmax_mhz(4, 32) <= t.predicted_fmax_mhz(4, 8)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_levels_per_stage_are_the_most_the_model_lets_fit_the_period(family):
    t = family_timing(family)
    for clock in (3.0, 5.0, 10.0, 20.0, 40.0):
        levels = t.levels_per_stage(clock)
        assert levels == 1 or t.path_ns(levels) <= clock + 1e-9
        assert t.path_ns(levels + 1) > clock


def test_the_rtl_report_predicts_fmax_from_the_deepest_path(tmp_path):
    """A longer clock period puts more adder levels between registers: a deeper path, a lower predicted Fmax."""
    import edgecc
    from models import qonnx_mlp

    graph = edgecc.load(qonnx_mlp(sizes=(8, 6, 3), seed=1))
    t = family_timing("ecp5")
    reports = [edgecc.compile(graph, backend="rtl", board="ulx3s", out=str(tmp_path / f"o{levels}"),
                              clock_ns=t.path_ns(levels) + 0.01).report for levels in (1, 3)]
    shallow, deep = (r["critical_path"] for r in reports)
    assert shallow["levels"] < deep["levels"] and shallow["width"] > 0
    assert reports[0]["predicted_fmax_mhz"] > reports[1]["predicted_fmax_mhz"]
    assert reports[1]["predicted_fmax_mhz"] == round(t.predicted_fmax_mhz(deep["levels"], deep["width"]), 2)
    assert reports[0]["latency_cycles"] > reports[1]["latency_cycles"]
