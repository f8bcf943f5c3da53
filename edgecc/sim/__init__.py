"""Runs what is in OUT (C simulation, or the golden model) and compares it with the golden model bit for bit."""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..ir import golden
from ..ir.graph import Graph


@dataclass
class RunResult:
    outputs: np.ndarray          # exact dequantized outputs, float64 [N, *shape]
    codes: np.ndarray            # integer codes [N, *shape]
    golden_codes: np.ndarray
    vectors: int
    mismatches: int              # vectors with any differing output
    simulator: str
    seconds: float
    latency_cycles: int | None = None   # measured, RTL only
    ii_cycles: int | None = None
    latency_max: int | None = None


def load_project(out_dir: str) -> tuple[dict, Graph]:
    report_path = os.path.join(out_dir, "report.json")
    ir_path = os.path.join(out_dir, "model.ir.json")
    if not (os.path.isfile(report_path) and os.path.isfile(ir_path)):
        raise ModelError(f"{out_dir!r} is not an edgecc output folder (no report.json / model.ir.json)")
    with open(report_path) as f:
        report = json.load(f)
    with open(ir_path) as f:
        graph = Graph.from_json(f.read())
    return report, graph


def run_project(out_dir: str, x: np.ndarray, use_golden: bool = False, quiet: bool = False,
                simulator: str | None = None, stress: bool = False, waves: bool = False,
                hold_out_ready_low: int = 0) -> RunResult:
    report, graph = load_project(out_dir)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number):
        raise ModelError(f"input array has dtype {x.dtype}; expected numbers")
    hw_in = golden.quantize_inputs(graph, [x])
    out_name = graph.outputs[0]
    start = time.perf_counter()
    if use_golden:
        want = golden.run_codes(graph, hw_in)[0]
        got, simulator = np.array(want), "golden"
    elif report["backend"] == "hls":
        from . import csim

        # the simulation runs in its own processes while the golden model computes the expected codes
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(csim.run, out_dir, report["top"], hw_in[0], graph.tensor(out_name).shape, quiet)
            want = golden.run_codes(graph, hw_in)[0]
            got = pending.result()
        simulator = "csim-g++"
    elif report["backend"] == "rtl":
        from . import rtlsim

        simulator = simulator or "verilator"
        in_t, out_t = graph.tensor(graph.hw_inputs()[0]).type, graph.tensor(out_name).type
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(rtlsim.run, out_dir, report, hw_in[0], graph.tensor(out_name).shape,
                                  out_t.signed, in_t.width, out_t.width, simulator, stress, waves,
                                  hold_out_ready_low, 1, quiet)
            want = golden.run_codes(graph, hw_in)[0]
            cycle_run = pending.result()
        got = cycle_run.codes
    else:
        raise ModelError(f"no simulator for backend {report['backend']!r} yet")
    seconds = time.perf_counter() - start
    n = len(want)
    flat_got, flat_want = np.asarray(got).reshape(n, -1), np.asarray(want).reshape(n, -1)
    mismatches = int(np.sum(np.any(flat_got != flat_want, axis=1))) if got.shape == want.shape else n
    out_t = graph.tensor(out_name).type
    result = RunResult(out_t.to_float(got), got, want, n, mismatches, simulator, seconds)
    if report["backend"] == "rtl" and not use_golden:
        result.latency_cycles, result.ii_cycles = cycle_run.latency_cycles, cycle_run.ii_cycles
        result.latency_max = cycle_run.latency_max
    return result


def update_report(out_dir: str, key: str, value: dict) -> dict:
    """Set one section of OUT/report.json (`sim`, `synth`, `build`), keeping the rest."""
    path = os.path.join(out_dir, "report.json")
    with open(path) as f:
        report = json.load(f)
    report[key] = value
    with open(path, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
        f.write("\n")
    return report


def record(out_dir: str, result: RunResult) -> dict:
    """Store the measured figures in OUT/report.json (`sim`)."""
    return update_report(out_dir, "sim", {
        "simulator": result.simulator, "vectors": result.vectors, "mismatches": result.mismatches,
        "latency_cycles": result.latency_cycles, "ii_cycles": result.ii_cycles})
