"""The RTL backend: every suite case bit-exact on Icarus and under stress on both simulators (tests/test_parity.py
runs each on Verilator with its timing), the lock-step and stream compositions with their exact latency and II,
lint-clean Verilog, backpressure, synthesis."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

import edgecc
from conftest import require_simulator, require_tool
from helpers import probe_inputs
from models import qonnx_mlp
from suite import cases

CASES = cases()
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "jet_tagging_mlp.onnx")
N = 1000


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """One RTL project per suite case (or the example), shared by the tests of this module."""
    cache = {}

    def get(name):
        if name not in cache:
            if name == "jet":
                graph, options = edgecc.load(EXAMPLE), {"board": "zcu104"}
            else:
                graph, options = CASES[name].graph(), CASES[name].compile
            out = tmp_path_factory.mktemp("rtl") / name
            cache[name] = (graph, edgecc.compile(graph, backend="rtl", out=str(out), **options))
        return cache[name]
    return get


def assert_exact(project, x, simulator, stress=False, **options):
    """Bit-exact against the golden model; without forced stalls, latency and II exactly as predicted."""
    result = project.run_result(x, simulator=simulator, stress=stress, **options)
    assert result.vectors == len(x)
    assert result.mismatches == 0, f"{result.mismatches} of {len(x)} vectors differ from the golden model"
    np.testing.assert_array_equal(result.codes, result.golden_codes)
    assert result.timing_checked == (not stress and not options)
    result.check()
    if result.timing_checked:
        report = project.report
        assert result.latency_cycles == result.latency_max == report["latency_cycles"]
        assert result.ii_cycles == report["ii_cycles"]
        assert report["sim"]["latency_cycles"] == report["latency_cycles"]
    return result


@pytest.mark.parametrize("name", sorted(CASES))
def test_rtl_case_on_icarus_and_under_stress(name, compiled):
    """Icarus with exact timing; then random input gaps and out_ready drops on both simulators, reversed inputs."""
    graph, project = compiled(name)
    x = probe_inputs(graph, CASES[name].slow_vectors, seed=3)
    for simulator in ("icarus", "verilator"):
        require_simulator(simulator)
    assert_exact(project, x, "icarus")
    for simulator in ("icarus", "verilator"):
        assert_exact(project, x[::-1].copy(), simulator, stress=True)


def test_rtl_folding_to_one_ii_stays_lock_step(compiled):
    _, project = compiled("ii4")
    report = project.report
    assert report["ii_cycles"] == 4 and report["composition"] == "lockstep"
    assert all(l["reuse"] == 4 and l["microarch"] == "reuse_mac" for l in report["layers"] if l["op"] == "Dense")
    dense = sum(l["op"] == "Dense" for l in report["layers"])
    assert report["latency_cycles"] == 1 + dense * 4  # one register stage per folded layer, 4 cycles per beat


def test_rtl_folded_layer_feeding_a_parallel_one_is_a_stream_with_exact_timing(compiled):
    """A reuse-4 layer (4 cycles per input) then a fully parallel one (1 stage): composed as streams, latency is the
    input register + 4 + 1 cycles (lock-step would take 1 + 2 * 4), II 4; Verilator and Icarus measure exactly that,
    and under stress every output is still exact."""
    graph, project = compiled("stream_folded_then_parallel")
    report = project.report
    assert report["composition"] == "stream"
    layers = {l["name"]: l for l in report["layers"]}
    assert (layers["fc1"]["reuse"], layers["fc1"]["ii_cycles"]) == (4, 4)
    assert (layers["fc2"]["reuse"], layers["fc2"]["ii_cycles"], layers["fc2"]["latency_cycles"]) == (1, 1, 1)
    assert (report["latency_cycles"], report["ii_cycles"]) == (1 + 4 + 1, 4)
    x = probe_inputs(graph, N, seed=11)
    for simulator in ("verilator", "icarus"):
        require_simulator(simulator)
        assert_exact(project, x, simulator)
        assert_exact(project, x, simulator, stress=True)
        assert_exact(project, x[:200], simulator, hold_out_ready_low=300)


def test_rtl_join_of_a_folded_and_a_parallel_path_gets_the_fifo_the_schedule_sized(compiled):
    """The residual Add waits for the folded branch: its other input goes through a FIFO (as schedule.json says),
    and every input still sees the predicted latency."""
    graph, project = compiled("stream_residual_fifo")
    plan = json.load(open(os.path.join(project.out_dir, "schedule.json")))
    fifos = [e for e in plan["edges"] if e["buffer"] == "fifo"]
    assert plan["composition"] == "stream" and fifos and all(e["depth"] >= 2 for e in fifos)
    top = open(os.path.join(project.out_dir, "rtl", f"{project.report['top']}.v")).read()
    assert top.count("edgecc_fifo #(") == len(fifos) and "edgecc_fork #(" in top
    require_simulator("verilator")
    assert_exact(project, probe_inputs(graph, N, seed=12), "verilator")


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_example_model_rtl(simulator, compiled):
    require_simulator(simulator)
    graph, project = compiled("jet")
    assert_exact(project, probe_inputs(graph, N, seed=5), simulator)


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_rtl_backpressure_loses_and_repeats_nothing(simulator, compiled):
    require_simulator(simulator)
    graph, project = compiled("qonnx_round_unsigned_act")
    x = probe_inputs(graph, 200, seed=6)
    # out_ready held low for 300 cycles while inputs keep coming: the pipeline fills, stalls, then drains
    result = assert_exact(project, x, simulator, hold_out_ready_low=300)
    assert len(result.codes) == 200


@pytest.mark.parametrize("name", sorted(CASES) + ["jet"])
def test_generated_verilog_is_lint_clean(name, compiled):
    from edgecc.sim.rtlsim import verilator_bin

    path = verilator_bin()
    if not path:
        require_tool("verilator")
    _, project = compiled(name)
    report = project.report
    files = [os.path.join(project.out_dir, f) for f in report["rtl_files"]]
    proc = subprocess.run([os.path.join(path, "verilator"), "--lint-only", "-Wall", "--top-module", report["top"],
                           *files], capture_output=True, text=True)
    assert proc.returncode == 0 and "%Warning" not in proc.stderr and "%Error" not in proc.stderr, proc.stderr[:2000]


def test_rtl_project_contents(compiled):
    _, project = compiled("qonnx_round_unsigned_act")
    out = project.out_dir
    report = project.report
    assert report["backend"] == "rtl" and report["rtl_files"][-1] == f"rtl/{report['top']}.v"
    tcl = open(os.path.join(out, "vivado", "build_vivado.tcl")).read()
    assert "synth_design" in tcl and "route_design" in tcl and "report_utilization" in tcl
    assert "create_clock -period 10" in open(os.path.join(out, "vivado", f"{report['top']}.xdc")).read()
    top = open(os.path.join(out, "rtl", f"{report['top']}.v")).read()
    for port in ("in_valid", "in_ready", "in_data", "out_valid", "out_ready", "out_data"):
        assert port in top


def test_rtl_op_without_an_emitter_fails_at_compile_time(tmp_path):
    from edgecc.ir import ops

    class Mystery(ops.OpDef):  # an IR op the RTL backend has never heard of
        name = "Mystery"

        def infer(self, g, node):
            return g.tensor(node.inputs[0]).type

        def evaluate(self, g, node, args):
            return args[0]

    ops.OPS["Mystery"] = Mystery()
    try:
        graph = edgecc.load(qonnx_mlp(sizes=(4, 3)))
        relu = next(n for n in graph.nodes if n.op == "Quantize" and n.inputs[0] not in graph.inputs)
        relu.op = "Mystery"
        with pytest.raises(edgecc.UnsupportedOp, match="Mystery"):
            edgecc.compile(graph, backend="rtl", out=str(tmp_path / "o"))
        assert not (tmp_path / "o").exists()
    finally:
        del ops.OPS["Mystery"]


def test_cli_run_rtl_reports_measured_timing(tmp_path):
    import sys

    onnx_path = tmp_path / "m.onnx"
    import onnx

    onnx.save(qonnx_mlp(sizes=(6, 5, 3), seed=4), str(onnx_path))
    out = tmp_path / "o"
    assert subprocess.run([sys.executable, "-m", "edgecc", "compile", str(onnx_path), "-b", "rtl", "-o", str(out)],
                          capture_output=True).returncode == 0
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(0, 4, size=(300, 6)))
    proc = subprocess.run([sys.executable, "-m", "edgecc", "run", str(out), "--input", str(tmp_path / "x.npy"),
                           "--output", str(tmp_path / "y.npy"), "--simulator", "verilator"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "0 mismatches" in proc.stdout and "measured latency" in proc.stdout and "TIMING" not in proc.stdout
    assert np.load(tmp_path / "y.npy").shape == (300, 3)
