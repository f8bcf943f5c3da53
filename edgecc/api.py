"""The Python API (`edgecc.load`, `edgecc.compile`, `Project.run`): what the command line calls too."""
from __future__ import annotations

import json
import os

import numpy as np

from .backends import get_backend
from .boards import get_board
from .config import CompileConfig, load_config
from .errors import ModelError
from .ir.graph import Graph
from .ir.passes import run_passes


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

    @property
    def report(self) -> dict:
        with open(os.path.join(self.out_dir, "report.json")) as f:
            return json.load(f)

    def synth(self, quiet: bool = True, fmax: bool = True, timeout: float | None = None) -> dict:
        """Yosys resources (and, with `fmax`, nextpnr Fmax on iCE40 and ECP5) of an RTL project, stored in report.json
        `synth`; block RAM in the board's unit (RAMB36 tiles on Xilinx, a RAMB18 half of one). Yosys running
        longer than `timeout` seconds raises subprocess.TimeoutExpired."""
        from .sim import synth, update_report

        report = self.report
        result = synth.synthesize(self.out_dir, report, get_board(report.get("board_file") or report["board"]),
                                  quiet, fmax, timeout)
        update_report(self.out_dir, "synth", result)
        return result

    def run(self, x: np.ndarray, golden: bool = False, **options) -> np.ndarray:
        """Run the design in its simulator on float inputs [N, *shape] and return its exact float64 outputs.

        Raises MismatchError if any output differs from the golden model's (or, on a cycle-accurate simulator,
        if the measured latency or II differs from the prediction); report.json records the run either way."""
        return self.run_result(x, golden, **options).check().outputs

    def run_result(self, x: np.ndarray, golden: bool = False, record: bool = True, quiet: bool = True,
                   **options):
        """Simulate without raising: the sim.RunResult carries the codes, the golden codes, the mismatch count and
        measured timing (call its `check()` to raise on a mismatch). `options` are the backend's run options
        (`Backend.run_options`); one the backend does not take is an error."""
        from . import sim

        report, _ = sim.load_project(self.out_dir)
        backend = get_backend(report["backend"])
        if golden:
            given = sorted(k for k, v in options.items() if v not in (None, False, 0))
            if given:
                raise ModelError(f"a golden-model run simulates nothing; --{given[0].replace('_', '-')} does not "
                                 "apply")
            simulate = None
        else:
            backend.check_run_options(options)

            def simulate(rep, graph, codes):
                return backend.simulate(self.out_dir, rep, graph, codes, options, quiet)
        result = sim.run_project(self.out_dir, x, simulate)
        if record:
            sim.record(self.out_dir, result)
        return result


def sweep(graph: Graph | str, backend: str = "rtl", board: str | None = None, points: int = 12,
          clock_ns: float | None = None, out: str | None = None, simulate: int = 0, quiet: bool = True,
          **options) -> dict:
    """Schedule the graph for latency targets from the fastest design that fits the board to the most folded one
    (`points` targets, geometrically spaced); returns {"points": [...], "pareto": [...], ...} and, with `out`,
    writes sweep.json and sweep.png there. With `simulate` N, every point is also compiled and simulated on N
    vectors (its row's `measured`: latency, II, mismatches against the golden model)."""
    from .schedule.sweep import run_sweep, write_sweep

    be = get_backend(backend)
    settings = be.compile_settings(options)
    if not isinstance(graph, Graph):
        graph = load(graph)
    board_def = get_board(board or be.default_board)
    be.check_board(board_def)
    be.check_graph(graph)
    result = run_sweep(graph, be.cost_model, board_def, graph.config or CompileConfig(), points, clock_ns, settings)
    result.update(model=graph.meta.get("source", graph.name), backend=be.name)
    if simulate:
        _simulate_sweep(graph, be.name, board_def.name if board is None else board, clock_ns, result, simulate,
                        settings, quiet)
    if out is not None:
        write_sweep(result, out)
    return result


def _simulate_sweep(graph, backend, board, clock_ns, result, vectors, settings, quiet) -> None:
    """Compile every swept point and simulate it (Verilator for RTL, C simulation for HLS, the host for C) on
    `vectors` inputs over the input type's whole range: each row gets `measured` (latency, II, mismatches)."""
    import sys
    import tempfile

    t = graph.tensor(graph.hw_inputs()[0])
    rng = np.random.default_rng(0)
    codes = rng.integers(t.type.min_int, t.type.max_int, size=(vectors,) + tuple(t.shape), endpoint=True)
    codes[0], codes[-1] = t.type.min_int, t.type.max_int
    x = codes.astype(np.float64) * 2.0 ** -t.type.frac
    if t.scale is not None:   # a non-power-of-two input scale: real values on its grid
        x = x * np.broadcast_to(np.vectorize(float)(t.scale), x.shape[1:])
    rows = [r for r in result["points"] if "error" not in r]
    with tempfile.TemporaryDirectory(prefix="edgecc-sweep-") as work:
        for i, row in enumerate(rows):
            if not quiet:
                print(f"edgecc: sweep point {i + 1}/{len(rows)}: latency target {row['target_cycles']} cycles, "
                      "compiling and simulating ...", file=sys.stderr, flush=True)
            project = compile(graph, backend=backend, out=os.path.join(work, f"p{i}"), board=board,
                              clock_ns=clock_ns, latency_cycles=row["target_cycles"], **settings)
            run = project.run_result(x, record=False)
            row["measured"] = {"simulator": run.simulator, "vectors": run.vectors, "mismatches": run.mismatches,
                               "latency_cycles": run.latency_cycles, "ii_cycles": run.ii_cycles}


def compile(graph: Graph | str, backend: str = "hls", out: str = "out", board: str | None = None,
            clock_ns: float | None = None, latency_ns: float | None = None, latency_cycles: int | None = None,
            ii: int | None = None, precision: str | None = None, config: str | None = None,
            **options) -> Project:
    """Schedule the graph for the board and targets, emit the backend's files into `out` (atomically).

    `options` are the backend's own compile options (the C backend's pack_weights="auto"|"on"|"off"); one the
    backend does not take is refused.

    `graph` is a loaded Graph or a model file; `precision` and `config` lower a model file, so with a Graph they
    are refused (pass them to `edgecc.load`). The graph is not changed."""
    from .backends.common import atomic_output
    from .schedule import Targets, schedule_graph

    be = get_backend(backend)
    settings = be.compile_settings(options)
    if isinstance(graph, Graph):
        if precision is not None or config is not None:
            raise ModelError("precision and config apply when a model is lowered: pass them to edgecc.load(), or "
                             "pass the model file to edgecc.compile()")
    else:
        graph = load(graph, precision=precision, config=config)
    board_def = get_board(board or be.default_board)
    be.check_board(board_def)
    be.check_graph(graph)
    targets = Targets(clock_ns, latency_ns, latency_cycles, ii)
    sched = schedule_graph(graph, be.cost_model, board_def, graph.config or CompileConfig(), targets, settings)
    with atomic_output(out) as tmp:
        facts = be.emit(graph, sched, board_def, tmp, _version())
        with open(os.path.join(tmp, "model.ir.json"), "w", newline="\n") as f:
            f.write(graph.to_json() + "\n")
        with open(os.path.join(tmp, "schedule.json"), "w", newline="\n") as f:
            json.dump(sched.to_json(), f, indent=1, sort_keys=True)
            f.write("\n")
        report = {
            "edgecc_version": _version(),
            "model": graph.meta.get("source", graph.name),
            "backend": be.name,
            "board": board_def.name,
            "part": board_def.part,
            "family": board_def.family,
            "clock_ns": sched.clock_ns,
            "latency_cycles": sched.latency_cycles,
            "latency_ns": round(sched.latency_cycles * sched.clock_ns, 6),
            "ii_cycles": sched.ii_cycles,
            "composition": sched.composition,
            "resources": dict(sched.resources),
            "budget": board_def.resources,
            "layers": [l.to_json() for l in sched.layers],
            "schedule": {"solver": sched.solver, "objective": sched.objective, "cost": sched.cost},
            "targets": {"latency_cycles": latency_cycles, "latency_ns": latency_ns, "ii": ii},
            "options": settings,
            **({"calibration": graph.meta["calibration"]} if "calibration" in graph.meta else {}),
            **facts,
        }
        if board is not None and board_def.name != board:  # a user's board file: synth and build read it again
            report["board_file"] = os.path.abspath(os.fspath(board))
        with open(os.path.join(tmp, "report.json"), "w", newline="\n") as f:
            json.dump(report, f, indent=2, sort_keys=True)
            f.write("\n")
    return Project(out)
