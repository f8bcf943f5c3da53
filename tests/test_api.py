"""The Python API as users rely on it: results that cannot hide a mismatch, options that are applied or refused,
and a compile that leaves the user's graph as it was."""
from __future__ import annotations

import glob
import json
import os
import re

import numpy as np
import pytest

import edgecc
from edgecc.errors import MismatchError, ModelError
from helpers import probe_inputs
from models import qonnx_mlp


@pytest.fixture
def hls_project(tmp_path, gxx):
    graph = edgecc.load(qonnx_mlp(sizes=(8, 6, 3), seed=7))
    return graph, edgecc.compile(graph, backend="hls", out=str(tmp_path / "hls"))


def corrupt_one_weight(out_dir: str) -> None:
    """Change one integer code in the first weight header of an HLS project: a design that is now wrong."""
    path = sorted(glob.glob(os.path.join(out_dir, "firmware", "weights", "*_w.h")))[0]
    text = open(path).read()
    body_start = text.index("= {") + 3
    match = re.compile(r"-?\d+").search(text, body_start)
    value = int(match.group())
    text = text[:match.start()] + str(value + 3 if value < 100 else value - 3) + text[match.end():]
    open(path, "w").write(text)


def test_run_returns_exact_outputs_when_the_design_matches(hls_project):
    graph, project = hls_project
    x = probe_inputs(graph, 400)
    np.testing.assert_array_equal(project.run(x), graph.golden(x))


def test_run_raises_mismatch_error_on_a_corrupted_output_folder_and_records_it(hls_project):
    graph, project = hls_project
    corrupt_one_weight(project.out_dir)
    with pytest.raises(MismatchError, match=r"\d+ of 400 vectors differ from the golden model"):
        project.run(probe_inputs(graph, 400))
    sim = project.report["sim"]
    assert sim["vectors"] == 400 and sim["mismatches"] > 0
    result = project.run_result(probe_inputs(graph, 400))  # the non-raising view says the same
    assert result.mismatches == sim["mismatches"]
    with pytest.raises(MismatchError):
        result.check()


def test_a_golden_run_is_recorded_apart_and_leaves_the_simulation_record_untouched(hls_project):
    graph, project = hls_project
    corrupt_one_weight(project.out_dir)
    project.run_result(probe_inputs(graph, 200))
    simulated = project.report["sim"]
    assert simulated["mismatches"] > 0
    outputs = project.run(probe_inputs(graph, 50), golden=True)  # the golden model agrees with itself
    report = project.report
    assert report["sim"] == simulated  # still the failed simulation: a golden run cannot paper over it
    assert report["golden"]["vectors"] == 50
    np.testing.assert_array_equal(outputs, graph.golden(probe_inputs(graph, 50)))


def test_run_options_the_backend_does_not_take_are_refused(hls_project):
    graph, project = hls_project
    x = probe_inputs(graph, 10)
    for option in ({"target": "qemu"}, {"simulator": "icarus"}, {"stress": True}):
        with pytest.raises(ModelError, match=f"the hls backend does not take the run option --{next(iter(option))}"):
            project.run(x, **option)
    with pytest.raises(ModelError, match="golden-model run simulates nothing"):
        project.run(x, golden=True, stress=True)


def test_compile_refuses_precision_or_config_with_an_already_lowered_graph(tmp_path):
    graph = edgecc.load(qonnx_mlp(seed=1))
    for options in ({"precision": "fixed<8,3>"}, {"config": str(tmp_path / "cfg.yaml")}):
        with pytest.raises(ModelError, match="pass them to edgecc.load"):
            edgecc.compile(graph, out=str(tmp_path / "o"), **options)
    assert not (tmp_path / "o").exists()


def test_compile_applies_precision_when_given_a_model_file(tmp_path):
    import onnx

    from models import float_mlp

    path = tmp_path / "m.onnx"
    onnx.save(float_mlp(seed=3), str(path))
    project = edgecc.compile(str(path), out=str(tmp_path / "o"), precision="fixed<10,4>")
    assert project.report["input_type"].startswith("fixed<10,4")


@pytest.mark.parametrize("backend", ["hls", "rtl"])
def test_compile_leaves_the_users_graph_as_it_was(backend, tmp_path):
    graph = edgecc.load(qonnx_mlp(sizes=(16, 20, 4), seed=2))
    before = graph.to_json()
    edgecc.compile(graph, backend=backend, out=str(tmp_path / "a"), latency_cycles=60)
    edgecc.compile(graph, backend=backend, out=str(tmp_path / "b"), ii=4)
    assert graph.to_json() == before
    plan = json.load(open(tmp_path / "b" / "schedule.json"))
    # the second compile's own target (the RTL model would rather pay LUTs for a parallel layer than DSPs for a
    # reuse-4 one; HLS folds by 4)
    assert plan["targets"]["ii"] == 4 and plan["ii_cycles"] <= 4


def test_a_board_of_the_wrong_kind_is_refused(tmp_path):
    graph = edgecc.load(qonnx_mlp(seed=1))
    with pytest.raises(ModelError, match="board 'qemu-m4' is an MCU; the rtl backend needs an FPGA board"):
        edgecc.compile(graph, backend="rtl", out=str(tmp_path / "o"), board="qemu-m4")


def test_an_unknown_backend_names_the_available_ones(tmp_path):
    with pytest.raises(ModelError, match=r"unknown backend 'vhdl' \(available: c, hls, rtl\)"):
        edgecc.compile(edgecc.load(qonnx_mlp(seed=1)), backend="vhdl", out=str(tmp_path / "o"))
