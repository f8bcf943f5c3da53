#!/usr/bin/env python3
"""Scale: the MLPerf Tiny image-classification ResNet-8 topology (32x32x3, 16/32/64 filters, random QONNX 8-bit
weights; tests/models_cnn.py) on every backend.

    .venv/bin/python benchmarks/resnet8.py                 # what `make bench` runs (about 40 minutes on 2 cores)
    .venv/bin/python benchmarks/resnet8.py --skip rtl      # leave out a backend (hls, c, qemu, rtl, synth)
    .venv/bin/python benchmarks/resnet8.py -n 3            # fewer images

Per backend: seconds to a written project, simulation on N images (10 by default) with mismatches against the
golden model, and what the simulator measured: HLS C simulation in both I/O styles; C on the host and on a
Cortex-M4 under qemu (instructions per image, flash, arena); streaming RTL on Verilator with one multiplier per
output channel in every convolution (reuse factor = window size; latency and II measured against the prediction),
and its Yosys synth_xilinx resources. The golden model itself is checked against qonnx's execute_onnx on the same
images (within one output step: the final softmax is the IR's integer algorithm; exact without it).
Prints one table and writes bench_out/resnet8.json. Exits 0 whenever the benchmark ran.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench_out", "resnet8")
STEPS = ("hls", "c", "qemu", "rtl", "synth")



def rtl_config(graph):
    """One multiplier per output channel in every Conv (the reuse factor is the window's size), the Dense by 16."""
    from edgecc.config import CompileConfig, LayerConfig
    from edgecc.schedule.rtl import dense_matrix

    layers = {}
    for n in graph.nodes:
        if n.op == "Conv":
            layers[n.name] = LayerConfig(reuse_factor=int(dense_matrix(graph, n)[0].shape[0]))
        elif n.op == "Dense":
            layers[n.name] = LayerConfig(reuse_factor=16)
    return CompileConfig(layers=layers)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10, help="images per simulator (default 10)")
    ap.add_argument("--skip", action="append", default=[], choices=STEPS, help="leave out a step")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import edgecc
    from helpers import probe_inputs
    from models_cnn import resnet8
    from references import qonnx_reference

    from compare import fmt, timed

    model = resnet8()
    graph, load_s = timed(edgecc.load, model)
    x = probe_inputs(graph, args.n, seed=1)
    params = sum(int(np.prod(t.shape)) for t in graph.tensors.values() if t.data is not None)
    rows = []

    def row(step, compile_s=None, sim_s=None, result=None, **measured):
        mism = None if result is None else f"{result.mismatches} of {result.vectors}"
        rows.append({"step": step, "compile_s": compile_s, "sim_s": sim_s, "mismatches": mism, **measured})
        print(f"  {step}: compile {fmt(compile_s)} s, simulation {fmt(sim_s)} s, mismatches {mism}, "
              f"{ {k: v for k, v in measured.items()} }", flush=True)

    golden, golden_s = timed(graph.golden, x)
    ref, ref_s = timed(qonnx_reference, model, x)
    diff = np.abs(golden.astype(np.int64) - ref.astype(np.int64))
    rows.append({"step": "golden vs qonnx execute_onnx", "compile_s": load_s, "sim_s": golden_s,
                 "mismatches": f"{int(np.any(diff, axis=1).sum())} of {len(x)}",
                 "max_step_difference": int(diff.max()), "qonnx_s": round(ref_s, 1)})

    if "hls" not in args.skip:
        for io_type in ("parallel", "stream"):
            p, c_s = timed(edgecc.compile, graph, backend="hls", out=os.path.join(OUT, f"hls_{io_type}"),
                           io_type=io_type)
            r, s_s = timed(p.run_result, x)
            row(f"HLS C simulation, io_{io_type}", c_s, s_s, r, latency_estimate=p.report["latency_cycles"])
    if "c" not in args.skip:
        p, c_s = timed(edgecc.compile, graph, backend="c", out=os.path.join(OUT, "c_host"))
        r, s_s = timed(p.run_result, x)
        row("C on the host (gcc)", c_s, s_s, r)
    if "qemu" not in args.skip:
        p, c_s = timed(edgecc.compile, graph, backend="c", board="qemu-m4", out=os.path.join(OUT, "c_m4"))
        r, s_s = timed(p.run_result, x, target="qemu")
        mcu = p.report["mcu"]
        row("C on Cortex-M4 (qemu)", c_s, s_s, r, instructions_per_image=mcu["instructions_per_inference"],
            flash=mcu["flash"], ram=mcu["ram"])
    if "rtl" not in args.skip or "synth" not in args.skip:
        rg = edgecc.load(model, config=rtl_config(edgecc.load(model)))
        p, c_s = timed(edgecc.compile, rg, backend="rtl", out=os.path.join(OUT, "rtl_stream"), io_type="stream")
        predicted = {"latency": p.report["latency_cycles"], "ii": p.report["ii_cycles"]}
        if "rtl" not in args.skip:
            r, s_s = timed(p.run_result, x)
            row("RTL stream, Verilator (build + run)", c_s, s_s, r, latency_predicted=predicted["latency"],
                latency_measured=r.latency_cycles, ii_predicted=predicted["ii"], ii_measured=r.ii_cycles,
                estimate=p.report["resources"])
        if "synth" not in args.skip:
            syn, y_s = timed(p.synth)
            rows.append({"step": f"RTL Yosys ({syn['target']}, {p.report.get('board')})", "sim_s": y_s,
                         **{k: syn.get(k) for k in ("lut", "ff", "dsp", "bram", "carry", "logic_levels")}})

    print()
    print(f"ResNet-8, {params:,} parameters, {args.n} images (probe inputs: ties, saturation, negatives)")
    head = ["step", "compile s", "sim s", "mismatches", "measured"]
    body = []
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in ("step", "compile_s", "sim_s", "mismatches")}
        body.append([r["step"], fmt(r.get("compile_s")), fmt(r.get("sim_s")), r.get("mismatches") or "-",
                     ", ".join(f"{k} {fmt(v) if not isinstance(v, dict) else v}" for k, v in extra.items())])
    widths = [max(len(str(b[i])) for b in [head] + body) for i in range(4)]
    for b in [head] + body:
        print("  ".join(str(c).ljust(w) for c, w in zip(b[:4], widths)) + "  " + str(b[4]))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(os.path.join(os.path.dirname(OUT), "resnet8.json"), "w") as f:
        json.dump({"parameters": params, "images": args.n, "rows": rows}, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
