"""Synthesis with open tools: Yosys cell counts and logic depth for Xilinx, iCE40 and ECP5; nextpnr's Fmax on iCE40
and ECP5."""
from __future__ import annotations

import edgecc
import pytest

from conftest import require_nextpnr, require_tool
from models import qonnx_mlp


def test_synth_counts_xilinx_resources(tmp_path):
    require_tool("yosys")
    graph = edgecc.load(qonnx_mlp(sizes=(6, 4, 3), seed=2))
    project = edgecc.compile(graph, backend="rtl", out=str(tmp_path / "o"), board="pynq-z2")
    r = project.synth()
    assert r["target"] == "xilinx-xc7" and r["lut"] > 0 and r["ff"] > 0 and r["carry"] > 0
    assert r["logic_levels"] and r["logic_levels"] > 0
    assert project.report["synth"]["lut"] == r["lut"]


def _synth_tiny(tmp_path, family: str, board: str):
    """A 3-2 MLP compiled for the board, synthesized and placed and routed (it routes in seconds: nextpnr-ice40
    0.4's routers were seen to loop on some small designs, where edgecc gives up after a timeout)."""
    require_tool("yosys")
    require_nextpnr(family)
    graph = edgecc.load(qonnx_mlp(sizes=(3, 2), seed=0))
    project = edgecc.compile(graph, backend="rtl", out=str(tmp_path / "o"), board=board)
    return project, project.synth()


def test_synth_on_ice40_gives_fmax(tmp_path):
    _, r = _synth_tiny(tmp_path, "ice40", "ice40-hx8k")
    assert r["target"] == "ice40" and r["lut"] > 0
    assert r["fmax_mhz"] and r["fmax_mhz"] > 1


def test_synth_on_ecp5_counts_cells_and_gives_fmax(tmp_path):
    project, r = _synth_tiny(tmp_path, "ecp5", "ulx3s")
    assert r["target"] == "ecp5" and r["pnr_tool"] == "nextpnr-ecp5"
    assert r["lut"] > 0 and r["ff"] > 0 and r["carry"] > 0 and r["dsp"] == 0 and r["bram"] == 0
    assert r["lut"] >= 2 * r["carry"]     # a CCU2C carry cell takes two LUT4s of the budget
    assert r["fmax_mhz"] and r["fmax_mhz"] > 1
    saved = project.report
    assert saved["synth"]["fmax_mhz"] == r["fmax_mhz"]
    # the model's prediction sits next to the measurement, within the calibration's tolerance
    assert 0.6 < saved["predicted_fmax_mhz"] / r["fmax_mhz"] < 1.6


@pytest.mark.parametrize("part, options", [
    ("LFE5U-85F-6BG381C", ["--85k", "--package", "CABGA381", "--speed", "6"]),
    ("LFE5U-25F-8MG285C", ["--25k", "--package", "CSFBGA285", "--speed", "8"]),
    ("LFE5UM5G-45F-8BG554I", ["--um5g-45k", "--package", "CABGA554", "--speed", "8"]),
])
def test_ecp5_part_numbers_become_nextpnr_options(part, options):
    from edgecc.sim.synth import ecp5_device

    assert ecp5_device(part) == options


def test_an_unknown_ecp5_part_is_a_clear_error():
    from edgecc.errors import ModelError
    from edgecc.sim.synth import ecp5_device

    with pytest.raises(ModelError, match="ECP5 part 'LFE5U-85F-6XX99C'"):
        ecp5_device("LFE5U-85F-6XX99C")


def test_logic_levels_stop_at_registers(tmp_path):
    """Ten registered increments in a row: the longest path is one adder deep, not the chain through the flip-flops
    (ltp sees Yosys's internal flip-flops only, not the mapped FDRE / SB_DFF cells)."""
    require_tool("yosys")
    from edgecc.sim.synth import run_yosys

    src = tmp_path / "chain.v"
    regs = [f"r{k}" for k in range(10)]
    src.write_text("module chain(input clk, input [7:0] d, output [7:0] q);\n"
                   f"  reg [7:0] {', '.join(regs)};\n  always @(posedge clk) begin r0 <= d + 1; "
                   + " ".join(f"{b} <= {a} + 1;" for a, b in zip(regs, regs[1:]))
                   + " end\n  assign q = r9;\nendmodule\n")
    for family, command in (("xilinx", "synth_xilinx -flatten -family xc7 -top chain"),
                            ("ice40", "synth_ice40 -top chain")):
        r = run_yosys([str(src)], command, family, str(tmp_path))
        assert r["ff"] == 80 and 0 < r["logic_levels"] <= 10, (family, r)
