"""Boards: one YAML file per board (an FPGA's part and resources, or a microcontroller's CPU and memories),
validated against its kind's schema."""
from __future__ import annotations

import difflib
import functools
import math
import os
import re
from dataclasses import dataclass

import yaml

from ..errors import ModelError

_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BOARD = "pynq-z2"

FAMILY_KIND = {"xilinx": "fpga", "ice40": "fpga", "ecp5": "fpga", "cortex-m": "mcu", "host": "mcu"}
FPGA_RESOURCES = ("lut", "ff", "dsp", "bram")
# The floating-point units each core can have, by GCC -mfpu name; "none" builds soft float.
CPU_FPUS = {
    "cortex-m0": ("none",),
    "cortex-m0plus": ("none",),
    "cortex-m3": ("none",),
    "cortex-m4": ("none", "fpv4-sp-d16"),
    "cortex-m7": ("none", "fpv5-sp-d16", "fpv5-d16"),
    "cortex-m33": ("none", "fpv5-sp-d16"),
}

# Each kind's keys; True marks a required one.
_FPGA_KEYS = {"name": True, "family": True, "part": True, "clock_ns": True, "resources": True, "description": False}
_MCU_KEYS = {"name": True, "family": True, "cpu": True, "fpu": True, "clock_mhz": True, "flash": True, "ram": True,
             "part": False, "description": False, "qemu_machine": False}
# The machine edgecc runs on, as a C target: its own compiler, no flash or RAM budget.
_HOST_KEYS = {"name": True, "family": True, "description": False, "clock_mhz": False}
_SCHEMAS = {"fpga": _FPGA_KEYS, "mcu": _MCU_KEYS, "host": _HOST_KEYS}

_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_BYTE_SIZE = re.compile(r"\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*")
_BYTE_UNITS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}


@dataclass(frozen=True)
class Board:
    """One target: an FPGA (part, clock, LUT/FF/DSP/BRAM budget) or a microcontroller (CPU, FPU, clock, memories)."""
    name: str
    kind: str                  # "fpga" or "mcu"
    family: str                # "xilinx", "ice40", "ecp5", "cortex-m" or "host"
    part: str                  # FPGA part number; an MCU's chip, or its cpu when the file names no chip
    clock_ns: float            # an MCU's is 1000 / clock_mhz
    description: str = ""
    budget: tuple[tuple[str, int], ...] = ()   # read it as `resources`
    cpu: str | None = None     # the rest is None on an FPGA
    fpu: str | None = None     # "none" or a GCC -mfpu name
    clock_mhz: float | None = None
    flash: int | None = None   # bytes
    ram: int | None = None     # bytes
    qemu_machine: str | None = None

    @property
    def resources(self) -> dict[str, int]:
        """A fresh dict: {lut, ff, dsp, bram} on an FPGA, {flash, ram} in bytes on an MCU."""
        return dict(self.budget)


class _BadBoard(Exception):
    """One problem with a board's contents; the caller adds the file name."""


def known_boards() -> dict[str, Board]:
    """The boards shipped in this folder, by name."""
    return dict(_shipped_boards())


def get_board(name: str | os.PathLike | None) -> Board:
    """A shipped board by name (default pynq-z2), or the board in a user's YAML file given by its path."""
    if name is not None and _is_path(name):
        board = read_board_file(name)
        shipped = _shipped_boards()
        if board.name in shipped:
            # A report names its board; a second board under a shipped name would be resolved to the shipped one.
            raise ModelError(f"board file {os.fspath(name)!r}: name {board.name!r} is a shipped board's; "
                             f"give yours another name")
        return board
    boards = _shipped_boards()
    name = name or DEFAULT_BOARD
    if name not in boards:
        raise ModelError(f"unknown board {name!r} (known: {', '.join(boards)})")
    return boards[name]


def read_board_folder(folder: str | os.PathLike) -> dict[str, Board]:
    """Every *.yaml / *.yml board in a folder, by name, in file-name order; a name defined twice is an error."""
    boards: dict[str, Board] = {}
    sources: dict[str, str] = {}
    for file_name in sorted(os.listdir(folder)):
        if not file_name.endswith((".yaml", ".yml")):
            continue
        path = os.path.join(folder, file_name)
        board = read_board_file(path)
        if board.name in boards:
            raise ModelError(f"board file {path!r}: name {board.name!r} is already defined in {sources[board.name]!r}")
        boards[board.name] = board
        sources[board.name] = path
    return boards


def read_board_file(path: str | os.PathLike) -> Board:
    """One board file, validated against its family's schema; any problem is a one-line ModelError naming the file."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ModelError(f"board file {path!r}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise ModelError(f"board file {path!r}: not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
        return _board_from(data)
    except yaml.YAMLError as e:
        raise ModelError(f"board file {path!r}: {_yaml_problem(e)}") from None
    except _BadBoard as e:
        raise ModelError(f"board file {path!r}: {e}") from None


@functools.lru_cache(maxsize=1)
def _shipped_boards() -> dict[str, Board]:
    # Every CLI call loads the boards: parse the folder once per process.
    return read_board_folder(_DIR)


def _is_path(name: str | os.PathLike) -> bool:
    if not isinstance(name, str):
        return True
    separators = (os.sep, os.altsep or os.sep, "/")
    return name.endswith((".yaml", ".yml")) or any(s in name for s in separators)


# --- validation ---------------------------------------------------------------------------------------------------

def _board_from(data) -> Board:
    if data is None:
        raise _BadBoard("is empty (a board file is a mapping: name, family, ...)")
    if not isinstance(data, dict):
        raise _BadBoard(f"must be a mapping of keys to values, got {_describe(data)}")
    if "family" not in data:
        raise _BadBoard(f"missing required key 'family' (one of {', '.join(sorted(FAMILY_KIND))})")
    family = data["family"]
    if not isinstance(family, str) or family not in FAMILY_KIND:
        raise _BadBoard(f"family must be one of {', '.join(sorted(FAMILY_KIND))}, got {_show(family)}")
    kind = FAMILY_KIND[family]
    _check_keys(data, _SCHEMAS["host" if family == "host" else kind], f"a {family} board")
    name = _plain_name(data, "name")
    description = _text(data, "description") if "description" in data else ""
    if family == "host":
        clock_mhz = _positive_number(data, "clock_mhz") if "clock_mhz" in data else 1000.0
        return Board(name=name, kind=kind, family=family, part="host", clock_ns=1000.0 / clock_mhz,
                     description=description, cpu="host", fpu="none", clock_mhz=clock_mhz)
    if kind == "fpga":
        return Board(name=name, kind=kind, family=family, part=_text(data, "part"),
                     clock_ns=_positive_number(data, "clock_ns"), description=description,
                     budget=_fpga_resources(data["resources"]))
    cpu = data["cpu"]
    if not isinstance(cpu, str) or cpu not in CPU_FPUS:
        raise _BadBoard(f"cpu must be one of {', '.join(CPU_FPUS)}, got {_show(cpu)}")
    fpu = data["fpu"]
    all_fpus = sorted({f for fpus in CPU_FPUS.values() for f in fpus})
    if not isinstance(fpu, str) or fpu not in all_fpus:
        raise _BadBoard(f"fpu must be one of {', '.join(all_fpus)}, got {_show(fpu)}")
    if fpu not in CPU_FPUS[cpu]:
        raise _BadBoard(f"fpu {fpu!r} does not exist on a {cpu} (it takes: {', '.join(CPU_FPUS[cpu])})")
    clock_mhz = _positive_number(data, "clock_mhz")
    flash, ram = _byte_size(data, "flash"), _byte_size(data, "ram")
    return Board(name=name, kind=kind, family=family, part=_text(data, "part") if "part" in data else cpu,
                 clock_ns=1000.0 / clock_mhz, description=description, budget=(("flash", flash), ("ram", ram)),
                 cpu=cpu, fpu=fpu, clock_mhz=clock_mhz, flash=flash, ram=ram,
                 qemu_machine=_plain_name(data, "qemu_machine") if "qemu_machine" in data else None)


def _check_keys(data: dict, schema: dict[str, bool], what: str, prefix: str = "") -> None:
    # Unknown keys first: a typo is both an unknown key and a missing one, and the unknown one says more.
    for key in data:
        if key not in schema:
            close = difflib.get_close_matches(str(key), schema, n=1)
            hint = f"did you mean {prefix + close[0]!r}?" if close else f"{what} takes: {', '.join(schema)}"
            raise _BadBoard(f"unknown key {prefix + str(key)!r} ({hint})")
    for key, required in schema.items():
        if required and key not in data:
            raise _BadBoard(f"missing required key {prefix + key!r}")


def _fpga_resources(resources) -> tuple[tuple[str, int], ...]:
    if not isinstance(resources, dict):
        raise _BadBoard(f"resources must be a mapping {{lut, ff, dsp, bram}}, got {_describe(resources)}")
    _check_keys(resources, dict.fromkeys(FPGA_RESOURCES, True), "resources", prefix="resources.")
    budget = []
    for key in FPGA_RESOURCES:
        value = resources[key]
        if not _is_integer(value) or value < 0:
            raise _BadBoard(f"resources.{key} must be a non-negative integer, got {_show(value)}")
        budget.append((key, value))
    return tuple(budget)


def _text(data: dict, key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or (key != "description" and not value.strip()):
        raise _BadBoard(f"{key} must be {'a' if key == 'description' else 'a non-empty'} string, got {_show(value)}")
    return value


def _plain_name(data: dict, key: str) -> str:
    value = _text(data, key)
    # A name is also what `--board` takes, where a path separator or a .yaml ending means a file.
    if not _PLAIN_NAME.fullmatch(value) or value.endswith((".yaml", ".yml")):
        raise _BadBoard(f"{key} must be a plain name (letters, digits, '.', '_', '+', '-'), got {value!r}")
    return value


def _positive_number(data: dict, key: str) -> float:
    value = data[key]
    number_like = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number_like or not math.isfinite(value) or value <= 0:
        raise _BadBoard(f"{key} must be a positive number, got {_show(value)}")
    return float(value)


def _byte_size(data: dict, key: str) -> int:
    value = data[key]
    if _is_integer(value) and value > 0:
        return value
    match = _BYTE_SIZE.fullmatch(value) if isinstance(value, str) else None
    if match and int(match.group(1)) > 0:
        return int(match.group(1)) * _BYTE_UNITS[match.group(2)]
    raise _BadBoard(f"{key} must be a positive number of bytes (an integer, or a string such as '256 KiB' "
                    f"with unit B, KiB, MiB or GiB), got {_show(value)}")


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value) -> str:
    """A value as the file's author wrote it, short."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return _describe(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(value) -> str:
    kinds = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
             float: "a number"}
    return next((k for t, k in kinds.items() if isinstance(value, t)), type(value).__name__)


# --- YAML ---------------------------------------------------------------------------------------------------------

class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """A safe YAML loader that refuses a key given twice in one mapping (plain PyYAML keeps the last silently)."""


def _construct_mapping_once(loader: _StrictLoader, node: yaml.MappingNode):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            continue   # an unhashable key: the constructor below reports it
        if duplicate:
            raise _BadBoard(f"key {key!r} is given twice (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_once)


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        problem = error.problem or error.context or "unreadable"
        mark = error.problem_mark
        return f"not valid YAML: {problem} (line {mark.line + 1}, column {mark.column + 1})"
    return "not valid YAML: " + " ".join(str(error).split())
