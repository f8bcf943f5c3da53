"""HLS C simulation: the g++ build cached by content hash, and the generated testbench's own self-check (what
Vitis csim_design and cosim_design run), which must fail on any difference, including a short or long expected file."""
from __future__ import annotations

import os
import subprocess

import pytest

import edgecc
from edgecc.sim import csim
from models import qonnx_mlp


@pytest.fixture
def testbench(tmp_path, gxx):
    """A compiled HLS project, its C-simulation binary, and its expected-codes file."""
    project = edgecc.compile(edgecc.load(qonnx_mlp(seed=3)), out=str(tmp_path / "p"))
    binary, _ = csim.build(project.out_dir, project.report["top"], quiet=True)
    return project, binary, tmp_path / "p" / "tb_data" / "output_codes.txt"


def run_testbench(project, binary):
    return subprocess.run([binary], cwd=project.out_dir, capture_output=True, text=True)


def test_testbench_passes_against_its_golden_vectors(testbench):
    project, binary, _ = testbench
    ok = run_testbench(project, binary)
    assert ok.returncode == 0 and "0 mismatches" in ok.stdout


def test_testbench_fails_on_one_changed_expected_code(testbench):
    project, binary, expected = testbench
    lines = expected.read_text().splitlines()
    first = lines[3].split()
    first[0] = str(int(first[0]) + 1)
    lines[3] = " ".join(first)
    expected.write_text("\n".join(lines) + "\n")
    bad = run_testbench(project, binary)
    assert bad.returncode == 1 and "1 mismatches" in bad.stdout


@pytest.mark.parametrize("keep", [0, 10, -1])
def test_testbench_fails_on_a_short_expected_file(testbench, keep):
    """An expected file cut short (empty, 10 vectors, one value missing) is a failed check, never a pass."""
    project, binary, expected = testbench
    text = expected.read_text()
    if keep >= 0:
        expected.write_text("".join(text.splitlines(keepends=True)[:keep]))
    else:
        expected.write_text(text.rstrip().rsplit(" ", 1)[0] + "\n")
    bad = run_testbench(project, binary)
    assert bad.returncode == 1 and "expected values missing" in bad.stdout


def test_testbench_fails_on_a_long_expected_file_and_on_a_missing_one(testbench):
    project, binary, expected = testbench
    text = expected.read_text()
    expected.write_text(text + text.splitlines(keepends=True)[0])
    bad = run_testbench(project, binary)
    assert bad.returncode == 1 and "extra" in bad.stdout
    os.remove(expected)
    missing = run_testbench(project, binary)
    assert missing.returncode == 2 and "cannot open" in missing.stderr


def test_second_run_uses_the_cached_build(tmp_path, gxx):
    graph = edgecc.load(qonnx_mlp(seed=11))
    project = edgecc.compile(graph, out=str(tmp_path / "p"))
    top = project.report["top"]
    _, cached_first = csim.build(project.out_dir, top, quiet=True)
    _, cached_second = csim.build(project.out_dir, top, quiet=True)
    assert cached_second is True
    # a change to the firmware is a new hash: rebuilt, not served stale
    path = os.path.join(project.out_dir, "firmware", f"{top}.cpp")
    with open(path, "a") as f:
        f.write("\n// changed\n")
    _, cached_third = csim.build(project.out_dir, top, quiet=True)
    assert cached_third is False
