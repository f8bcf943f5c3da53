"""RTL simulation through cocotb: simulators found and set up, builds cached by content hash, waveforms into OUT,
exact codes at any port width."""
from __future__ import annotations

import os

import pytest

import edgecc
from helpers import probe_inputs
from models import qonnx_mlp
from conftest import require_simulator


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_waves_are_written_into_out(simulator, tmp_path):
    require_simulator(simulator)
    graph = edgecc.load(qonnx_mlp(sizes=(4, 3), seed=1))
    project = edgecc.compile(graph, backend="rtl", out=str(tmp_path / "o"))
    result = project.run_result(probe_inputs(graph, 20), simulator=simulator, waves=True)
    assert result.mismatches == 0
    waves = os.listdir(tmp_path / "o" / "waves")
    assert waves and all(os.path.getsize(tmp_path / "o" / "waves" / w) > 100 for w in waves)
