#!/usr/bin/env python3
"""Scheduling for latency targets, measured: sweeps from the fastest design that fits a board to the most folded
one, every point compiled to RTL and simulated in Verilator; the jet tagger built for the iCE40 UP5K and checked
by Yosys and nextpnr; the default pynq-z2 compile checked against the board by Yosys's count.

    .venv/bin/python benchmarks/schedule_sweep.py              # what `make bench` runs
    .venv/bin/python benchmarks/schedule_sweep.py --quick      # the jet tagger only, fewer vectors

1. The jet tagger (examples/jet_tagging_mlp.onnx) swept on pynq-z2 and icebreaker (12 latency targets each,
   100 vectors per point): per point the schedule's latency, II, cost and resources, and Verilator's measured
   latency and II and mismatches; the Pareto curve as bench_out/schedule_sweep/jet_<board>.png.
2. Every MLP of the test suite (tests/suite.py, whole-vector models) swept on pynq-z2 (8 targets, 20 vectors per
   point): one row per model (points, all measured = predicted, all within target, cost never rising, mismatches).
3. The jet tagger's default compile (no target: the fastest design that fits) for icebreaker: 1000 vectors on
   Verilator, Yosys synth_ice40 -dsp counts against the board, nextpnr-ice40 place and route at the board's clock
   (Fmax); and for pynq-z2: Yosys synth_xilinx counts against the board.
Writes bench_out/schedule_sweep.json. Exits 0 whenever the benchmark ran.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench_out", "schedule_sweep")
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compare import write_json  # noqa: E402

import edgecc  # noqa: E402
from edgecc.schedule.sweep import plot, table  # noqa: E402

JET = os.path.join(ROOT, "examples", "jet_tagging_mlp.onnx")


def jet_sweeps(boards, points, vectors) -> dict:
    graph = edgecc.load(JET)
    out = {}
    for board in boards:
        t0 = time.perf_counter()
        result = edgecc.sweep(graph, backend="rtl", board=board, points=points, simulate=vectors, quiet=False)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        plot(result, os.path.join(OUT, f"jet_{board}.png"))
        rows = [r for r in result["points"] if "error" not in r]
        result["all_exact"] = all(r["measured"]["mismatches"] == 0 for r in rows)
        result["all_as_predicted"] = all((r["measured"]["latency_cycles"], r["measured"]["ii_cycles"])
                                         == (r["latency_cycles"], r["ii_cycles"]) for r in rows)
        result["all_within_target"] = all(r["latency_cycles"] <= r["target_cycles"] for r in rows)
        print(f"\n== jet tagger on {board}: {len(rows)} points, Pareto front {len(result['pareto'])}, cost "
              f"monotone: {result['cost_monotone']}, measured = predicted: {result['all_as_predicted']}, exact: "
              f"{result['all_exact']} ({result['seconds']} s)")
        print(table(result))
        out[board] = result
    return out


def suite_sweeps(points, vectors) -> list[dict]:
    from suite import cases

    rows = []
    for name, case in cases().items():
        if case.loader is not None or "cnn" in name or case.compile.get("io_type"):
            continue
        graph = case.graph()
        board = case.compile.get("board", "pynq-z2")
        t0 = time.perf_counter()
        try:
            result = edgecc.sweep(graph, backend="rtl", board=board, points=points, simulate=vectors)
        except edgecc.EdgeccError as e:
            rows.append({"model": name, "board": board, "error": str(e)})
            print(f"{name:<28} {board:<10} error: {e}")
            continue
        ok = [r for r in result["points"] if "error" not in r]
        row = {"model": name, "board": board, "points": len(ok),
               "measured_as_predicted": all((r["measured"]["latency_cycles"], r["measured"]["ii_cycles"])
                                            == (r["latency_cycles"], r["ii_cycles"]) for r in ok),
               "within_target": all(r["latency_cycles"] <= r["target_cycles"] for r in ok),
               "cost_monotone": result["cost_monotone"],
               "mismatches": sum(r["measured"]["mismatches"] for r in ok),
               "latency_range": [ok[0]["latency_cycles"], ok[-1]["latency_cycles"]] if ok else None,
               "cost_range": [ok[0]["cost"], ok[-1]["cost"]] if ok else None,
               "microarchs": sorted({l["microarch"] for r in ok for l in r["layers"]}),
               "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(f"{name:<28} {board:<10} {row['points']:>3} points  latency {row['latency_range']}  cost "
              f"{row['cost_range']}  measured=predicted {row['measured_as_predicted']}  within target "
              f"{row['within_target']}  monotone {row['cost_monotone']}  mismatches {row['mismatches']}  "
              f"{','.join(row['microarchs'])}")
    return rows


def default_builds(vectors: int) -> dict:
    """The jet tagger with no target on icebreaker and pynq-z2: simulated, synthesized, placed and routed."""
    from edgecc.boards import get_board

    graph = edgecc.load(JET)
    out = {}
    with tempfile.TemporaryDirectory(prefix="edgecc-bench-") as work:
        for board in ("icebreaker", "pynq-z2"):
            project = edgecc.compile(graph, backend="rtl", board=board, out=os.path.join(work, board))
            report = project.report
            t = graph.tensor(graph.hw_inputs()[0]).type
            rng = np.random.default_rng(1)
            x = rng.integers(t.min_int, t.max_int, size=(vectors, 16), endpoint=True) * 2.0 ** -t.frac
            run = project.run_result(x, simulator="verilator")
            t0 = time.perf_counter()
            synth = project.synth(quiet=False)
            budget = get_board(board).resources
            fits = all(synth[k] <= budget[k] for k in ("lut", "ff", "dsp", "bram") if budget.get(k))
            row = {"board": board, "latency_cycles": report["latency_cycles"], "ii_cycles": report["ii_cycles"],
                   "clock_ns": report["clock_ns"], "schedule": report["schedule"],
                   "estimate": report["resources"], "yosys": {k: synth[k] for k in ("lut", "ff", "dsp", "bram")},
                   "budget": budget, "fits_by_yosys": fits, "fmax_mhz": synth.get("fmax_mhz"),
                   "synth_seconds": round(time.perf_counter() - t0, 1),
                   "sim": {"vectors": run.vectors, "mismatches": run.mismatches,
                           "latency_cycles": run.latency_cycles, "ii_cycles": run.ii_cycles},
                   "layers": [{k: l[k] for k in ("name", "microarch", "folding", "latency_cycles", "ii_cycles")}
                              for l in report["layers"] if l["microarch"] not in ("fused", "wiring")]}
            out[board] = row
            print(f"\n== jet tagger, default compile for {board}: latency {row['latency_cycles']} cycles, II "
                  f"{row['ii_cycles']} at {row['clock_ns']:g} ns; Verilator {run.vectors} vectors, "
                  f"{run.mismatches} mismatches, measured {run.latency_cycles}/{run.ii_cycles}")
            for l in row["layers"]:
                print(f"   {l['name']:<8} {l['microarch']:<12} {l['folding']:<32} lat {l['latency_cycles']:>6} "
                      f"II {l['ii_cycles']:>6}")
            print(f"   {'':<8} {'estimate':>10} {'Yosys':>10} {'board':>10}")
            for k in ("lut", "ff", "dsp", "bram"):
                print(f"   {k.upper():<8} {row['estimate'][k]:>10} {row['yosys'][k]:>10} {budget.get(k, '-'):>10}")
            print(f"   fits by Yosys's count: {fits}" + (f"; nextpnr Fmax {row['fmax_mhz']} MHz (board clock "
                                                        f"{1000 / row['clock_ns']:g} MHz)" if row["fmax_mhz"] else ""))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the jet tagger's sweeps only, 20 vectors per point")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    result = {"jet_sweeps": jet_sweeps(("pynq-z2", "icebreaker"), 12, 20 if a.quick else 100)}
    if not a.quick:
        print("\n== every suite MLP swept on its board (8 targets, 20 vectors per point)")
        result["suite_sweeps"] = suite_sweeps(8, 20)
        result["default_builds"] = default_builds(1000)
    write_json(os.path.join(ROOT, "bench_out", "schedule_sweep.json"), result, ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
