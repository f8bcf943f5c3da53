#!/usr/bin/env python3
"""The RTL cost model against Yosys: estimated LUT, FF, DSP and BRAM of every design a latency sweep picks, side by
side with what Yosys maps them to, on pynq-z2 (synth_xilinx) and icebreaker (synth_ice40 -dsp).

    .venv/bin/python benchmarks/cost_calibration.py              # what `make bench` runs
    .venv/bin/python benchmarks/cost_calibration.py --points 4 --designs mlp_a,cnn1d --boards icebreaker
    .venv/bin/python benchmarks/cost_calibration.py --report      # the table from cached results only, no Yosys

Designs: the example jet tagger (16-64-32-32-5, 8-bit), small suite MLPs (tests/models.py qonnx_mlp, 8- and 4-bit
weights) and a small whole-frame CNN (tests/models_cnn.py cnn1d). Each is swept (edgecc.sweep) over `--points`
latency targets per board; every point is compiled and synthesized (edgecc.Project.synth, no place and route).
Synthesis results are cached by a hash of the RTL files and the Yosys target under ~/.cache/edgecc-bench/
cost_calibration (EDGECC_BENCH_CACHE overrides), so a re-run synthesizes only designs it has not seen; a design
Yosys takes longer than `--timeout` seconds on is skipped, reported and remembered as such.

A resource is within tolerance when estimate / Yosys is within 15% of 1; where the Yosys count is small (under
SMALL[resource]: a few dozen LUTs or FFs, any DSP or BRAM count under 2) the absolute error is compared instead
(within SMALL_ABS[resource]) and the table marks it `abs`. Prints one table and a summary per family, writes JSON to
bench_out/cost_calibration.json. Exits 0 whenever the benchmark ran, whether or not the goal was met.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import time

from compare import timed, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))   # the suite's model builders

OUT = os.path.join(ROOT, "bench_out")
WORK = os.path.join(OUT, "cost_calibration")
CACHE = os.environ.get("EDGECC_BENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgecc-bench",
                                                             "cost_calibration")
BOARDS = ("pynq-z2", "icebreaker")
RESOURCES = ("lut", "ff", "dsp", "bram")
TOLERANCE = 0.15
SMALL = {"lut": 50, "ff": 50, "dsp": 2, "bram": 2}          # Yosys counts below this: compare absolute error
SMALL_ABS = {"lut": 8, "ff": 8, "dsp": 0, "bram": 0.5}      # ... within this many units


def log(msg: str) -> None:
    print(f"[cost_calibration {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def designs() -> dict:
    """name -> a function building the model (ONNX path or ModelProto)."""
    from models import qonnx_mlp
    from models_cnn import cnn1d

    return {
        "mlp_a": lambda: qonnx_mlp(sizes=(16, 16, 5), seed=1, w_bits=4, w_frac=3),       # 4-bit weights
        "mlp_b": lambda: qonnx_mlp(sizes=(8, 16, 8, 4), seed=2),                          # 8-bit, three layers
        "mlp_c": lambda: qonnx_mlp(sizes=(24, 12, 6), seed=3, w_bits=6, w_frac=4, in_bits=6, act_bits=6),
        "cnn1d": cnn1d,
        "jet": lambda: os.path.join(ROOT, "examples", "jet_tagging_mlp.onnx"),
    }


def rtl_hash(out_dir: str, report: dict, board) -> str:
    """What Yosys sees: the RTL files' bytes and the synthesis target."""
    h = hashlib.sha256(f"{board.family} {board.part} {board.resources.get('dsp')} {report['top']}".encode())
    for f in sorted(report["rtl_files"]):
        h.update(f.encode())
        with open(os.path.join(out_dir, f), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:24]


def synth_cached(out_dir: str, key: str, timeout: float) -> dict:
    """Yosys counts of one compiled design (no place and route), from the cache when seen before."""
    import edgecc

    path = os.path.join(CACHE, f"{key}.json")
    if os.path.isfile(path):
        with open(path) as f:
            cached = json.load(f)
        if "timeout" not in cached or cached["timeout"] >= timeout:
            return {**cached, "cached": True}
    try:
        result, seconds = timed(edgecc.Project(out_dir).synth, quiet=True, fmax=False, timeout=timeout)
        result = {**{k: result[k] for k in RESOURCES + ("carry", "cells", "logic_levels")}, "seconds": seconds}
    except subprocess.TimeoutExpired:
        result = {"timeout": timeout}
    os.makedirs(CACHE, exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f)
    return {**result, "cached": False}


def compile_points(name: str, model, board: str, points: int) -> list[dict]:
    """The sweep's feasible points, each compiled into WORK: its estimate, timing and layers."""
    import edgecc
    from edgecc.boards import get_board

    graph = edgecc.load(model)
    sweep = edgecc.sweep(graph, backend="rtl", board=board, points=points)
    b = get_board(board)
    rows, seen = [], set()
    for r in sweep["points"]:
        if "error" in r:
            log(f"{name} {board} target {r['target_cycles']}: {r['error']}")
            continue
        out = os.path.join(WORK, f"{name}-{board}-{r['target_cycles']}")
        project = edgecc.compile(graph, backend="rtl", board=board, latency_cycles=r["target_cycles"], out=out)
        report = project.report
        key = rtl_hash(out, report, b)
        if key in seen:   # the same design as a looser target's: synthesized once, listed once
            continue
        seen.add(key)
        rows.append({"design": name, "board": board, "family": b.family, "target": r["target_cycles"],
                     "latency": report["latency_cycles"], "ii": report["ii_cycles"],
                     "composition": report["composition"], "estimate": dict(report["resources"]),
                     "layers": [f"{l['name']}:{l['microarch']}{'' if l['folding'] in (None, '', 1) else '/' + str(l['folding'])}"
                                for l in report["layers"] if l["microarch"] not in ("fused", "wiring")],
                     "out": out, "key": key})
    return rows


def judge(resource: str, est, got) -> dict:
    """Estimate against Yosys: the ratio, or (small counts) the absolute error; within tolerance or not."""
    if got is None:
        return {"ok": None}
    if got < SMALL[resource]:
        return {"mode": "abs", "error": est - got, "ok": abs(est - got) <= SMALL_ABS[resource]}
    ratio = est / got
    return {"mode": "ratio", "ratio": ratio, "ok": abs(ratio - 1) <= TOLERANCE}


def cell(resource: str, row: dict) -> str:
    est, got = row["estimate"].get(resource, 0), row["yosys"].get(resource)
    if got is None:
        return f"{est:g}/-"
    j = row["judged"][resource]
    mark = "" if j["ok"] else "*"
    if j["mode"] == "abs":
        return f"{est:g}/{got:g} abs{j['error']:+g}{mark}"
    return f"{est:g}/{got:g} {j['ratio']:.2f}{mark}"


def table(rows: list[dict]) -> str:
    head = ["design", "board", "target", "lat", "II", "comp"] + [f"{r.upper()} est/yosys" for r in RESOURCES]
    body = []
    for r in rows:
        if "yosys" not in r:
            body.append([r["design"], r["board"], str(r["target"]), str(r["latency"]), str(r["ii"]),
                         r["composition"][:4], f"skipped: {r.get('skipped', '?')}", "", "", ""])
            continue
        body.append([r["design"], r["board"], str(r["target"]), str(r["latency"]), str(r["ii"]),
                     r["composition"][:4]] + [cell(k, r) for k in RESOURCES])
    widths = [max(len(c[i]) for c in [head] + body) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(rows: list[dict]) -> tuple[str, dict]:
    out, data = [], {}
    for family in sorted({r["family"] for r in rows}):
        done = [r for r in rows if r["family"] == family and "yosys" in r]
        parts, fam = [], {}
        for res in RESOURCES:
            judged = [(r, r["judged"][res]) for r in done]
            ok = sum(1 for _, j in judged if j["ok"])
            ratios = [(j["ratio"], r) for r, j in judged if j.get("mode") == "ratio"]
            worst = max(ratios, key=lambda x: abs(x[0] - 1), default=None)
            fam[res] = {"within": ok, "of": len(judged), "worst_ratio": worst[0] if worst else None,
                        "worst_at": f"{worst[1]['design']}@{worst[1]['target']}" if worst else None}
            parts.append(f"{res.upper()} {ok}/{len(judged)}" +
                         (f" (worst {worst[0]:.2f} {worst[1]['design']}@{worst[1]['target']})" if worst else ""))
        skipped = sum(1 for r in rows if r["family"] == family and "yosys" not in r)
        out.append(f"{family}: within 15%: " + ", ".join(parts) + (f"; {skipped} skipped" if skipped else ""))
        data[family] = fam
    return "\n".join(out), data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=8, help="latency targets per design and board")
    ap.add_argument("--designs", default=",".join(designs()), help="comma-separated: " + ", ".join(designs()))
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds of Yosys per design before it is skipped")
    ap.add_argument("--jobs", type=int, default=2, help="Yosys runs at once")
    ap.add_argument("--report", action="store_true", help="cached results only: synthesize nothing")
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    build = designs()
    rows = []
    for name in a.designs.split(","):
        for board in a.boards.split(","):
            found, seconds = timed(compile_points, name, build[name](), board, a.points)
            log(f"{name} {board}: {len(found)} distinct designs ({seconds:.0f} s to sweep and compile)")
            rows += found

    def run(row):
        if a.report:
            path = os.path.join(CACHE, f"{row['key']}.json")
            return json.load(open(path)) if os.path.isfile(path) else {"timeout": None}
        return synth_cached(row["out"], row["key"], a.timeout)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futures = {pool.submit(run, r): r for r in rows}
        for fut in concurrent.futures.as_completed(futures):
            row, result = futures[fut], fut.result()
            if "timeout" in result:
                row["skipped"] = "not synthesized" if result["timeout"] is None else \
                    f"Yosys > {result['timeout']:.0f} s"
            else:
                row["yosys"] = {k: result[k] for k in RESOURCES}
                row["synth_seconds"] = result.get("seconds")
                row["judged"] = {k: judge(k, row["estimate"].get(k, 0), result[k]) for k in RESOURCES}
            log(f"{row['design']} {row['board']} target {row['target']}: " +
                (row.get("skipped") or f"{row['yosys']} (est {row['estimate']})"
                 + (" cached" if result.get("cached") else f" {result.get('seconds', 0):.0f} s")))
    rows.sort(key=lambda r: (r["design"], r["board"], r["target"]))
    print(table(rows))
    text, data = summary(rows)
    print()
    print(text)
    print("(* outside tolerance; `abs`: Yosys count small, absolute error shown: "
          + ", ".join(f"{k.upper()} < {SMALL[k]} within {SMALL_ABS[k]:g}" for k in RESOURCES) + ")")
    for r in rows:
        r.pop("out", None)
    write_json(os.path.join(OUT, "cost_calibration.json"), {"rows": rows, "summary": data,
                                                              "tolerance": TOLERANCE}, ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
