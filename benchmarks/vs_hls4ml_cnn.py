#!/usr/bin/env python3
"""edgecc vs hls4ml 1.3 on the digits CNN (examples/digits_cnn.onnx), both streaming, side by side.

    .venv/bin/python benchmarks/vs_hls4ml_cnn.py              # what `make bench` runs
    .venv/bin/python benchmarks/vs_hls4ml_cnn.py --no-synth   # skip Yosys (about 2 minutes)

Both tools get the same inputs: the example's digits test split (450 images, intensity / 16), on the input
quantizer's grid. Measured, in one process:
  * hls4ml: its ONNX/QONNX flow (qonnx cleanup -> channels-last -> GemmToMatMul -> cleanup; config from the model,
    io_stream, Vivado backend), seconds to a written project, seconds to a C simulation (ModelGraph.compile(), which
    builds the shared library, + predict() on every vector), mismatches against qonnx's execute_onnx;
  * edgecc: edgecc.load + edgecc.compile(backend="hls", io_type="stream"), seconds to a written project, seconds to
    a C simulation (the first run_result(): g++ build on an empty cache + run + golden check), mismatches against
    qonnx; then the same model as RTL (io_type stream), its Yosys resources for the board's part and a Verilator
    run of every vector.
A step where hls4ml fails is reported in the table (and why, below it), not raised. Prints one table and writes it
as JSON to bench_out/vs_hls4ml_cnn.json (generated projects under bench_out/vs_hls4ml_cnn/). Exits 0 whenever the
benchmark ran; non-zero only if edgecc or the harness crashed.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
from compare import format_table, hls4ml_ready_onnx, load_example, make_row, timed, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
MODEL_PATH = os.path.join(EXAMPLES, "digits_cnn.onnx")
OUT = os.path.join(ROOT, "bench_out")
WORK = os.path.join(OUT, "vs_hls4ml_cnn")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)




def row_mismatches(got, want: np.ndarray) -> int:
    """Vectors with any output differing (all of them if the shapes disagree)."""
    want = np.asarray(want, dtype=np.float64).reshape(len(want), -1)
    got = np.asarray(got, dtype=np.float64)
    if got.size != want.size:
        return len(want)
    return int(np.sum(np.any(got.reshape(want.shape) != want, axis=1)))


def warm_up_gxx() -> None:
    """Compile a tiny program once so neither tool pays for g++ being cold on disk."""
    with tempfile.TemporaryDirectory(prefix="bench-gxx-") as d:
        src = os.path.join(d, "w.cpp")
        with open(src, "w") as f:
            f.write("#include <cstdio>\nint main(){std::printf(\"ok\\n\");}\n")
        subprocess.run(["g++", "-O1", src, "-o", os.path.join(d, "w")], check=True, capture_output=True)


def input_grid(model):
    """(frac, lo code, hi code) of the model's input Quant: the grid the benchmark's inputs are put on."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    q = next(n for n in model.graph.node if n.op_type == "Quant" and n.input[0] == model.graph.input[0].name)
    attrs = {a.name: a.i for a in q.attribute}
    frac = int(-np.log2(float(inits[q.input[1]])))
    bits = int(inits[q.input[3]])
    narrow = attrs.get("narrow", 0)
    lo, hi = ((-(2 ** (bits - 1)) + narrow, 2 ** (bits - 1) - 1) if attrs.get("signed", 1)
              else (0, 2 ** bits - 1 - narrow))
    return frac, lo, hi


# ----------------------------------------------------------------------------------------------------- hls4ml
def run_hls4ml(x: np.ndarray, out_dir: str, part: str) -> dict:
    """Each step timed; the first failing step ends the run and is recorded (step name and the error)."""
    result = {"failed_step": None, "error": None}
    step = "import"
    try:
        import hls4ml

        result["version"] = hls4ml.__version__
        shutil.rmtree(out_dir, ignore_errors=True)

        def to_project():
            model = hls4ml_ready_onnx(MODEL_PATH)
            # Precisions: every Quant-derived type is 'auto' (hls4ml infers it from the QONNX quantizers, exact);
            # the default fixed<16,6> is what is left for the input (2^-10 steps: exact on the 2^-7 input grid).
            config = hls4ml.utils.config_from_onnx_model(model, granularity="name", backend="Vivado",
                                                         default_precision="fixed<16,6>")
            hls_model = hls4ml.converters.convert_from_onnx_model(model, output_dir=out_dir, io_type="io_stream",
                                                                  backend="Vivado", part=part, hls_config=config)
            hls_model.write()
            return hls_model

        step = "convert"      # qonnx flow, config_from_onnx_model, convert_from_onnx_model, write()
        hls_model, result["project_s"] = timed(to_project)
        step = "C-sim build"  # ModelGraph.compile()
        _, result["build_s"] = timed(hls_model.compile)
        step = "C-sim run"    # ModelGraph.predict()
        # the converted model is channels-last; with one input channel NCHW and NHWC hold the same numbers
        x_hls = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        result["y"], result["predict_s"] = timed(hls_model.predict, x_hls)
        result["csim_s"] = result["build_s"] + result["predict_s"]
        defines = os.path.join(out_dir, "firmware", "defines.h")
        if os.path.isfile(defines):
            with open(defines) as f:
                result["types"] = {m.group(2): m.group(1) for m in re.finditer(r"^typedef (.+) (\w+);$", f.read(),
                                                                               re.MULTILINE)}
    except Exception as e:  # noqa: BLE001 - any failure of the peer is a result to report, not a crash
        result["failed_step"], result["error"] = step, " ".join(f"{type(e).__name__}: {e}".split())
        log(f"hls4ml failed at {step}:\n{traceback.format_exc()}")
    return result


# ----------------------------------------------------------------------------------------------------- edgecc
def run_edgecc_hls(x: np.ndarray, out_dir: str, cache_dir: str) -> dict:
    import edgecc

    os.environ["EDGECC_CACHE_DIR"] = cache_dir      # fresh and empty: the first run really builds

    def to_project():
        return edgecc.compile(edgecc.load(MODEL_PATH), backend="hls", out=out_dir, io_type="stream")

    shutil.rmtree(out_dir, ignore_errors=True)
    project, t_project = timed(to_project)
    r_cold, t_cold = timed(project.run_result, x)
    r_warm, t_warm = timed(project.run_result, x)
    return {"version": edgecc.__version__, "project_s": t_project, "csim_s": t_cold, "warm_s": t_warm,
            "y": r_cold.outputs, "golden_mismatches": r_cold.mismatches + r_warm.mismatches,
            "report": project.report}


def run_edgecc_rtl(x: np.ndarray, out_dir: str, io_type: str, synth: bool) -> dict:
    import edgecc
    from edgecc.errors import EdgeccError

    shutil.rmtree(out_dir, ignore_errors=True)
    project, t_project = timed(edgecc.compile, edgecc.load(MODEL_PATH), backend="rtl", out=out_dir, io_type=io_type)
    result, t_sim = timed(project.run_result, x, simulator="verilator")
    out = {"project_s": t_project, "sim_s": t_sim, "y": result.outputs, "golden_mismatches": result.mismatches,
           "latency_measured": result.latency_cycles, "ii_measured": result.ii_cycles, "report": project.report,
           "synth": None, "synth_error": None, "synth_s": None}
    # the other micro-architecture's scheduler estimate, for the note (compile only: about a second)
    other = "parallel" if io_type == "stream" else "stream"
    with tempfile.TemporaryDirectory(prefix="edgecc-bench-") as d:
        out["other_io_type"] = other
        out["other_estimate"] = edgecc.compile(edgecc.load(MODEL_PATH), backend="rtl", out=os.path.join(d, "o"),
                                               io_type=other).report["resources"]
    if synth:
        log(f"edgecc: Yosys on the RTL for {project.report['board']} ({project.report['part']}) ...")
        try:
            out["synth"], out["synth_s"] = timed(project.synth)
        except EdgeccError as e:
            out["synth_error"] = f"{type(e).__name__}: {e}"
    return out


# ------------------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=0, help="use only the first N test images (default: all 450)")
    ap.add_argument("--no-synth", action="store_true", help="skip the Yosys run")
    ap.add_argument("--rtl-io-type", choices=("stream", "parallel"), default="stream",
                    help="edgecc RTL micro-architecture for the resource rows (default stream, like the HLS)")
    args = ap.parse_args()
    t_start = time.perf_counter()

    import onnx

    from edgecc.backends import get_backend
    from edgecc.boards import get_board

    if not os.path.isfile(MODEL_PATH):
        raise FileNotFoundError(f"{MODEL_PATH} is missing; run: python examples/digits_cnn.py")
    os.makedirs(WORK, exist_ok=True)
    example = load_example("digits_cnn")
    model = onnx.load(MODEL_PATH)
    _, _, x_test, y_test = example.load_data()
    if args.n:
        x_test, y_test = x_test[:args.n], y_test[:args.n]
    frac, lo, hi = input_grid(model)
    x = (np.clip(np.round(x_test.astype(np.float64) * 2.0 ** frac), lo, hi) * 2.0 ** -frac).astype(np.float32)
    moved = int(np.sum(np.any((x != x_test).reshape(len(x), -1), axis=1)))
    n = len(x)
    reference = example.qonnx_reference(model, x)
    board = get_board(get_backend("hls").default_board)

    warm_up_gxx()
    log(f"benchmark: {os.path.relpath(MODEL_PATH, ROOT)}, {n} digits, g++ warmed up; hls4ml first, then edgecc")
    with contextlib.redirect_stdout(sys.stderr):        # hls4ml prints its config and topology; keep stdout tidy
        hls = run_hls4ml(x, os.path.join(WORK, "hls4ml_prj"), board.part)
    cache_dir = tempfile.mkdtemp(prefix="edgecc-bench-cache-")
    try:
        ecc = run_edgecc_hls(x, os.path.join(WORK, "edgecc_hls"), cache_dir)
        log("edgecc: RTL, Verilator run (builds the simulation) ...")
        rtl = run_edgecc_rtl(x, os.path.join(WORK, "edgecc_rtl"), args.rtl_io_type, not args.no_synth)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    ok = hls["failed_step"] is None
    h_y = hls.get("y")
    pct = lambda y: None if y is None else round(100.0 * example.accuracy(y, y_test), 2)
    syn = rtl["synth"] or {}
    rtl_rep = rtl["report"]
    no_rtl = "n/a"        # hls4ml writes HLS C++ only; its RTL needs Vivado/Vitis HLS, absent here
    rows = [
        make_row("hls4ml status", "ok" if ok else f"FAILED: {hls['failed_step']}", "ok"),
        make_row(f"test accuracy, % ({n} digits)", pct(h_y), pct(ecc["y"])),
        make_row(f"HLS C-sim mismatches vs qonnx ({n})", None if h_y is None else row_mismatches(h_y, reference),
                 row_mismatches(ecc["y"], reference)),
        make_row("seconds: model -> written project", hls.get("project_s"), ecc["project_s"]),
        make_row("seconds: C-sim build + run (cold)", hls.get("csim_s"), ecc["csim_s"]),
        make_row("  of which the run (hls4ml predict; edgecc warm)", hls.get("predict_s"), ecc["warm_s"]),
        make_row(f"RTL Verilator mismatches vs qonnx ({n})", no_rtl, row_mismatches(rtl["y"], reference)),
        make_row("RTL latency / II cycles (measured)", no_rtl,
                 f"{rtl['latency_measured']} / {rtl['ii_measured']}"),
    ]
    if rtl["synth"]:
        rows += [make_row(f"RTL Yosys LUT ({board.part})", no_rtl, syn["lut"]),
                 make_row("RTL Yosys FF", no_rtl, syn["ff"]),
                 make_row("RTL Yosys DSP", no_rtl, syn["dsp"]),
                 make_row("RTL Yosys BRAM", no_rtl, syn["bram"]),
                 make_row("RTL Yosys CARRY4", no_rtl, syn.get("carry")),
                 make_row("RTL logic levels (Yosys ltp -noff)", no_rtl, syn.get("logic_levels")),
                 make_row("RTL Yosys seconds", no_rtl, rtl["synth_s"])]
    else:
        rows.append(make_row("RTL Yosys resources", no_rtl, "skipped" if args.no_synth else "FAILED"))

    types = hls.get("types") or {}
    notes = [
        (f"hls4ml {hls.get('version', '?')}: qonnx cleanup_model -> ConvertToChannelsLastAndClean -> GemmToMatMul "
         f"-> cleanup_model; config_from_onnx_model(granularity='name', default_precision='fixed<16,6>'), "
         f"io_stream, Vivado backend, part {board.part}; precisions: 'auto' everywhere (inferred from the QONNX "
         f"quantizers), which gave: input {types.get('input_t', '?')}, output {types.get('result_t', '?')}, "
         f"accumulators {', '.join(v for k, v in sorted(types.items()) if k.endswith('_accum_t')) or '?'}."),
        (f"edgecc {ecc['version']}: HLS io_type stream on {board.name} ({board.part}), predicted latency "
         f"{ecc['report']['latency_cycles']} cycles, II {ecc['report']['ii_cycles']}; RTL io_type "
         f"{args.rtl_io_type}, predicted latency {rtl_rep['latency_cycles']} cycles, II {rtl_rep['ii_cycles']} at "
         f"{rtl_rep['clock_ns']} ns, scheduler estimate {rtl_rep['resources']['lut']:,} LUT "
         f"{rtl_rep['resources']['ff']:,} FF."),
        (f"inputs: the example's {n} test digits (intensity / 16), put on the input Quant's grid (2^-{frac}, codes "
         f"{lo}..{hi}); {moved} of them moved (intensities k/16 are already on it). Reference: qonnx execute_onnx."),
        ("C-sim seconds: hls4ml = ModelGraph.compile() (writes the project again, then g++ -O3 of a shared library; "
         "it has no cache) + predict() of all vectors in-process via ctypes; edgecc = its first run_result() on an "
         "empty EDGECC_CACHE_DIR (g++ build + run + golden model + bit-for-bit check), the row below = the second "
         "run_result() with the binary cached."),
        (f"edgecc simulators vs its own golden model: HLS C-sim {ecc['golden_mismatches']} mismatching vectors over "
         f"2 runs, RTL Verilator {rtl['golden_mismatches']} (RTL compile {rtl['project_s']:.1f} s, Verilator build "
         f"+ run {rtl['sim_s']:.1f} s)."),
        (f"RTL resources: Yosys synth_xilinx -flatten (edgecc.sim.synth, `edgecc synth`) for {board.part}, cells "
         f"by type; hls4ml has no RTL of its own here (Vivado/Vitis HLS would write it), hence n/a. The RTL with "
         f"io_type {rtl['other_io_type']} is estimated at {rtl['other_estimate']['lut']:,} LUT "
         f"{rtl['other_estimate']['ff']:,} FF (the board has {board.resources.get('lut', 0):,} LUT); io_type auto "
         f"picks the fully unrolled parallel design for this model, whose Yosys run grows with its size, so these "
         f"rows use io_type {args.rtl_io_type} (--rtl-io-type)."),
    ]
    if not ok:
        notes.insert(0, f"hls4ml FAILED at {hls['failed_step']}: {hls['error']}")
    if rtl["synth_error"]:
        notes.append(f"Yosys failed: {rtl['synth_error']}")
    notes.append(f"benchmark wall time {time.perf_counter() - t_start:.0f} s on {os.cpu_count()} cores.")

    print(format_table(rows, "hls4ml"))
    print()
    for note in notes:
        print(f"note: {note}")
    result = {"model": os.path.relpath(MODEL_PATH, ROOT), "vectors": n, "board": board.name, "part": board.part,
              "hls4ml_ok": ok, "rows": rows, "notes": notes}
    path = os.path.join(OUT, "vs_hls4ml_cnn.json")
    write_json(path, result, ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
