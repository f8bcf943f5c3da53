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
