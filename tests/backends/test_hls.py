"""The HLS backend: micro-architecture options, explicit requantization paths, project contents, build cache."""
from __future__ import annotations

import pytest

import edgecc
from helpers import compile_run_compare, probe_inputs
from models import float_mlp, qonnx_mlp


def test_reuse_factor_from_config_is_bit_exact_and_in_the_pragmas(tmp_path, gxx):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("layers:\n  fc4: {reuse_factor: 8}\n  fc11: {reuse_factor: 3}\n")
    model = qonnx_mlp(seed=5)
    graph = edgecc.load(model, config=str(cfg))
    _, _ = compile_run_compare(graph, probe_inputs(graph, 1000), tmp_path)
    report = edgecc.Project(str(tmp_path / "out")).report
    reuse = {l["name"]: l["reuse"] for l in report["layers"]}
    assert reuse["fc4"] == 8 and reuse["fc11"] == 3 and report["ii_cycles"] == 8
    top = (tmp_path / "out" / "firmware" / "qmlp.cpp").read_text()
    assert "#pragma HLS PIPELINE II=8" in top
    assert ", 16, 32, 8, true>" in top and ", 32, 5, 3, false>" in top


def test_ii_target_sets_reuse_and_stays_bit_exact(tmp_path, gxx):
    graph = edgecc.load(qonnx_mlp(seed=6))
    compile_run_compare(graph, probe_inputs(graph, 1000), tmp_path, ii=4)
    report = edgecc.Project(str(tmp_path / "out")).report
    assert report["ii_cycles"] == 4
    assert all(l["reuse"] == 4 for l in report["layers"] if l["op"] == "Dense")


def test_config_result_type_requantizes_a_layer(tmp_path, gxx):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("precision: fixed<14,5>\nlayers:\n  gemm0: {result: 'fixed<9,4,FLOOR,SAT>', weight: 'fixed<6,1>'}\n")
    graph = edgecc.load(float_mlp(seed=2), config=str(cfg))
    q = next(n for n in graph.nodes if n.name == "gemm0_result")
    assert str(graph.tensor(q.output).type) == "fixed<9,4,FLOOR,SAT>"
    dense = next(n for n in graph.nodes if n.name == "gemm0")
    assert graph.tensor(dense.inputs[1]).type.width == 6
    compile_run_compare(graph, probe_inputs(graph, 1000), tmp_path)


@pytest.mark.parametrize("rounding", ["CEIL", "UP"])
def test_roundings_without_an_ap_mode_use_integer_code(rounding, tmp_path, gxx):
    graph = edgecc.load(qonnx_mlp(seed=8, rounding=rounding, act_signed=True))
    compile_run_compare(graph, probe_inputs(graph, 1000), tmp_path)
    top = (tmp_path / "out" / "firmware" / "qmlp.cpp").read_text()
    assert "quantize_explicit" in top


def test_project_is_self_contained(tmp_path):
    graph = edgecc.load(qonnx_mlp())
    edgecc.compile(graph, out=str(tmp_path / "p"), board="pynq-z2")
    out = tmp_path / "p"
    for rel in ("firmware/qmlp.cpp", "firmware/qmlp.h", "firmware/parameters.h", "firmware/edgecc_layers.h",
                "tb/tb_qmlp.cpp", "tb_data/input_codes.txt", "tb_data/output_codes.txt", "build_hls.tcl",
                "README.md", "report.json", "model.ir.json", "ap_types/ap_fixed.h", "ap_types/ap_int.h"):
        assert (out / rel).is_file(), rel
    assert "set_part xc7z020clg400-1" in (out / "build_hls.tcl").read_text()
    params = (out / "firmware" / "parameters.h").read_text()
    assert "ap_ufixed<8,4,AP_RND_CONV,AP_SAT>" in params


def test_dump_ir_prints_every_pass_in_order(tmp_path):
    import subprocess
    import sys

    model = tmp_path / "m.onnx"
    import onnx

    onnx.save(qonnx_mlp(), str(model))
    proc = subprocess.run([sys.executable, "-m", "edgecc", "compile", str(model), "-o", str(tmp_path / "o"),
                           "--dump-ir"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    steps = [l.split()[2] for l in proc.stderr.splitlines() if l.startswith("== after")]
    from edgecc.ir.passes import PIPELINE

    assert steps == ["frontend"] + [name for name, _ in PIPELINE]
    assert "accumulator_type=" in proc.stderr
