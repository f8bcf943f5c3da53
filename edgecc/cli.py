"""The `edgecc` command line: parses arguments and calls the same functions as the Python API."""
from __future__ import annotations

import argparse
import sys

from .errors import EdgeccError, ModelError


def _version() -> str:
    from . import __version__

    return __version__


def cmd_compile(a) -> int:
    from . import api

    if a.latency_ns is not None and a.latency_cycles is not None:
        raise ModelError("give --latency-ns or --latency-cycles, not both")
    def dump(step, graph):
        print(f"== after {step} ==\n{graph.dump()}", file=sys.stderr)

    trace = dump if a.dump_ir else None
    graph = api.load(a.model, precision=a.precision, config=a.config, trace=trace)
    if a.calibrate:
        raise ModelError("--calibrate is not implemented yet")
    project = api.compile(graph, backend=a.backend, out=a.out, board=a.board, clock_ns=a.clock_ns,
                          latency_ns=a.latency_ns, latency_cycles=a.latency_cycles, ii=a.ii)
    r = project.report
    print(f"edgecc: wrote {a.out} ({r['backend']}, {r['board']}): latency {r['latency_cycles']} cycles "
          f"({r['latency_ns']:g} ns), II {r['ii_cycles']}")
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
    result = project.run_result(x, golden=a.golden, quiet=False, simulator=a.simulator, stress=a.stress,
                                waves=a.waves)
    if a.output:
        np.save(a.output, result.outputs.astype(np.float64))
    if a.golden:
        print(f"edgecc: golden model ran {result.vectors} vectors")
        return 0
    status = "all match" if result.mismatches == 0 else f"{result.mismatches} MISMATCH"
    print(f"edgecc: {result.simulator}: {result.vectors} vectors, {result.mismatches} mismatches against the golden "
          f"model ({status}) in {result.seconds:.2f} s")
    ok = result.mismatches == 0
    if result.latency_cycles is not None:
        r = project.report
        timing_ok = a.stress or (result.latency_cycles == r["latency_cycles"] == result.latency_max
                                 and result.ii_cycles == r["ii_cycles"])
        print(f"edgecc: measured latency {result.latency_cycles} cycles, II {result.ii_cycles} "
              f"(predicted {r['latency_cycles']}, {r['ii_cycles']}){'' if timing_ok else ': TIMING MISMATCH'}")
        ok = ok and timing_ok
    return 0 if ok else 1


def cmd_report(a) -> int:
    from .sim import load_project

    r, _ = load_project(a.out)
    print(f"{r['model']} -> {r['backend']} on {r['board']} ({r['part']}), clock {r['clock_ns']:g} ns")
    print(f"latency {r['latency_cycles']} cycles ({r['latency_ns']:g} ns), II {r['ii_cycles']} (predicted)")
    budget = r.get("budget", {})
    print("resources (estimate / board): " + ", ".join(
        f"{k.upper()} {v}" + (f"/{budget[k]}" if budget.get(k) else "") for k, v in r["resources"].items()))
    if r.get("sim"):
        s = r["sim"]
        print(f"simulated ({s['simulator']}): {s['vectors']} vectors, {s['mismatches']} mismatches")
    print(f"{'layer':<24} {'op':<9} {'reuse':>5} {'lat':>4} {'II':>3}  out type")
    for l in r["layers"]:
        name = "".join(c if c.isprintable() else "?" for c in l["name"])[:24]
        print(f"{name:<24} {l['op']:<9} {l['reuse']:>5} {l['latency_cycles']:>4} {l['ii_cycles']:>3}  {l['out_type']}")
    return 0


def cmd_synth(a) -> int:
    from . import api
    from .sim import load_project

    load_project(a.out)
    r = api.Project(a.out).synth(quiet=False)
    fmax = f", Fmax {r['fmax_mhz']:g} MHz (nextpnr)" if r.get("fmax_mhz") else ""
    print(f"edgecc: {r['target']}: LUT {r['lut']}, FF {r['ff']}, CARRY {r['carry']}, DSP {r['dsp']}, "
          f"BRAM {r['bram']}, logic levels {r['logic_levels']}{fmax}")
    return 0


def cmd_boards(a) -> int:
    from .boards import known_boards

    for b in known_boards().values():
        res = b.resources
        print(f"{b.name:<12} {b.part:<24} {b.clock_ns:g} ns  LUT {res.get('lut')} FF {res.get('ff')} "
              f"DSP {res.get('dsp')} BRAM {res.get('bram')}  {b.description}")
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
    c.add_argument("model", help=".onnx (float, QONNX, QDQ) model file")
    c.add_argument("-b", "--backend", choices=["hls", "rtl", "c"], default="hls")
    c.add_argument("-o", "--out", required=True, help="output folder (replaced atomically)")
    c.add_argument("--board", help="board name (see `edgecc boards`)")
    c.add_argument("--clock-ns", type=float)
    c.add_argument("--latency-ns", type=float)
    c.add_argument("--latency-cycles", type=int)
    c.add_argument("--ii", type=int)
    c.add_argument("--precision", help="default type for unquantized tensors, e.g. 'fixed<16,6>'")
    c.add_argument("--config", help="YAML: precision, input, layers: {NAME: {reuse_factor, result, weight, bias}}")
    c.add_argument("--calibrate", help="X.npy of representative inputs (not implemented yet)")
    c.add_argument("--dump-ir", action="store_true", help="print the IR after the frontend and after each pass")
    c.set_defaults(fn=cmd_compile)

    r = sub.add_parser("run", help="run the design in OUT on inputs and compare with the golden model")
    r.add_argument("out")
    r.add_argument("--input", required=True, help="X.npy, float [N, *input_shape]")
    r.add_argument("--output", help="Y.npy to write, float64 [N, *output_shape]")
    r.add_argument("--golden", action="store_true", help="run the bit-exact Python golden model instead")
    r.add_argument("--simulator", choices=["verilator", "icarus"], help="rtl only (default verilator)")
    r.add_argument("--stress", action="store_true", help="rtl: random input gaps and out_ready low cycles")
    r.add_argument("--waves", action="store_true", help="rtl: write a waveform into OUT/waves/")
    r.add_argument("--target", choices=["host", "qemu"], help="c only")
    r.set_defaults(fn=cmd_run)

    rep = sub.add_parser("report", help="human summary of OUT")
    rep.add_argument("out")
    rep.set_defaults(fn=cmd_report)

    sy = sub.add_parser("synth", help="rtl: Yosys resources and logic depth (nextpnr Fmax on iCE40)")
    sy.add_argument("out")
    sy.set_defaults(fn=cmd_synth)

    b = sub.add_parser("boards", help="list the known boards")
    b.set_defaults(fn=cmd_boards)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "backend", "hls") == "c":
        print("edgecc: error: backend 'c' is not implemented yet (available: hls, rtl)", file=sys.stderr)
        return 2
    try:
        return args.fn(args)
    except EdgeccError as e:
        print(f"edgecc: error: {' '.join(str(e).splitlines())}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `edgecc report OUT | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
