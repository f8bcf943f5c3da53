"""The `edgecc` command line: parses arguments and calls the same functions as the Python API."""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from .errors import EdgeccError, ModelError

INTERNAL_ERROR = 70  # sysexits' EX_SOFTWARE: a bug in edgecc, not in its input


def _version() -> str:
    from . import __version__

    return __version__


def cmd_compile(a) -> int:
    from . import api
    from .backends import get_backend

    if a.latency_ns is not None and a.latency_cycles is not None:
        raise ModelError("give --latency-ns or --latency-cycles, not both")
    if a.accuracy_budget is not None and not a.calibrate:
        raise ModelError("--accuracy-budget needs --calibrate X.npy (the inputs it measures agreement on)")
    if a.calibrate and (a.precision or a.config):
        raise ModelError("--calibrate chooses the precisions itself: give it without --precision and --config")
    get_backend(a.backend)  # an unknown backend fails before the model is read

    def dump(step, graph):
        print(f"== after {step} ==\n{graph.dump()}", file=sys.stderr)

    if a.calibrate:
        from .calibrate import calibrate

        graph = calibrate(a.model, a.calibrate, width=a.calibrate_width, budget=a.accuracy_budget,
                          backend=a.backend, board=a.board, quiet=False)
        info = graph.meta["calibration"]
        agreement = "" if info["agreement"] is None else f", top-1 agreement with float {info['agreement']:.2%}"
        print(f"edgecc: calibrated on {info['samples']} inputs{agreement}; input {info['input']}")
        for name, layer in info["layers"].items():
            print(f"  {name}: {layer['width']} bits, result {layer['result']}, weights {layer['weight']}")
    else:
        graph = api.load(a.model, precision=a.precision, config=a.config, trace=dump if a.dump_ir else None)
    project = api.compile(graph, backend=a.backend, out=a.out, board=a.board, clock_ns=a.clock_ns,
                          latency_ns=a.latency_ns, latency_cycles=a.latency_cycles, ii=a.ii,
                          **{k: getattr(a, k) for k in ("pack_weights", "io_type") if getattr(a, k)})
    r = project.report
    print(f"edgecc: wrote {a.out} ({r['backend']}, {r['board']}): latency {r['latency_cycles']} cycles "
          f"({r['latency_ns']:g} ns), II {r['ii_cycles']}")
    print(schedule_table(r))
    return 0


def schedule_table(r: dict) -> str:
    """The chosen schedule: per layer how it is built, its folding, latency, II and resources; then the totals
    against the board and how the schedule was found."""
    order = ("lut", "ff", "dsp", "bram", "flash", "ram")
    keys = sorted(r["resources"], key=lambda k: order.index(k) if k in order else len(order))
    lines = [f"{'layer':<22} {'op':<9} {'built as':<12} {'folding':<30} {'lat':>6} {'II':>6} "
             + " ".join(f"{k.upper():>7}" for k in keys)]
    for l in r["layers"]:
        if l.get("microarch") in ("fused", "wiring"):
            continue
        name = "".join(c if c.isprintable() else "?" for c in l["name"])[:22]
        lines.append(f"{name:<22} {l['op']:<9} {l.get('microarch', ''):<12} {l.get('folding', '')[:30]:<30} "
                     f"{l['latency_cycles']:>6} {l['ii_cycles']:>6} "
                     + " ".join(f"{l['resources'].get(k, 0):>7}" for k in keys))
    budget = r.get("budget", {})
    lines.append(f"{'total':<22} {'':<9} {'':<12} {'':<30} {r['latency_cycles']:>6} {r['ii_cycles']:>6} "
                 + " ".join(f"{r['resources'][k]:>7}" for k in keys))
    if any(budget.get(k) for k in keys):
        lines.append(f"{'board ' + r['board']:<22} {'':<9} {'':<12} {'':<30} {'':>6} {'':>6} "
                     + " ".join(f"{budget.get(k, '-'):>7}" for k in keys))
    sched = r.get("schedule")
    if sched:
        how = {"milp": "exact (MILP, HiGHS)", "greedy": "greedy (non-linear timing model)",
               "preferred": "the fastest design, which fits"}.get(sched["solver"], sched["solver"])
        goal = "least cost within the targets" if sched["objective"] == "cost" else "fastest that fits the board"
        lines.append(f"schedule: {goal}; solved {how}; cost {sched['cost']:g}")
    return "\n".join(lines)


def cmd_sweep(a) -> int:
    from . import api
    from .schedule.sweep import table

    options = {k: getattr(a, k) for k in ("io_type",) if getattr(a, k)}
    graph = api.load(a.model, precision=a.precision, config=a.config)
    result = api.sweep(graph, backend=a.backend, board=a.board, points=a.points, clock_ns=a.clock_ns, out=a.out,
                       simulate=a.simulate, quiet=False, **options)
    print(f"edgecc: {result['backend']} on {result['board']} at {result['clock_ns']:g} ns: "
          f"{len(result['points'])} latency targets, {len(result['pareto'])} on the Pareto front")
    print(table(result))
    if a.out:
        print(f"edgecc: wrote {a.out}/sweep.json and {a.out}/sweep.png")
    return 0


def cmd_run(a) -> int:
    import numpy as np

    from . import api
    from .sim import load_project

    load_project(a.out)  # a clear error for a folder that is not an edgecc output, before reading inputs
    try:
        x = np.load(a.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read input {a.input!r}: {str(e).splitlines()[0]}") from None
    project = api.Project(a.out)
    # only the options given on the command line: the backend refuses one it does not take
    options = {k: getattr(a, k) for k in ("simulator", "stress", "waves", "target", "portable") if getattr(a, k)}
    result = project.run_result(x, golden=a.golden, quiet=False, **options)
    if a.output:
        np.save(a.output, result.outputs.astype(np.float64))
    if a.golden:
        print(f"edgecc: golden model ran {result.vectors} vectors in {result.seconds:.2f} s")
        return 0
    status = "all match" if result.mismatches == 0 else f"{result.mismatches} MISMATCH"
    print(f"edgecc: {result.simulator}: {result.vectors} vectors, {result.mismatches} mismatches against the golden "
          f"model ({status}) in {result.seconds:.2f} s")
    if result.latency_cycles is not None:
        note = "" if result.timing_checked else " (not compared: stalls were forced)"
        print(f"edgecc: measured latency {result.latency_cycles} cycles, II {result.ii_cycles} "
              f"(predicted {result.predicted_latency}, {result.predicted_ii}){note}")
    result.check()
    return 0


def cmd_report(a) -> int:
    from .sim import load_project

    r, _ = load_project(a.out)
    print(f"{r['model']} -> {r['backend']} on {r['board']} ({r['part']}), clock {r['clock_ns']:g} ns")
    print(f"latency {r['latency_cycles']} cycles ({r['latency_ns']:g} ns), II {r['ii_cycles']} (predicted)"
          + (f", {r['composition']} composition" if r.get("composition") else ""))
    budget = r.get("budget", {})
    print("resources (estimate / board): " + ", ".join(
        f"{k.upper()} {v}" + (f"/{budget[k]}" if budget.get(k) else "") for k, v in r["resources"].items()))
    if r.get("sim"):
        s = r["sim"]
        print(f"simulated ({s['simulator']}): {s['vectors']} vectors, {s['mismatches']} mismatches")
    if r.get("golden"):
        print(f"golden model run: {r['golden']['vectors']} vectors")
    if r.get("mcu"):
        m = r["mcu"]
        print(f"measured on {m['qemu_machine']} ({m['inner_product']} inner product): flash {m['flash']} B, RAM "
              f"{m['ram']} B (model: {m['model_flash_bytes']} B flash, {m['model_ram_bytes']} B RAM), stack "
              f"{m['stack_bytes']} B, {m.get('instructions_per_inference', '?')} instructions per inference")
    print(f"{'layer':<24} {'op':<10} {'built as':<12} {'reuse':>5} {'lat':>4} {'II':>3}  out type")
    for l in r["layers"]:
        name = "".join(c if c.isprintable() else "?" for c in l["name"])[:24]
        print(f"{name:<24} {l['op']:<10} {l.get('microarch', ''):<12} {l['reuse']:>5} {l['latency_cycles']:>4} "
              f"{l['ii_cycles']:>3}  {l['out_type']}")
    print(schedule_table(r))
    return 0


def cmd_synth(a) -> int:
    from . import api
    from .sim import load_project

    load_project(a.out)
    r = api.Project(a.out).synth(quiet=False)
    fmax = f", Fmax {r['fmax_mhz']:g} MHz ({r.get('pnr_tool', 'nextpnr')})" if r.get("fmax_mhz") else ""
    predicted = api.Project(a.out).report.get("predicted_fmax_mhz")
    fmax += f" (predicted {predicted:g} MHz)" if predicted and r.get("fmax_mhz") else ""
    print(f"edgecc: {r['target']}: LUT {r['lut']}, FF {r['ff']}, CARRY {r['carry']}, DSP {r['dsp']}, "
          f"BRAM {r['bram']}, logic levels {r['logic_levels']}{fmax}")
    return 0


def cmd_boards(a) -> int:
    from .boards import known_boards

    for b in known_boards().values():
        if b.family == "host":
            print(f"{b.name:<18} {'(this machine)':<24} gcc  {b.description}")
        elif b.kind == "mcu":
            print(f"{b.name:<18} {b.part:<24} {b.clock_mhz:g} MHz  {b.cpu} fpu {b.fpu}  "
                  f"flash {b.flash // 1024} KiB RAM {b.ram // 1024} KiB  {b.description}")
        else:
            res = b.resources
            print(f"{b.name:<18} {b.part:<24} {b.clock_ns:g} ns  LUT {res['lut']} FF {res['ff']} "
                  f"DSP {res['dsp']} BRAM {res['bram']}  {b.description}")
    return 0


def cmd_ops(a) -> int:
    """The capability table, from the backends' registries of op emitters."""
    from .backends import capability_markdown, capability_table
    from .frontend import supported_keras_layers, supported_onnx_ops

    if a.markdown:
        print(capability_markdown())
        return 0
    ops, names, cells = capability_table()
    print(f"{'IR op':<10} " + " ".join(f"{n:<24}" for n in names).rstrip())
    for op in ops:
        row = [("-" if cells[(op, n)] is None else ", ".join(cells[(op, n)]) or "yes") for n in names]
        print(f"{op:<10} " + " ".join(f"{c:<24}" for c in row).rstrip())
    print(f"ONNX ops read: {', '.join(supported_onnx_ops())}")
    print(f"Keras layers read: {', '.join(supported_keras_layers())}")
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: exit 2 with one line
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="edgecc", description="Compile quantized neural networks to bit-exact HLS C++, RTL and MCU C.")
    p.add_argument("--version", action="version", version=f"edgecc {_version()}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, required=True)

    c = sub.add_parser("compile", help="compile a model into an output folder")
    c.add_argument("model", help=".onnx (float, QONNX, QDQ) model file, or a Keras/QKeras model: .h5, .keras or a "
                   "SavedModel folder")
    c.add_argument("-b", "--backend", default="hls", help="hls, rtl or c (see `edgecc ops`)")
    c.add_argument("-o", "--out", required=True, help="output folder (replaced atomically)")
    c.add_argument("--board", help="board name (see `edgecc boards`) or a board .yaml file")
    c.add_argument("--clock-ns", type=float)
    c.add_argument("--latency-ns", type=float)
    c.add_argument("--latency-cycles", type=int)
    c.add_argument("--ii", type=int)
    c.add_argument("--precision", help="default type for unquantized tensors, e.g. 'fixed<16,6>'")
    c.add_argument("--config", help="YAML: precision, input, layers: {NAME: {reuse_factor | pe, simd, ram_style, "
                   "result, weight, bias}}")
    c.add_argument("--calibrate", help="X.npy of representative inputs: a float model's precisions from the ranges "
                   "they reach")
    c.add_argument("--calibrate-width", type=int, default=16, help="bits per calibrated type (default 16)")
    c.add_argument("--accuracy-budget", type=float, help="with --calibrate: search per-layer widths for the cheapest "
                   "design whose top-1 agreement with the float model drops by at most this fraction")
    c.add_argument("--pack-weights", choices=["auto", "on", "off"],
                   help="c only: weights of 4 bits or fewer two per byte (auto: where the CPU cost is small, or to "
                        "fit the flash)")
    c.add_argument("--io-type", choices=["auto", "parallel", "stream"],
                   help="rtl: whole vectors on one bus or pixels over ready/valid with line buffers (auto: by size); "
                        "hls: arrays in one pipelined top (parallel, the default) or hls::stream of pixels with "
                        "DATAFLOW (stream; auto: stream where the model has windows)")
    c.add_argument("--dump-ir", action="store_true", help="print the IR after the frontend and after each pass")
    c.set_defaults(fn=cmd_compile)

    sw = sub.add_parser("sweep", help="the latency-resource Pareto curve: the schedule at latency targets from the "
                        "fastest design that fits the board to the most folded one")
    sw.add_argument("model")
    sw.add_argument("-b", "--backend", default="rtl", help="rtl (default), hls or c")
    sw.add_argument("--board", help="board name or .yaml file")
    sw.add_argument("--clock-ns", type=float)
    sw.add_argument("--points", type=int, default=12, help="latency targets to schedule (default 12)")
    sw.add_argument("-o", "--out", help="folder for sweep.json and sweep.png")
    sw.add_argument("--simulate", type=int, default=0, metavar="N",
                    help="also compile every point and simulate it on N vectors (measured latency and II)")
    sw.add_argument("--precision")
    sw.add_argument("--config")
    sw.add_argument("--io-type", choices=["auto", "parallel", "stream"])
    sw.set_defaults(fn=cmd_sweep)

    r = sub.add_parser("run", help="run the design in OUT on inputs and compare with the golden model")
    r.add_argument("out")
    r.add_argument("--input", required=True, help="X.npy, float [N, *input_shape]")
    r.add_argument("--output", help="Y.npy to write, float64 [N, *output_shape]")
    r.add_argument("--golden", action="store_true", help="run the bit-exact Python golden model instead")
    r.add_argument("--simulator", choices=["verilator", "icarus"], help="rtl only (default verilator)")
    r.add_argument("--stress", action="store_true", help="rtl: random input gaps and out_ready low cycles")
    r.add_argument("--waves", action="store_true", help="rtl: write a waveform into OUT/waves/")
    r.add_argument("--target", choices=["host", "qemu"], help="c only: host gcc build or the board's CPU under qemu")
    r.add_argument("--portable", action="store_true",
                   help="c with --target qemu: the portable inner product even where the CPU has DSP")
    r.set_defaults(fn=cmd_run)

    rep = sub.add_parser("report", help="human summary of OUT")
    rep.add_argument("out")
    rep.set_defaults(fn=cmd_report)

    sy = sub.add_parser("synth", help="rtl: Yosys resources and logic depth (nextpnr Fmax on iCE40 and ECP5)")
    sy.add_argument("out")
    sy.set_defaults(fn=cmd_synth)

    b = sub.add_parser("boards", help="list the known boards")
    b.set_defaults(fn=cmd_boards)

    o = sub.add_parser("ops", help="which IR ops each backend emits, and how (from the registries)")
    o.add_argument("--markdown", action="store_true", help="as the Markdown table the README carries")
    o.set_defaults(fn=cmd_ops)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except EdgeccError as e:
        print(f"edgecc: error: {' '.join(str(e).splitlines())}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `edgecc report OUT | head`
        return 0
    except Exception as e:  # a bug in edgecc: one line with where it happened (OUT is already gone, see atomic_output)
        if os.environ.get("EDGECC_TRACEBACK"):
            raise
        print(f"edgecc: internal error: {_describe_bug(e)}; this is a bug in edgecc, please report it with the "
              "model (EDGECC_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return INTERNAL_ERROR


def _describe_bug(e: Exception) -> str:
    """The exception's type, the first line of its message and the innermost edgecc frame, on one line."""
    text = " ".join(str(e).split())[:200]
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f"{os.sep}edgecc{os.sep}" in f.filename]
    where = ""
    if frames:
        f = frames[-1]
        where = f" (at edgecc{f.filename.rsplit(os.sep + 'edgecc', 1)[1]}:{f.lineno} in {f.name})"
    return f"{type(e).__name__}{': ' + text if text else ''}{where}"


if __name__ == "__main__":
    sys.exit(main())
