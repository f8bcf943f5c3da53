"""The HLS backend on CNNs: every CNN test model bit-exact in C simulation in both I/O styles (io_parallel arrays,
io_stream pixels on hls::stream with line buffers), geometry the suite models do not reach, ResNet-8, the stream
harness's own checks, the layer library's integer rounding, and the cost model's view of CNNs."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest

import edgecc
from edgecc.boards import get_board
from edgecc.config import CompileConfig
from edgecc.errors import InfeasibleTarget, ToolError
from edgecc.ir.ops_spatial import divide_round
from edgecc.schedule import Targets, schedule_graph
from edgecc.schedule.hls import HlsCostModel
from helpers import compile_run_compare, probe_inputs
from suite import WHOLE_FRAME
from models import qonnx_mlp
from models_cnn import CNN_MODELS, GEOMETRY_MODELS, float_cnn, resnet8

IO_TYPES = ("parallel", "stream")


MODELS = {**CNN_MODELS, **GEOMETRY_MODELS, "float_cnn": float_cnn}


@pytest.fixture(scope="module")
def graphs():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = edgecc.load(MODELS[name]())
        return cache[name]
    return get


def _top(tmp_path, graph, name="out") -> str:
    out = tmp_path / name
    return (out / "firmware" / f"{edgecc.Project(str(out)).report['top']}.cpp").read_text()


@pytest.mark.parametrize("io_type", IO_TYPES)
@pytest.mark.parametrize("model", sorted(MODELS))
def test_cnn_matches_golden_in_csim(model, io_type, graphs, tmp_path, gxx):
    graph = graphs(model)
    compile_run_compare(graph, probe_inputs(graph, 1000), tmp_path, io_type=io_type, **board_for(io_type))
    report = edgecc.Project(str(tmp_path / "out")).report
    assert report["options"] == {"io_type": io_type} and report["io_type"] == io_type
    assert report["composition"] == {"parallel": "pipeline", "stream": "dataflow"}[io_type]
    top = _top(tmp_path, graph)
    if io_type == "stream":
        assert "#pragma HLS DATAFLOW" in top and "hls::stream<input_pixel_t> &x" in top
    else:
        assert "#pragma HLS PIPELINE II=" in top and "hls::stream" not in top
    for path in (tmp_path / "out" / "firmware").rglob("*.h*"):  # integer and ap_fixed arithmetic only
        assert not re.search(r"\b(float|double)\b", path.read_text()), path
    assert not re.search(r"\b(float|double)\b", top)


def test_resnet8_compiles_fast_and_matches_golden_in_both_styles(tmp_path, gxx):
    graph = edgecc.load(resnet8())
    x = probe_inputs(graph, 12, seed=3)
    for io_type in IO_TYPES:
        t0 = time.perf_counter()
        project = edgecc.compile(graph, backend="hls", out=str(tmp_path / io_type), io_type=io_type,
                                 **board_for(io_type))
        written = time.perf_counter() - t0
        result = project.run_result(x)
        simulated = time.perf_counter() - t0 - written
        print(f"\nresnet8 {io_type}: project written in {written:.1f} s, C simulation (g++ build and "
              f"{len(x)} images) in {simulated:.1f} s")
        assert written < 60
        assert result.vectors == len(x) and result.mismatches == 0
        np.testing.assert_array_equal(result.codes, result.golden_codes)
        layers = {l["name"]: l for l in project.report["layers"]}
        convs = [l for l in layers.values() if l["op"] == "Conv"]
        assert len(convs) == 9 and all(l["microarch"] == ("hls_conv_line_buffer" if io_type == "stream"
                                                          else "hls_conv") for l in convs)


# ---- io_stream: forks, FIFO depths, and a harness that notices streams out of step -------------------------------
def test_stream_skip_connection_forks_and_gets_a_deeper_fifo(graphs, tmp_path, gxx):
    graph = graphs("residual_block")
    compile_run_compare(graph, probe_inputs(graph, 200), tmp_path, io_type="stream")
    out = tmp_path / "out"
    top = _top(tmp_path, graph)
    schedule = json.loads((out / "schedule.json").read_text())
    # the first block's output `a` feeds the second Conv, the residual Add and the Concat: two chained forks
    assert top.count("edgecc::fork_stream<") == 2
    depths = {(e["tensor"], e["unit"]): e["depth"] for e in schedule["edges"]}
    skip = depths[("q11_out", "res23")]           # waits for the second Conv's line buffer to fill
    assert skip > depths[("q11_out", "conv16")] and skip > 8
    assert f"#pragma HLS STREAM variable=q11_out_to_res23 depth={skip}" in top


def test_stream_design_whose_streams_fall_out_of_step_fails_csim(graphs, tmp_path, gxx):
    graph = graphs("cnn1d")
    project = edgecc.compile(graph, backend="hls", out=str(tmp_path / "out"), io_type="stream")
    path = tmp_path / "out" / "firmware" / "cnn1d.cpp"
    text = path.read_text()
    broken = text.replace("edgecc::quantize_cast<conv6_out_t, q8_out_t, 96, 4>",
                          "edgecc::quantize_cast<conv6_out_t, q8_out_t, 92, 4>")  # drops four pixels
    assert broken != text
    path.write_text(broken)
    with pytest.raises(ToolError, match="out of step"):
        project.run_result(probe_inputs(graph, 4))


# ---- the layer library's exact integer rounding ----------------------------------------------------------------
ROUNDINGS = {"FLOOR": "INT_FLOOR", "CEIL": "INT_CEIL", "DOWN": "INT_DOWN", "UP": "INT_UP", "ROUND": "INT_HALF_EVEN",
             "HALF_UP": "INT_HALF_UP", "HALF_DOWN": "INT_HALF_DOWN", "HALF_POS_INF": "INT_HALF_POS_INF",
             "HALF_NEG_INF": "INT_HALF_NEG_INF"}


def test_layer_library_divide_round_equals_the_ir_for_every_mode(tmp_path, gxx):
    from edgecc.backends.hls.emit import TEMPLATES, ap_types_dir

    nums, dens = np.arange(-40, 41), np.array([1, 2, 3, 4, 6, 9])
    calls = "\n".join(f'    for (int n = -40; n <= 40; n++) for (int d : {{1, 2, 3, 4, 6, 9}}) '
                      f'std::printf("%d\\n", edgecc::divide_round<edgecc::{mode}>(ap_int<12>(n), '
                      f'ap_int<12>(d)).to_int());' for mode in ROUNDINGS.values())
    src = tmp_path / "t.cpp"
    src.write_text(f'#include <cstdio>\n#include "edgecc_layers.h"\nint main() {{\n{calls}\n}}\n')
    subprocess.run([gxx, "-std=c++14", "-w", "-I", os.path.join(TEMPLATES, "firmware"), "-I", ap_types_dir(),
                    str(src), "-o", str(tmp_path / "t")], check=True)
    got = np.array(subprocess.run([str(tmp_path / "t")], capture_output=True, text=True, check=True).stdout.split(),
                   dtype=np.int64).reshape(len(ROUNDINGS), -1)
    s, n = np.repeat(nums, len(dens)), np.tile(dens, len(nums))
    for k, mode in enumerate(ROUNDINGS):
        want = divide_round(s, n, 0, mode).astype(np.int64)
        np.testing.assert_array_equal(got[k], want, err_msg=mode)


def board_for(io_type: str) -> dict:
    """A whole-frame CNN is a design for a large part (suite.WHOLE_FRAME); streams run on the default board."""
    return {k: v for k, v in WHOLE_FRAME.items() if k != "io_type"} if io_type == "parallel" else {}


# ---- the cost model and the options -------------------------------------------------------------------------
def _schedule(graph, io_type, board="zcu104", **targets):
    return schedule_graph(graph, HlsCostModel, get_board(board), graph.config or CompileConfig(), Targets(**targets),
                          {"io_type": io_type})


def test_conv_reuse_from_config_is_bit_exact_and_limits_the_multipliers(tmp_path, gxx):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("layers:\n  conv6: {reuse_factor: 9}\n  conv14: {reuse_factor: 4}\n")
    graph = edgecc.load(CNN_MODELS["cnn1d"](), config=str(cfg))
    for io_type in IO_TYPES:
        compile_run_compare(graph, probe_inputs(graph, 500), tmp_path, name=io_type, io_type=io_type,
                            **board_for(io_type))
        report = edgecc.Project(str(tmp_path / io_type)).report
        reuse = {l["name"]: l["reuse"] for l in report["layers"]}
        assert reuse["conv6"] == 9 and reuse["conv14"] == 4
        top = _top(tmp_path, graph, io_type)
        assert "conv6_window_t, 4, 1, 9, true>" in top and "conv14_window_t, 6, 1, 4, true>" in top
    fast, folded = _schedule(edgecc.load(CNN_MODELS["cnn1d"]()), "stream"), _schedule(graph, "stream")
    assert folded.ii_cycles == 9 * (24 + 24)  # conv6: 24 input and 24 output steps of II 9
    assert folded.resources["lut"] < fast.resources["lut"]


@pytest.mark.parametrize("io_type, model, slack", [("parallel", CNN_MODELS["cnn2d_geometry"], 4),
                                                    ("stream", resnet8, 30)])
def test_latency_target_folds_convs_within_the_board(io_type, model, slack):
    graph = edgecc.load(model())
    fast = _schedule(graph, io_type)
    relaxed = _schedule(graph, io_type, latency_cycles=fast.latency_cycles * slack)  # raises where it does not fit
    assert fast.latency_cycles < relaxed.latency_cycles <= fast.latency_cycles * slack
    assert min(l.reuse for l in relaxed.layers if l.op == "Conv") > 1
    assert relaxed.resources["lut"] < fast.resources["lut"] / 2


def test_stream_estimates_read_pixels_line_buffers_and_overlap():
    graph = edgecc.load(resnet8())
    s = _schedule(graph, "stream", board="vu13p")   # room for the fastest II: no layer folded to fit
    assert s.composition == "dataflow"
    assert s.ii_cycles == 2 * 32 * 32      # the first Conv: 1024 input and 1024 output steps
    assert s.latency_cycles < sum(u.point.latency_cycles for u in s.units)  # processes overlap
    assert s.unit("conv13").point.resources["bram"] == 1             # 3 rows x 32 x 16 x 8 bits: a block RAM
    small = _schedule(edgecc.load(CNN_MODELS["cnn1d"]()), "stream").unit("conv6").point
    assert small.resources["bram"] == 0 and small.resources["ff"] >= 24 * 2 * 8  # one row of 24 x 2 x 8 bits
    with pytest.raises(InfeasibleTarget):
        _schedule(graph, "stream", ii=512)  # fewer cycles than the input has pixels


def test_cli_io_type_reaches_the_report_and_other_backends_refuse_it(tmp_path):
    model = tmp_path / "m.onnx"
    onnx.save(CNN_MODELS["depthwise_separable"](), str(model))
    run = lambda *a: subprocess.run([sys.executable, "-m", "edgecc", *map(str, a)], capture_output=True, text=True)  # noqa: E731
    proc = run("compile", model, "-b", "hls", "-o", tmp_path / "o", "--io-type", "stream")
    assert proc.returncode == 0, proc.stderr
    assert edgecc.Project(str(tmp_path / "o")).report["options"] == {"io_type": "stream"}
    proc = run("compile", model, "-b", "c", "-o", tmp_path / "c", "--io-type", "stream")
    assert proc.returncode == 2 and "io-type" in proc.stderr and not (tmp_path / "c").exists()


@pytest.mark.parametrize("model, composition", [(CNN_MODELS["cnn1d"], "dataflow"), (qonnx_mlp, "pipeline")])
def test_io_type_auto_streams_models_with_windows(model, composition):
    graph = edgecc.load(model())
    assert _schedule(graph, "auto").composition == composition
