"""Latency targets swept from the fastest design to the most folded one, each point compiled and simulated in
Verilator: the measured latency and II equal the schedule's and meet the target, every output is exact, and the
cost never rises as the target relaxes. (benchmarks/schedule_sweep.py does the same for the jet tagger and every
suite MLP.)"""
from __future__ import annotations

import pytest

import edgecc
from conftest import require_simulator
from suite import residual_mlp

MODELS = {   # CI keeps to one (eight Verilator builds); the benchmark sweeps every suite MLP
    "residual": residual_mlp,   # a join: lock-step delays or stream FIFOs as the points differ
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_swept_point_runs_as_predicted(name):
    require_simulator("verilator")
    graph = edgecc.load(MODELS[name]())
    result = edgecc.sweep(graph, backend="rtl", board="pynq-z2", points=8, simulate=24)
    rows = [r for r in result["points"] if "error" not in r]
    assert len(rows) >= 8, result["points"]
    assert result["cost_monotone"]
    micro = set()
    for r in rows:
        m = r["measured"]
        assert m["mismatches"] == 0 and m["vectors"] == 24
        assert (m["latency_cycles"], m["ii_cycles"]) == (r["latency_cycles"], r["ii_cycles"]), r
        assert r["latency_cycles"] <= r["target_cycles"]
        micro |= {l["microarch"] for l in r["layers"]}
    assert "adder_graph" in micro and micro & {"pe_array", "reuse_mac"}   # from fully parallel to folded
    assert rows[-1]["cost"] < rows[0]["cost"]
