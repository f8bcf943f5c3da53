"""The Python API (`edgecc.load`, `edgecc.compile`, `Project.run`): what the command line calls too."""
from __future__ import annotations

import json
import os

import numpy as np

from .boards import get_board
from .config import CompileConfig, load_config
from .errors import ModelError
from .ir.graph import Graph
from .ir.passes import run_passes

BACKENDS = ("hls", "rtl")


def _version() -> str:
    from . import __version__

    return __version__


def load(model, precision: str | None = None, config: str | CompileConfig | None = None, trace=None) -> Graph:
    """Read a model file (or onnx.ModelProto) and lower it to the quantized IR; `g.golden(x)` runs it."""
    from .frontend import read_model

    cfg = config if isinstance(config, CompileConfig) else load_config(config, precision)
    graph = read_model(model)
    if trace:
        trace("frontend", graph)
    run_passes(graph, cfg, trace)
    graph.meta["config"] = cfg.to_json()
    graph.config = cfg
    return graph


class Project:
    """A compiled output folder."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir

    def synth(self, quiet: bool = True) -> dict:
        """Yosys resources (and nextpnr Fmax on iCE40) of an RTL project, stored in report.json `synth`."""
        from .boards import get_board
        from .sim import synth, update_report

        result = synth.synthesize(self.out_dir, self.report, get_board(self.report["board"]), quiet)
        update_report(self.out_dir, "synth", result)
        return result

    @property
    def report(self) -> dict:
        with open(os.path.join(self.out_dir, "report.json")) as f:
            return json.load(f)

    def run(self, x: np.ndarray, golden: bool = False, record: bool = True, **options):
        """Run the design in its simulator on float inputs; returns exact float64 outputs (see `run_result`)."""
        return self.run_result(x, golden, record, **options).outputs

    def run_result(self, x: np.ndarray, golden: bool = False, record: bool = True, quiet: bool = True,
                   simulator: str | None = None, stress: bool = False, waves: bool = False,
                   hold_out_ready_low: int = 0):
        """Simulate; the result carries outputs, golden codes, mismatches and (RTL) measured latency and II."""
        from . import sim

        result = sim.run_project(self.out_dir, x, use_golden=golden, quiet=quiet, simulator=simulator,
                                 stress=stress, waves=waves, hold_out_ready_low=hold_out_ready_low)
        if record:
            sim.record(self.out_dir, result)
        return result


def compile(graph: Graph | str, backend: str = "hls", out: str = "out", board: str | None = None,
            clock_ns: float | None = None, latency_ns: float | None = None, latency_cycles: int | None = None,
            ii: int | None = None, precision: str | None = None, config: str | None = None) -> Project:
    """Schedule the graph for the board and targets, emit the backend's files into `out` (atomically)."""
    from .backends.common import atomic_output
    from .schedule import schedule_graph

    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r} (available: {', '.join(BACKENDS)})")
    if not isinstance(graph, Graph):
        graph = load(graph, precision=precision, config=config)
    cfg = graph.config or load_config(config, precision)
    board_def = get_board(board)
    sched = schedule_graph(graph, board_def, cfg, clock_ns, latency_ns, latency_cycles, ii, backend)
    with atomic_output(out) as tmp:
        if backend == "hls":
            from .backends import hls as emitter
        else:
            from .backends import rtl as emitter

        facts = emitter.emit(graph, sched, board_def, tmp, _version())
        with open(os.path.join(tmp, "model.ir.json"), "w", newline="\n") as f:
            f.write(graph.to_json() + "\n")
        report = {
            "edgecc_version": _version(),
            "model": graph.meta.get("source", graph.name),
            "backend": backend,
            "board": board_def.name,
            "part": board_def.part,
            "clock_ns": sched.clock_ns,
            "top": facts["top"],
            "family": board_def.family,
            "input_type": facts["input_type"],
            "output_type": facts["output_type"],
            "latency_cycles": sched.latency_cycles,
            "latency_ns": round(sched.latency_cycles * sched.clock_ns, 6),
            "ii_cycles": sched.ii_cycles,
            "resources": sched.resources,
            "budget": board_def.resources,
            "layers": [l.to_json() for l in sched.layers],
            "targets": {"latency_cycles": latency_cycles, "latency_ns": latency_ns, "ii": ii},
        }
        for key in ("rtl_files", "in_width", "out_width"):
            if key in facts:
                report[key] = facts[key]
        with open(os.path.join(tmp, "report.json"), "w", newline="\n") as f:
            json.dump(report, f, indent=2, sort_keys=True)
            f.write("\n")
    return Project(out)
