"""Runs what is in OUT (a backend's simulator, or the golden model) and compares it with the golden model bit for bit.

The simulators themselves live here (csim.py, rtlsim.py); which one an output folder needs is its backend's
business (`Backend.simulate`), so nothing here switches on a backend's name.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import MismatchError, ModelError
from ..ir import golden
from ..ir.graph import Graph
from ..ir.scales import values_of_codes
from ..ir.types import FixedType


@dataclass
class SimOutput:
    """What a simulator returns: output codes, and (cycle-accurate simulators) the timing it measured."""

    codes: np.ndarray
    simulator: str
    latency_cycles: int | None = None   # the smallest measured latency
    latency_max: int | None = None
    ii_cycles: int | None = None        # the smallest measured gap between two accepted inputs
    timing_checked: bool = False        # measured timing must equal the prediction (no stalls were forced)
    extra: dict | None = None           # other measured figures by report section, e.g. {"mcu": {...}}


@dataclass
class RunResult:
    codes: np.ndarray            # integer codes [N, *shape] (Python ints when the type is wider than int64)
    golden_codes: np.ndarray
    out_type: FixedType
    vectors: int
    mismatches: int              # vectors with any differing output
    simulator: str               # "golden" for a golden-model run
    seconds: float
    latency_cycles: int | None = None   # measured (cycle-accurate simulators)
    ii_cycles: int | None = None
    latency_max: int | None = None
    predicted_latency: int | None = None
    predicted_ii: int | None = None
    timing_checked: bool = False
    extra: dict | None = None
    out_scale: np.ndarray | None = None   # the output's scale factor beyond 2**-frac (ir/scales.py), if any

    @property
    def outputs(self) -> np.ndarray:
        """Exact float64 values of the output codes (a clear error where float64 cannot hold one exactly)."""
        return values_of_codes(self.out_type, self.out_scale, self.codes)

    @property
    def timing_ok(self) -> bool:
        if not self.timing_checked or self.latency_cycles is None:
            return True
        return (self.latency_cycles == self.latency_max == self.predicted_latency
                and self.ii_cycles == self.predicted_ii)

    def check(self) -> "RunResult":
        """Raise MismatchError unless every output equals the golden model's and measured timing the prediction."""
        if self.mismatches:
            raise MismatchError(f"{self.mismatches} of {self.vectors} vectors differ from the golden model "
                                f"({self.simulator})")
        if not self.timing_ok:
            raise MismatchError(f"measured latency {self.latency_cycles} (max {self.latency_max}) cycles, II "
                                f"{self.ii_cycles} differ from the predicted {self.predicted_latency}, "
                                f"{self.predicted_ii} ({self.simulator})")
        return self


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


Simulate = Callable[[dict, Graph, np.ndarray], SimOutput]


def run_project(out_dir: str, x: np.ndarray, simulate: Simulate | None) -> RunResult:
    """Quantize float inputs, run `simulate(report, graph, input codes)` (None: the golden model alone) while the
    golden model computes the expected codes, and compare every vector."""
    report, graph = load_project(out_dir)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number):
        raise ModelError(f"input array has dtype {x.dtype}; expected numbers")
    hw_in = golden.quantize_inputs(graph, [x])
    start = time.perf_counter()
    if simulate is None:
        want = golden.run_codes(graph, hw_in)[0]
        sim = SimOutput(np.array(want), "golden")
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:  # the simulator runs in its own processes meanwhile
            pending = pool.submit(simulate, report, graph, hw_in[0])
            want = golden.run_codes(graph, hw_in)[0]
            sim = pending.result()
    seconds = time.perf_counter() - start
    got = np.asarray(sim.codes)
    n = len(want)
    if got.shape == want.shape:
        mismatches = int(np.sum(np.any(got.reshape(n, -1) != want.reshape(n, -1), axis=1)))
    else:
        mismatches = n
    return RunResult(got, want, graph.tensor(graph.outputs[0]).type, n, mismatches, sim.simulator, seconds,
                     sim.latency_cycles, sim.ii_cycles, sim.latency_max, report.get("latency_cycles"),
                     report.get("ii_cycles"), sim.timing_checked, sim.extra, graph.tensor(graph.outputs[0]).scale)


def update_report(out_dir: str, key: str, value: dict) -> dict:
    """Set one section of OUT/report.json (`sim`, `golden`, `synth`, `build`), keeping the rest."""
    path = os.path.join(out_dir, "report.json")
    with open(path) as f:
        report = json.load(f)
    report[key] = value
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return report


def record(out_dir: str, result: RunResult) -> dict:
    """Store what a run measured in OUT/report.json: a simulation under `sim`, a golden-model run under `golden`
    (which simulated nothing, so it never stands in for a simulation's result)."""
    if result.simulator == "golden":
        return update_report(out_dir, "golden", {"vectors": result.vectors, "seconds": round(result.seconds, 3)})
    for key, figures in (result.extra or {}).items():
        update_report(out_dir, key, figures)
    return update_report(out_dir, "sim", {
        "simulator": result.simulator, "vectors": result.vectors, "mismatches": result.mismatches,
        "latency_cycles": result.latency_cycles, "latency_max": result.latency_max, "ii_cycles": result.ii_cycles,
        "timing_checked": result.timing_checked, "timing_ok": result.timing_ok})
