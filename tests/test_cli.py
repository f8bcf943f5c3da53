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
    for sub in ("compile", "run", "report", "boards", "ops", "synth"):
        code, out, _ = edgecc(sub, "--help")
        assert code == 0 and "usage:" in out
    code, out, _ = edgecc("boards")
    assert code == 0
    for name, part in [("pynq-z2", "xc7z020clg400-1"), ("zcu104", "xczu7ev-ffvc1156-2-e"), ("alveo-u55c", ""),
                       ("alveo-u250", ""), ("vu13p", "xcvu13p")]:
        assert any(l.startswith(name) and part in l for l in out.splitlines()), name
    assert any(l.startswith("qemu-m4") and "cortex-m4" in l and "KiB" in l for l in out.splitlines())


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
    simulated = json.loads((out / "report.json").read_text())["sim"]
    assert simulated["simulator"] == "csim-g++" and simulated["vectors"] == 300 and simulated["mismatches"] == 0
    code, _, err = edgecc("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "g.npy", "--golden")
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), y)
    report = json.loads((out / "report.json").read_text())
    assert report["sim"] == simulated  # the golden run simulated nothing and says so apart
    assert report["golden"]["vectors"] == 300
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
    model.graph.node.append(helper.make_node("Erf", [model.graph.output[0].name], ["s"], name="head/sig"))
    model.graph.output[0].name = "s"
    code, _, err = edgecc("compile", save(model, tmp_path / "m.onnx"), "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "'head/sig'", "Erf", "supported:", "Gemm")
    assert not (tmp_path / "o").exists()


def test_dynamic_non_batch_dimension(tmp_path):
    model = float_mlp()
    model.graph.input[0].type.tensor_type.shape.dim[1].Clear()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "F"
    code, _, err = edgecc("compile", save(model, tmp_path / "m.onnx"), "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "dynamic dimension")
    assert not (tmp_path / "o").exists()


def test_floor_quantizer_between_scales_of_no_power_of_two_ratio(tmp_path):
    """A scale that is not a power of two is requantized as TFLite does (to nearest): a FLOOR quantizer there is a
    clear error naming it."""
    model = qonnx_mlp(rounding="FLOOR")
    for init in model.graph.initializer:
        if init.name == "q1_s":
            init.CopyFrom(onnx.numpy_helper.from_array(np.float32(0.3), "q1_s"))
    code, _, err = edgecc("compile", save(model, tmp_path / "m.onnx"), "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "'q8'", "FLOOR", "not a power of two")
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
    model.graph.node.append(helper.make_node("Erf", [model.graph.output[0].name], ["s"], name=HOSTILE))
    model.graph.output[0].name = "s"
    code, _, err = edgecc("compile", save(model, tmp_path / "m.onnx"), "-b", "hls", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "Erf")


def compiled_hls(tmp_path, seed=5):
    out = tmp_path / "o"
    assert edgecc("compile", save(qonnx_mlp(sizes=(8, 6, 3), seed=seed), tmp_path / "m.onnx"), "-b", "hls",
                  "-o", out)[0] == 0
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(0, 4, size=(100, 8)))
    return out


def test_run_option_the_backend_does_not_take_exits_2(tmp_path):
    out = compiled_hls(tmp_path)
    for option in (["--target", "qemu"], ["--stress"], ["--simulator", "icarus"]):
        code, _, err = edgecc("run", out, "--input", tmp_path / "x.npy", *option)
        assert_clean_error(code, err, 2, f"does not take the run option {option[0]}")
    assert "sim" not in json.loads((out / "report.json").read_text())


def test_run_of_a_corrupted_design_exits_1_and_still_writes_the_outputs(tmp_path, gxx):
    from test_api import corrupt_one_weight

    out = compiled_hls(tmp_path)
    corrupt_one_weight(str(out))
    code, stdout, err = edgecc("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    errors = [l for l in err.splitlines() if l.startswith("edgecc: error:")]  # besides the build's progress line
    assert code == 1 and len(errors) == 1 and "vectors differ from the golden model" in errors[0]
    assert "Traceback" not in err
    assert "MISMATCH" in stdout and (tmp_path / "y.npy").exists()
    assert json.loads((out / "report.json").read_text())["sim"]["mismatches"] > 0


def test_unknown_backend_and_wrong_kind_of_board_exit_2(tmp_path):
    code, _, err = edgecc("compile", EXAMPLE, "-b", "vhdl", "-o", tmp_path / "o")
    assert_clean_error(code, err, 2, "unknown backend 'vhdl'", "available: c, hls, rtl")
    code, _, err = edgecc("compile", EXAMPLE, "-b", "rtl", "-o", tmp_path / "o", "--board", "qemu-m0")
    assert_clean_error(code, err, 2, "'qemu-m0' is an MCU", "needs an FPGA board")
    assert not (tmp_path / "o").exists()


def test_a_board_file_compiles_and_a_broken_one_exits_2(tmp_path):
    board = tmp_path / "myboard.yaml"
    board.write_text("name: my-artix\nfamily: xilinx\npart: xc7a35ticsg324-1L\nclock_ns: 8\n"
                     "resources: {lut: 20800, ff: 41600, dsp: 90, bram: 100}\n")
    code, _, err = edgecc("compile", EXAMPLE, "-b", "rtl", "-o", tmp_path / "o", "--board", board)
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["board"] == "my-artix" and report["clock_ns"] == 8 and report["board_file"] == str(board)
    board.write_text("name: my-artix\nfamily: xilinx\npart: x\nclock_ns: 8\nresources: {lut: 1, ff: 1, dsp: -3}\n")
    code, _, err = edgecc("compile", EXAMPLE, "-b", "rtl", "-o", tmp_path / "p", "--board", board)
    assert_clean_error(code, err, 2, "myboard.yaml")
    assert not (tmp_path / "p").exists()


def test_ops_lists_every_ir_op_on_every_backend_and_the_readme_carries_the_same_table():
    from edgecc.backends import capability_markdown
    from edgecc.ir.ops import OPS

    code, out, _ = edgecc("ops")
    assert code == 0
    rows = {l.split()[0]: l for l in out.splitlines()[1:] if l.split() and l.split()[0] in OPS}
    assert set(rows) == set(OPS)
    assert "adder_graph, reuse_mac" in rows["Dense"]
    code, markdown, _ = edgecc("ops", "--markdown")
    assert code == 0 and markdown.strip() == capability_markdown()
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    assert capability_markdown() in readme, "README's op table is stale: run `make readme`"
