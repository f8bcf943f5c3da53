"""Microcontroller C: build OUT's C project with the host's gcc or for the board's CPU (arm-none-eabi-gcc, through
the project's own Makefile; builds cached by content hash), run it on the host or under qemu-system-arm, and
measure what an embedded engineer asks: flash, RAM, stack, instructions per inference."""
from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from ..cache import cache_root
from ..codes import read_codes, write_codes
from ..errors import ModelError, ToolError
from .hostrun import run_chunked

QEMU_TIMEOUT_S = 600
PLUGIN_SOURCE = os.path.join(os.path.dirname(__file__), "qemu", "insn_count.c")


def _sources(out_dir: str) -> list[str]:
    files = []
    for part in ("Makefile", "include/*", "src/*", "harness/*", "board/*"):
        files += sorted(glob.glob(os.path.join(out_dir, part)))
    return [f for f in files if os.path.isfile(f)]


def _content_hash(out_dir: str, *salt: str) -> str:
    h = hashlib.sha256(" ".join(salt).encode())
    for path in _sources(out_dir):
        h.update(os.path.relpath(path, out_dir).encode())
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:24]


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise ToolError(f"{tool} is not installed; the C backend needs it (apt-get install -y {package}, "
                        "see make setup)")
    return path


def build(out_dir: str, target: str, extra: str, quiet: bool) -> tuple[str, bool]:
    """The build folder for `make <target>` (host or elf) with EXTRA flags, and whether it came from the cache."""
    tool = ("gcc", "gcc") if target == "host" else ("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    _require(*tool)
    key = _content_hash(out_dir, target, extra, shutil.which(tool[0]))
    build_dir = os.path.join(cache_root(), "c", key)
    marker = os.path.join(build_dir, ".edgecc-built")
    if os.path.isfile(marker):
        return build_dir, True
    if not quiet:
        print(f"edgecc: building the C project ({target}{', ' + extra if extra else ''}; cached by content hash "
              f"{key}) ...", file=sys.stderr, flush=True)
    os.makedirs(os.path.dirname(build_dir), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"{key}.", dir=os.path.dirname(build_dir))
    proc = subprocess.run(["make", "-s", "-C", out_dir, target, f"BUILD={tmp}", f"EXTRA={extra}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        text = proc.stderr or proc.stdout
        first = next((l for l in text.splitlines() if "error" in l.lower()), text.strip()[:400])
        raise ToolError(f"building the C project ({target}) failed: {first}")
    open(os.path.join(tmp, ".edgecc-built"), "w").close()
    try:
        os.rename(tmp, build_dir)
    except OSError:  # another process built the same hash first
        shutil.rmtree(tmp, ignore_errors=True)
    return build_dir, False


def run_host(out_dir: str, report: dict, codes: np.ndarray, out_shape, quiet: bool) -> np.ndarray:
    build_dir, _ = build(out_dir, "host", "", quiet)
    binary = os.path.join(build_dir, "host", f"{report['top']}_host")
    return run_chunked(binary, codes, out_shape, "the host build", wide=True)


def elf_sizes(elf: str) -> dict:
    """text, data and bss of an ELF (arm-none-eabi-size, Berkeley format): flash = text + data, RAM = data + bss."""
    proc = subprocess.run([_require("arm-none-eabi-size", "binutils-arm-none-eabi"), elf], capture_output=True,
                          text=True, check=True)
    text, data, bss = (int(v) for v in proc.stdout.splitlines()[1].split()[:3])
    return {"text": text, "data": data, "bss": bss, "flash": text + data, "ram": data + bss}


def count_plugin() -> str:
    """The instruction-counting TCG plugin (sim/qemu/insn_count.c), built once with the host's gcc."""
    gcc = _require("gcc", "gcc")
    with open(PLUGIN_SOURCE, "rb") as f:
        key = hashlib.sha256(f.read() + gcc.encode()).hexdigest()[:24]
    path = os.path.join(cache_root(), "qemu-plugin", key, "insn_count.so")
    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        proc = subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", tmp, PLUGIN_SOURCE], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise ToolError(f"building the qemu instruction counter failed: {proc.stderr.strip()[:300]}")
        os.replace(tmp, path)
    return path


def symbols(elf: str) -> dict[str, tuple[int, int, str]]:
    """Sized symbols of an ELF: name -> (start address, size, nm type letter: t/T code, r/R const, b/B/d/D RAM)."""
    nm = _require("arm-none-eabi-nm", "binutils-arm-none-eabi")
    proc = subprocess.run([nm, "-S", "-n", "--defined-only", elf], capture_output=True, text=True, check=True)
    out = {}
    for line in proc.stdout.splitlines():
        f = line.split()
        if len(f) == 4:
            out[f[3]] = (int(f[0], 16) & ~1, int(f[1], 16), f[2])
    return out


def instruction_counts(counts_path: str, syms: dict, prefix: str) -> dict:
    """Per inference: instructions between the harness's marks (less the marks' own cost, an empty pair first)
    and per unit function (from the per-address histogram), averaged over the inferences."""
    windows, hist = [], {}
    with open(counts_path) as f:
        for line in f:
            k = line.split()
            if k[0] == "window":
                windows.append(int(k[2]))
            elif k[0] == "pc" and k[1] != "other":
                hist[int(k[1], 16)] = int(k[2])
    runs = [w - windows[0] for w in windows[1:]]
    if not runs:
        return {}
    layers = {}
    for name, (start, size, kind) in syms.items():
        unit = name[len(prefix) + 1:].split(".")[0]  # gcc's clones: u0.constprop.0 is u0
        # a unit's function (its constant arrays, u0_w..., sit in the same output section as code: type t too)
        if name.startswith(f"{prefix}_") and re.fullmatch(r"u\d+", unit) and size and kind in "tT":
            total = sum(n for pc, n in hist.items() if start <= pc < start + size)
            layers[unit] = layers.get(unit, 0) + round(total / len(runs), 1)
    return {"instructions_per_inference": round(sum(runs) / len(runs), 1), "instructions_min": min(runs),
            "instructions_max": max(runs), "layer_instructions": layers,
            "instruction_count_method": "qemu TCG plugin (sim/qemu/insn_count.c): every executed instruction "
                                        "between edgecc_bench_begin and edgecc_bench_end, less an empty pair"}


def run_qemu(out_dir: str, report: dict, board, codes: np.ndarray, out_shape, portable: bool,
             quiet: bool) -> tuple[np.ndarray, dict]:
    """Output codes from the board's CPU under qemu, and the measured figures (sizes, stack, inner product,
    instructions per inference and per layer)."""
    if not board.qemu_machine:
        raise ModelError(f"board {board.name!r} has no qemu machine: run with --target host, or compile for a qemu "
                         "board (qemu-m0, qemu-m3, qemu-m4, qemu-m7)")
    qemu = _require("qemu-system-arm", "qemu-system-arm")
    extra = "-DEDGECC_NO_DSP" if portable else ""
    build_dir, _ = build(out_dir, "elf", extra, quiet)
    elf = os.path.join(build_dir, board.name, f"{report['top']}.elf")
    syms = symbols(elf)
    with tempfile.TemporaryDirectory(prefix="edgecc-qemu-") as work:
        write_codes(os.path.join(work, "input_codes.txt"), codes)
        counts = os.path.join(work, "insn_count.txt")
        marks = f"begin={syms['edgecc_bench_begin'][0]:#x},end={syms['edgecc_bench_end'][0]:#x}"
        cmd = [qemu, "-machine", board.qemu_machine, "-nographic", "-monitor", "none", "-serial", "none",
               "-semihosting-config", "enable=on,target=native", "-kernel", elf,
               "-plugin", f"{count_plugin()},out={counts},{marks},hist=on"]
        try:
            proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=QEMU_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ToolError(f"qemu-system-arm ({board.qemu_machine}) did not finish in {QEMU_TIMEOUT_S} s") from None
        if proc.returncode != 0:
            raise ToolError(f"the program under qemu ({board.qemu_machine}) exited with {proc.returncode}"
                            f"{' (a CPU exception)' if proc.returncode >= 128 else ''}: {proc.stderr.strip()[:300]}")
        outputs = read_codes(os.path.join(work, "output_codes.txt"), out_shape, wide=True)
        with open(os.path.join(work, "mcu_report.txt")) as f:
            measured = dict(line.split(None, 1) for line in f.read().splitlines() if line.strip())
        counted = instruction_counts(counts, syms, report["top"])
    model = [v for k, v in syms.items() if k.startswith(report["top"] + "_")]
    figures = {**elf_sizes(elf), "stack_bytes": int(measured["stack_bytes"]),
               "inner_product": measured["inner_product"].strip(), "qemu_machine": board.qemu_machine,
               "model_flash_bytes": sum(size for _, size, kind in model if kind in "tTrR"),
               "model_ram_bytes": sum(size for _, size, kind in model if kind in "bBdD"),
               **counted}
    if counted:
        from ..schedule.timing import cpu_model

        cpi = cpu_model(board.cpu).cycles_per_instruction
        figures["estimated_cycles"] = round(counted["instructions_per_inference"] * cpi)
        figures["estimated_latency_us"] = round(figures["estimated_cycles"] / board.clock_mhz, 2)
        figures["cycles_per_instruction_model"] = cpi
    return outputs, figures


def run(out_dir: str, report: dict, graph, codes: np.ndarray, target: str, portable: bool, quiet: bool):
    from ..boards import get_board
    from . import SimOutput

    out_shape = graph.tensor(graph.outputs[0]).shape
    if target == "host":
        if portable:
            raise ModelError("--portable selects the inner product of an Arm build: it applies with --target qemu")
        return SimOutput(run_host(out_dir, report, codes, out_shape, quiet), "c-host")
    board = get_board(report.get("board_file") or report["board"])
    outputs, figures = run_qemu(out_dir, report, board, codes, out_shape, portable, quiet)
    figures["arena_bytes"] = report.get("arena_bytes")
    return SimOutput(outputs, f"qemu-{board.qemu_machine}", extra={"mcu": figures})
