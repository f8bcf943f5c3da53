"""The RTL pe_array (P processing elements x S SIMD lanes, weights in a ROM): bit-exact with the predicted latency
and II in every composition (lock-step, streams, pixel streams), divisors or not, fully folded, every memory kind;
its ROM becomes block RAM in Yosys; its config keys are checked; the cost model's candidates are a Pareto set."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

import numpy as np
import pytest

import edgecc
from conftest import require_simulator, require_tool
from edgecc.config import CompileConfig, LayerConfig, load_config
from edgecc.schedule.plan import FPGA_RESOURCES
from edgecc.schedule.rtl import MAX_CANDIDATES, RtlCostModel
from helpers import probe_inputs
from models import qonnx_mlp
from models_cnn import CnnBuilder, cnn1d

VECTORS = 300


def _config(**layers) -> CompileConfig:
    return CompileConfig(layers={name: LayerConfig(**keys) for name, keys in layers.items()})


def _mlp(sizes=(16, 12, 6), seed=3, **layers):
    names = [f"fc{i + 1}" for i in range(len(sizes) - 1)]
    return edgecc.load(qonnx_mlp(sizes=sizes, seed=seed, layer_names=names), config=_config(**layers))


def _small_cnn(seed=9):
    """[N, 2, 10] -> Conv1d(2->3, k3, pad 1) -> Relu -> Quant -> Flatten -> Dense(30 -> 4) -> Quant."""
    b = CnnBuilder((2, 10), "small_cnn", seed)
    h = b.quant("x", 8, 4)
    h = b.act(b.conv(h, 2, 3, (3,), pads=[1, 1]))
    h = b.quant(b.flatten_dense(h, 3 * 10, 4), 12, 4)
    return b.model(h, [4])


def _names(model, op):
    return [n.name for n in edgecc.load(model).compute_nodes() if n.op == op]


def assert_lint_clean(project):
    from edgecc.sim.rtlsim import verilator_bin

    report = project.report
    files = [os.path.join(project.out_dir, f) for f in report["rtl_files"]]
    proc = subprocess.run([os.path.join(verilator_bin(), "verilator"), "--lint-only", "-Wall", "--top-module",
                           report["top"], *files], capture_output=True, text=True)
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr[:2000]


def assert_exact(graph, out, x, simulator="verilator", **options):
    """Compile (lint-clean Verilog), simulate, compare bit for bit; the measured latency and II are the predicted
    ones."""
    require_simulator(simulator)
    require_simulator("verilator")
    project = edgecc.compile(graph, backend="rtl", out=str(out), **options)
    assert_lint_clean(project)
    result = project.run_result(x, simulator=simulator)
    assert result.vectors == len(x) and result.mismatches == 0
    np.testing.assert_array_equal(result.codes, result.golden_codes)
    result.check()
    assert result.timing_checked
    assert result.latency_cycles == result.latency_max == project.report["latency_cycles"]
    assert result.ii_cycles == project.report["ii_cycles"]
    return project


def _plans(project) -> dict:
    plan = json.load(open(os.path.join(project.out_dir, "schedule.json")))
    return {u["name"]: u for u in plan["units"]}


def test_pe_array_layers_of_one_ii_run_in_lock_step(tmp_path):
    """P and S dividing N and K (16x12: 4 x 4 -> II 3 x 4; 12x6: 2 x 3 -> II 3 x 4): lock-step, latency 1 + 2 x 12."""
    graph = _mlp(fc1=dict(pe=4, simd=4), fc2=dict(pe=2, simd=3))
    project = assert_exact(graph, tmp_path / "o", probe_inputs(graph, VECTORS, seed=1))
    report = project.report
    assert (report["composition"], report["ii_cycles"], report["latency_cycles"]) == ("lockstep", 12, 25)
    units = _plans(project)
    plan = units["fc1"]["plan"]   # the memory: the scheduler's cheapest for the board
    assert {k: v for k, v in plan.items() if k != "memory"} == {"pe": 4, "simd": 4, "neuron_fold": 3,
                                                                 "synapse_fold": 4}
    assert units["fc2"]["microarch"] == "pe_array" and units["fc2"]["reuse"] == 12


def test_pe_array_non_divisors_and_one_pe_of_one_lane_stream_under_backpressure(tmp_path):
    """P not dividing N and S not dividing K (fold counters, idle PEs, padded lanes) beside P = S = 1 in block RAM:
    different IIs compose as streams; exact timing, then exact outputs under random stalls."""
    graph = _mlp(fc1=dict(pe=5, simd=3), fc2=dict(pe=1, simd=1, ram_style="block"))
    x = probe_inputs(graph, VECTORS, seed=2)
    project = assert_exact(graph, tmp_path / "o", x)
    report = project.report
    assert report["composition"] == "stream"
    assert (report["ii_cycles"], report["latency_cycles"]) == (72, 1 + 18 + 72)   # 4 x 6 -> 3 x 6; 6 x 12
    assert _plans(project)["fc2"]["plan"]["memory"] == "block"
    result = project.run_result(x[::-1].copy(), simulator="verilator", stress=True)
    assert result.mismatches == 0 and result.vectors == len(x)


def test_pe_array_fully_folded_and_distributed_on_icarus(tmp_path):
    """One PE of one lane (II = N x K = 192) and a distributed ROM with S not dividing K, on Icarus."""
    graph = _mlp(fc1=dict(pe=1, simd=1, ram_style="logic"), fc2=dict(pe=4, simd=5, ram_style="distributed"))
    project = assert_exact(graph, tmp_path / "o", probe_inputs(graph, 150, seed=3), simulator="icarus")
    assert project.report["ii_cycles"] == 16 * 12
    assert _plans(project)["fc2"]["plan"]["memory"] == "distributed"


def test_pe_array_whole_frame_conv(tmp_path):
    """A whole-frame Conv (N = 10 positions x 3 channels = 30 neurons, K = 6): a PE's neuron changes position from
    fold to fold (the second-level input select), P = 4 and S = 4 divide neither."""
    model = _small_cnn()
    conv, = _names(model, "Conv")
    dense, = _names(model, "Dense")
    graph = edgecc.load(model, config=_config(**{conv: dict(pe=4, simd=4), dense: dict(pe=3, simd=7)}))
    project = assert_exact(graph, tmp_path / "o", probe_inputs(graph, 200, seed=4), io_type="parallel")
    units = _plans(project)
    assert units[conv]["plan"]["neuron_fold"] == 8 and units[conv]["ii_cycles"] == 16


def test_pe_array_in_the_pixel_streaming_cnn(tmp_path):
    """Each unit computes one token (dense_matrix on the token graph): pe_array Convs behind window generators and
    a pe_array Dense after the gather, every layer at its own rate."""
    model = cnn1d()
    c1, c2 = _names(model, "Conv")
    dense, = _names(model, "Dense")
    graph = edgecc.load(model, config=_config(**{c1: dict(pe=3, simd=4), c2: dict(pe=6, simd=5, ram_style="block"),
                                                 dense: dict(pe=1, simd=1)}))
    project = assert_exact(graph, tmp_path / "o", probe_inputs(graph, 40, seed=5), io_type="stream")
    assert project.report["composition"] == "pixel"
    assert {u["microarch"] for n, u in _plans(project).items() if n in (c1, c2, dense)} == {"pe_array"}


def test_pe_array_rom_is_block_ram_in_yosys(tmp_path):
    """ram_style block: SB_RAM40_4K on iCE40, RAMB18/36 on Xilinx, as many as the estimate counts (a 12-word ROM
    of four lanes of 7-8 bits: two 16-bit wide EBRs, one 36-bit wide RAMB18, half a RAMB36 tile)."""
    require_tool("yosys")
    from edgecc.sim.synth import run_yosys

    graph = _mlp(sizes=(8, 6), fc1=dict(pe=2, simd=2, ram_style="block"))
    for board, command, family in (("icebreaker", "synth_ice40 -dsp -top {}", "ice40"),
                                   ("pynq-z2", "synth_xilinx -flatten -family xc7 -top {}", "xilinx")):
        project = edgecc.compile(graph, backend="rtl", out=str(tmp_path / board), board=board)
        report = project.report
        files = [os.path.join(project.out_dir, f) for f in report["rtl_files"]]
        with tempfile.TemporaryDirectory() as work:
            cells = run_yosys(files, command.format(report["top"]), family, work)
        assert cells["bram"] == report["resources"]["bram"] == {"ice40": 2, "xilinx": 0.5}[family], cells


@pytest.mark.parametrize("text, message", [
    ("pe: 0", "pe must be an integer >= 1"),
    ("simd: two", "simd must be an integer >= 1"),
    ("pe: true", "pe must be an integer >= 1"),
    ("ram_style: ultra", "ram_style must be one of auto, block, distributed, logic"),
    ("{reuse_factor: 2, pe: 2}", "reuse_factor or pe/simd, not both"),
])
def test_bad_pe_simd_or_ram_style_in_the_config_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "cfg.yaml"
    path.write_text(f"layers:\n  fc1: {text if text.startswith('{') else '{' + text + '}'}\n")
    with pytest.raises(edgecc.ModelError, match=message):
        load_config(str(path))


@pytest.mark.parametrize("layers, board, message", [
    (dict(fc1=dict(pe=13)), "pynq-z2", "'fc1': pe 13 exceeds its 12 neurons"),
    (dict(fc2=dict(simd=13)), "pynq-z2", "'fc2': simd 13 exceeds its 12 inputs per neuron"),
    (dict(fc1=dict(pe=2, ram_style="distributed")), "icebreaker", "ram_style 'distributed' is not available"),
])
def test_a_fold_beyond_the_layer_or_a_memory_the_board_lacks_is_refused(tmp_path, layers, board, message):
    graph = _mlp(**layers)
    with pytest.raises(edgecc.ModelError, match=message):
        edgecc.compile(graph, backend="rtl", out=str(tmp_path / "o"), board=board)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("op", ["MaxPool", "Quantize"])   # a unit of its own, or a node fused behind a Conv
def test_pe_and_simd_apply_to_dense_and_conv_only(tmp_path, op):
    model = cnn1d()
    name = _names(model, op)[0]
    graph = edgecc.load(model, config=_config(**{name: dict(pe=2)}))
    with pytest.raises(edgecc.ModelError, match=f"{name}'?: pe and simd apply to Dense and Conv layers, not {op}"):
        edgecc.compile(graph, backend="rtl", out=str(tmp_path / "o"), io_type="parallel")


def _cost(graph, board="pynq-z2"):
    from edgecc.boards import get_board

    b = get_board(board)
    cost = RtlCostModel.for_board(b, b.clock_ns)
    return cost, {u.head: u for u in cost.units(graph)}


def _key(p):
    return [p.ii_cycles, p.latency_cycles] + [p.resources[k] for k in FPGA_RESOURCES]


def test_candidates_are_every_micro_architecture_with_none_dominated():
    graph = _mlp(sizes=(16, 12, 6))
    cost, units = _cost(graph)
    points = cost.candidates(graph, units["fc1"], None)
    kinds = {p.microarch for p in points}
    assert {"adder_graph", "pe_array"} <= kinds and len(points) <= MAX_CANDIDATES
    assert points[0].ii_cycles == 1 and points[-1].ii_cycles == 16 * 12     # the fastest and the most folded
    for p in points:
        assert not any(all(b <= a for a, b in zip(_key(p), _key(q))) and _key(p) != _key(q) for q in points)
    assert {p.detail.memory for p in points if p.microarch == "pe_array"} <= {"block", "distributed", "logic"}


def test_candidates_follow_the_layer_config_and_the_board():
    graph = _mlp(sizes=(16, 12, 6))
    cost, units = _cost(graph)
    fixed = cost.candidates(graph, units["fc1"], LayerConfig(pe=3, simd=4, ram_style="block"))
    assert [(p.detail.pe, p.detail.simd, p.detail.memory, p.ii_cycles) for p in fixed] == [(3, 4, "block", 16)]
    some = cost.candidates(graph, units["fc1"], LayerConfig(pe=3))
    assert some and all(p.microarch == "pe_array" and p.detail.pe == 3 for p in some)
    ice, ice_units = _cost(graph, "icebreaker")
    assert "distributed" not in {p.detail.memory for p in ice.candidates(graph, ice_units["fc1"], None)
                                 if p.microarch == "pe_array"}
    hx8k, hx_units = _cost(graph, "ice40-hx8k")
    assert hx8k.candidates(graph, hx_units["fc1"], LayerConfig(pe=1, simd=1))[0].resources["dsp"] == 0
