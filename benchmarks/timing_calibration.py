#!/usr/bin/env python3
"""The RTL timing model against nextpnr: predicted Fmax vs placed-and-routed Fmax on iCE40 (HX8K) and ECP5 (ULX3S).

    .venv/bin/python benchmarks/timing_calibration.py            # what `make bench` runs
    .venv/bin/python benchmarks/timing_calibration.py --fit      # also fit the model's coefficients per family
    .venv/bin/python benchmarks/timing_calibration.py --jobs 1 --families ecp5

Small MLPs with the bundled jet tagger's structure (QONNX, 8-bit ReLU activations) are compiled to RTL at clock
targets that put 1 to 8 adder levels between registers (edgecc.schedule.timing: levels_per_stage), and a folded
jet tagger (reuse_mac) on ECP5. Each design is wrapped in edgecc synth's serial wrapper, synthesized by Yosys and
placed and routed by nextpnr (the yowasp wheels), which reports the achieved Fmax. The model predicts Fmax from the
design's deepest register-to-register path (report.json `critical_path`: adder levels and their width):
    period = path_intercept_ns + levels * ns_per_adder_level + width * ns_per_carry_bit.
Prints one table (design, family, levels, width, predicted and nextpnr Fmax, their ratio) and writes it as JSON to
bench_out/timing_calibration.json. With --fit, the least-squares coefficients per family (to put into
edgecc/schedule/timing.py) and the table they would give. Exits 0 whenever the sweep ran.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import tempfile
import time

import numpy as np

from compare import load_example, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench_out")
sys.path.insert(0, ROOT)

BOARDS = {"ice40": "ice40-hx8k", "ecp5": "ulx3s"}
# these designs' adder graphs are 6 levels deep (7 with the rounding): 6 levels per stage and more is one design
LEVELS = (1, 2, 3, 6)
# name: (layer sizes, weight bits, ii target or None, families). Larger ones take minutes each to place: the
# 12-8-4 MLP 85 s on the HX8K; the jet tagger folded to II 16 did not route on the ECP5 within the 120 s guard.
DESIGNS = {
    "mlp-6-4-3": ((6, 4, 3), 8, None, ("ice40", "ecp5")),
    "mlp-16-8-5-w4": ((16, 8, 5), 4, None, ("ice40", "ecp5")),
    "mlp-12-8-4": ((12, 8, 4), 8, None, ("ice40", "ecp5")),
    "jet-folded-ii16": ((16, 64, 32, 32, 5), 8, 16, ("ecp5",)),
}
DEFAULT_DESIGNS = ("mlp-6-4-3", "mlp-16-8-5-w4")


def build_model(sizes, w_bits: int):
    """The jet tagger's QONNX structure (examples/jet_tagging_mlp.py) at other layer sizes."""
    jet = load_example("jet_tagging_mlp")
    jet.SIZES = tuple(sizes)   # build() reads the module's SIZES
    return jet.build(seed=0, w_bits=w_bits)


def clock_for(timing, levels: int) -> float:
    """A clock period at which the scheduler puts `levels` adder levels between registers."""
    return round(timing.path_ns(levels) + 0.01, 3)


def run_one(design: str, family: str, levels: int, work: str) -> dict:
    import edgecc
    from edgecc.boards import get_board
    from edgecc.schedule.timing import family_timing
    from edgecc.sim.synth import place_and_route

    sizes, w_bits, ii, _ = DESIGNS[design]
    board = get_board(BOARDS[family])
    clock_ns = clock_for(family_timing(family), levels)
    out = os.path.join(work, f"{design}-{family}-L{levels}")
    start = time.perf_counter()
    project = edgecc.compile(edgecc.load(build_model(sizes, w_bits)), backend="rtl", board=board.name, out=out,
                             clock_ns=clock_ns, ii=ii)
    r = project.report
    files = [os.path.join(out, f) for f in r["rtl_files"]]
    pnr_dir = os.path.join(out, "pnr")
    os.makedirs(pnr_dir)
    pnr = place_and_route(pnr_dir, files, r["top"], r, board) or {}
    path = r["critical_path"]
    measured = pnr.get("fmax_mhz")
    return {"design": design, "family": family, "board": board.name, "clock_ns": clock_ns,
            "levels_per_stage": levels, "latency_cycles": r["latency_cycles"], "ii_cycles": r["ii_cycles"],
            "unit": path["unit"], "levels": path["levels"], "width": path["width"],
            "predicted_fmax_mhz": r["predicted_fmax_mhz"], "nextpnr_fmax_mhz": measured,
            "ratio": round(r["predicted_fmax_mhz"] / measured, 3) if measured else None,
            "seconds": round(time.perf_counter() - start, 1)}


def fit(rows: list[dict]) -> dict:
    """Least squares of the measured period on (1, levels, width), per family; coefficients kept non-negative."""
    coefficients = {}
    for family in sorted({r["family"] for r in rows}):
        data = [r for r in rows if r["family"] == family and r["nextpnr_fmax_mhz"]]
        if len(data) < 3:
            continue
        a = np.array([[1.0, r["levels"], r["width"]] for r in data])
        y = np.array([1000.0 / r["nextpnr_fmax_mhz"] for r in data])
        # relative error matters (the ratio): weight each row by 1 / its period
        w = 1.0 / y
        sol, *_ = np.linalg.lstsq(a * w[:, None], y * w, rcond=None)
        # one width throughout: it cannot be told from the intercept; or width does not explain it: fit without
        if len({r["width"] for r in data}) == 1 or sol[2] < 0:
            sol2, *_ = np.linalg.lstsq(a[:, :2] * w[:, None], y * w, rcond=None)
            sol = np.array([sol2[0], sol2[1], 0.0])
        coefficients[family] = {"path_intercept_ns": round(float(sol[0]), 3),
                                "ns_per_adder_level": round(float(sol[1]), 3),
                                "ns_per_carry_bit": round(float(sol[2]), 4)}
    return coefficients


def table(rows: list[dict]) -> str:
    head = f"{'design':<18} {'family':<6} {'L/stage':>7} {'levels':>6} {'width':>5} {'predicted':>9} " \
           f"{'nextpnr':>8} {'ratio':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        measured = f"{r['nextpnr_fmax_mhz']:.1f}" if r["nextpnr_fmax_mhz"] else "-"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] else "-"
        lines.append(f"{r['design']:<18} {r['family']:<6} {r['levels_per_stage']:>7} {r['levels']:>6} "
                     f"{r['width']:>5} {r['predicted_fmax_mhz']:>9.1f} {measured:>8} {ratio:>6}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="+", default=list(BOARDS), choices=list(BOARDS))
    ap.add_argument("--designs", nargs="+", default=list(DEFAULT_DESIGNS), choices=list(DESIGNS))
    ap.add_argument("--levels", nargs="+", type=int, default=list(LEVELS))
    ap.add_argument("--jobs", type=int, default=2, help="place-and-route runs at once (default 2)")
    ap.add_argument("--fit", action="store_true", help="fit the model's coefficients to the measurements")
    a = ap.parse_args(argv)
    from edgecc.sim.synth import nextpnr_command

    missing = [f for f in a.families if nextpnr_command(f) is None]
    if missing:
        print(f"nextpnr for {', '.join(missing)} is not installed (pip install yowasp-nextpnr-{missing[0]})")
        return 1
    # a folded design's path does not depend on the clock: one run of it
    jobs = [(d, f, lv) for f in a.families for d in a.designs if f in DESIGNS[d][3]
            for lv in (a.levels if DESIGNS[d][2] is None else a.levels[:1])]
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgecc-timing-") as work, \
            concurrent.futures.ProcessPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(run_one, d, f, lv, work) for d, f, lv in jobs]
        for fut in futures:
            row = fut.result()
            rows.append(row)
            print(f"  {row['design']} {row['family']} L={row['levels_per_stage']}: {row['nextpnr_fmax_mhz']} MHz "
                  f"({row['seconds']} s)", flush=True)
    # one row per distinct path: a clock that allows more levels than a design has gives the same design again
    seen, unique = set(), []
    for r in rows:
        key = (r["design"], r["family"], r["levels"], r["width"], r["unit"], r["latency_cycles"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    print(table(unique))
    ratios = [r["ratio"] for r in unique if r["ratio"]]
    within = sum(1 for q in ratios if 0.8 <= q <= 1.2)
    print(f"{within} of {len(ratios)} designs within 20% (ratio = predicted / nextpnr); "
          f"{time.perf_counter() - start:.0f} s")
    result = {"rows": unique, "within_20_percent": within, "designs": len(ratios)}
    if a.fit:
        from edgecc.schedule.timing import family_timing

        coefficients = fit(unique)
        result["fit"] = coefficients
        for family, c in coefficients.items():
            print(f"fit {family}: {c}")
            from dataclasses import replace
            model = replace(family_timing(family), **c)
            for r in unique:
                if r["family"] == family and r["nextpnr_fmax_mhz"]:
                    q = model.predicted_fmax_mhz(r["levels"], r["width"]) / r["nextpnr_fmax_mhz"]
                    print(f"  {r['design']:<18} levels {r['levels']:>2} width {r['width']:>3}: ratio {q:.2f}")
    os.makedirs(OUT, exist_ok=True)
    write_json(os.path.join(OUT, "timing_calibration.json"), result, ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
