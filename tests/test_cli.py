"""The command line as users and CI rely on it: exit codes, one-line errors, no half-written OUT, determinism."""
from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper

from models import float_mlp, qonnx_mlp

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "jet_tagging_mlp.onnx")


def edgecc(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "edgecc", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def assert_clean_error(code, err, expected_code, *fragments):
    assert code == expected_code, err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]


def save(model, path):
    onnx.save(model, str(path))
    return path


def test_version_help_and_boards():
    code, out, _ = edgecc("--version")
    assert code == 0 and out.startswith("edgecc ")
    for sub in ("compile", "run", "report", "boards"):
        code, out, _ = edgecc(sub, "--help")
        assert code == 0 and "usage:" in out
    code, out, _ = edgecc("boards")
    assert code == 0
    for name, part in [("pynq-z2", "xc7z020clg400-1"), ("zcu104", "xczu7ev-ffvc1156-2-e"), ("alveo-u55c", ""),
                       ("alveo-u250", ""), ("vu13p", "xcvu13p")]:
        assert any(l.startswith(name) and part in l for l in out.splitlines()), name


def test_compile_run_report_round_trip(tmp_path, gxx):
    out = tmp_path / "jet"
    code, stdout, err = edgecc("compile", EXAMPLE, "-b", "hls", "-o", out, "--board", "zcu104")
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    for key in ("edgecc_version", "model", "backend", "board", "clock_ns", "latency_cycles", "latency_ns",
                "ii_cycles", "resources", "layers"):
        assert key in report
    assert report["board"] == "zcu104" and report["clock_ns"] == 5.0
    assert set(report["resources"]) == {"lut", "ff", "dsp", "bram"}
    assert all({"name", "op", "reuse", "latency_cycles", "ii_cycles", "resources", "out_type"} <= set(l)
               for l in report["layers"])
    tcl = (out / "build_hls.tcl").read_text()
    assert "set_part xczu7ev-ffvc1156-2-e" in tcl and "create_clock -period 5" in tcl
    for step in ("csim_design", "csynth_design", "cosim_design", "export_design"):
        assert step in tcl
    assert (out / "ap_types" / "ap_fixed.h").is_file()

    x = np.random.default_rng(0).normal(0, 3, size=(300, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, stdout, err = edgecc("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert code == 0, err
    assert "300 vectors, 0 mismatches" in stdout
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.float64 and y.shape == (300, 5)
    code, _, err = edgecc("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "g.npy", "--golden")
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), y)
    report = json.loads((out / "report.json").read_text())
    assert report["sim"]["vectors"] == 300 and report["sim"]["mismatches"] == 0
    code, stdout, _ = edgecc("report", out)
    assert code == 0 and "latency" in stdout and "fc1" in stdout


def test_compiling_twice_gives_byte_identical_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert edgecc("compile", EXAMPLE, "-b", "hls", "-o", a)[0] == 0
    assert edgecc("compile", EXAMPLE, "-b", "hls", "-o", b)[0] == 0
    cmp = filecmp.dircmp(a, b)

    def differences(c):
        diffs = c.left_only + c.right_only + c.diff_files + c.funny_files
        for sub in c.subdirs.values():
            diffs += differences(sub)
        return diffs

    assert differences(cmp) == []
    for root, _, files in os.walk(a):
        for f in files:
            pa = os.path.join(root, f)
            with open(pa, "rb") as fa, open(os.path.join(b, os.path.relpath(pa, a)), "rb") as fb:
                assert fa.read() == fb.read(), pa


def test_truncated_model_file(tmp_path):
    data = open(EXAMPLE, "rb").read()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(data[:len(data) // 3])
    code, _, err = edgecc("compile", bad, "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "cannot read")
    assert not (tmp_path / "o").exists()


def test_unsupported_op_names_node_op_and_supported_list(tmp_path):
    model = float_mlp()
    model.graph.node.append(helper.make_node("Sigmoid", [model.graph.output[0].name], ["s"], name="head/sig"))
    model.graph.output[0].name = "s"
    code, _, err = edgecc("compile", save(model, tmp_path / "m.onnx"), "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "'head/sig'", "Sigmoid", "supported:", "Gemm")
    assert not (tmp_path / "o").exists()


def test_dynamic_non_batch_dimension(tmp_path):
    model = float_mlp()
    model.graph.input[0].type.tensor_type.shape.dim[1].Clear()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "F"
    code, _, err = edgecc("compile", save(model, tmp_path / "m.onnx"), "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "dynamic dimension")
    assert not (tmp_path / "o").exists()


def test_non_power_of_two_scale(tmp_path):
    model = qonnx_mlp()
    for init in model.graph.initializer:
        if init.name == "q1_s":
            init.CopyFrom(onnx.numpy_helper.from_array(np.float32(0.3), "q1_s"))
    code, _, err = edgecc("compile", save(model, tmp_path / "m.onnx"), "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "'q1'", "'x'", "not a power of two")
    assert not (tmp_path / "o").exists()


def test_unknown_board(tmp_path):
    code, _, err = edgecc("compile", EXAMPLE, "-b", "hls", "-o", tmp_path / "o", "--board", "nexys-9000")
    assert_clean_error(code, err, 2, "unknown board 'nexys-9000'", "zcu104")
    assert not (tmp_path / "o").exists()


def test_failed_compile_keeps_an_existing_folder_untouched(tmp_path):
    out = tmp_path / "o"
    assert edgecc("compile", EXAMPLE, "-b", "hls", "-o", out)[0] == 0
    before = (out / "report.json").read_text()
    code, _, err = edgecc("compile", EXAMPLE, "-b", "hls", "-o", out, "--board", "nope")
    assert code == 2
    assert (out / "report.json").read_text() == before
    assert [p for p in os.listdir(tmp_path) if p.startswith(".o.tmp")] == []


def test_wrong_input_shape(tmp_path):
    out = tmp_path / "o"
    assert edgecc("compile", EXAMPLE, "-b", "hls", "-o", out)[0] == 0
    np.save(tmp_path / "x.npy", np.zeros((10, 15), dtype=np.float32))
    code, _, err = edgecc("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert_clean_error(code, err, 2, "shape [N, 16]", "[10, 15]")
    assert not (tmp_path / "y.npy").exists()


def test_missing_and_unreadable_inputs(tmp_path):
    code, _, err = edgecc("compile", tmp_path / "nope.onnx", "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "does not exist")
    code, _, err = edgecc("run", tmp_path / "nothing", "--input", tmp_path / "x.npy")
    assert_clean_error(code, err, 2, "not an edgecc output folder")
    code, _, err = edgecc("compile", EXAMPLE, "-o", tmp_path / "o", "--precision", "float16")
    assert_clean_error(code, err, 2, "cannot read precision")


def test_infeasible_latency_target_exits_3_naming_best_and_bottleneck(tmp_path):
    code, _, err = edgecc("compile", EXAMPLE, "-b", "hls", "-o", tmp_path / "o", "--latency-cycles", "2")
    assert_clean_error(code, err, 3, "best is", "bottleneck layer")
    assert not (tmp_path / "o").exists()


HOSTILE = 'fc1"; system("rm -rf /"); /* */ \n`define x module endmodule\\'


def test_hostile_node_names_are_sanitized_and_simulate(tmp_path, gxx):
    model = qonnx_mlp(sizes=(8, 6, 3), layer_names=[HOSTILE, "0" + HOSTILE])
    out = tmp_path / "o"
    code, _, err = edgecc("compile", save(model, tmp_path / "m.onnx"), "-b", "hls", "-o", out)
    assert code == 0, err
    for root, _, files in os.walk(out / "firmware"):
        for f in files:
            text = open(os.path.join(root, f)).read()
            assert 'system("' not in text and "`define" not in text and "rm -rf" not in text, f
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(0, 4, size=(200, 8)))
    code, stdout, err = edgecc("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert code == 0 and "0 mismatches" in stdout, err


def test_hostile_name_in_an_error_stays_one_line(tmp_path):
    model = float_mlp()
    model.graph.node.append(helper.make_node("Softmax", [model.graph.output[0].name], ["s"], name=HOSTILE))
    model.graph.output[0].name = "s"
    code, _, err = edgecc("compile", save(model, tmp_path / "m.onnx"), "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "Softmax")
