"""Board files: every shipped board validates; a broken board file is one clear ModelError naming the file and field."""
from __future__ import annotations

import dataclasses
import os

import pytest

from edgecc.boards import (DEFAULT_BOARD, Board, get_board, known_boards, read_board_file, read_board_folder)
from edgecc.errors import ModelError

BOARD_DIR = os.path.dirname(__import__("edgecc.boards", fromlist=["_"]).__file__)
SHIPPED_FILES = sorted(f for f in os.listdir(BOARD_DIR) if f.endswith((".yaml", ".yml")))

FPGA_BOARDS = {  # name: (family, part, clock_ns, lut, ff, dsp, bram), as they were before the schema
    "pynq-z2": ("xilinx", "xc7z020clg400-1", 10.0, 53200, 106400, 220, 140),
    "zcu104": ("xilinx", "xczu7ev-ffvc1156-2-e", 5.0, 230400, 460800, 1728, 312),
    "alveo-u55c": ("xilinx", "xcu55c-fsvh2892-2L-e", 3.33, 1303680, 2607360, 9024, 2016),
    "alveo-u250": ("xilinx", "xcu250-figd2104-2L-e", 3.33, 1728000, 3456000, 12288, 2688),
    "vu13p": ("xilinx", "xcvu13p-flga2577-2-e", 2.5, 1728000, 3456000, 12288, 2688),
    "ice40-hx8k": ("ice40", "hx8k-ct256", 20.0, 7680, 7680, 0, 32),
    "icebreaker": ("ice40", "up5k-sg48", 20.0, 5280, 5280, 8, 30),
    "ulx3s": ("ecp5", "LFE5U-85F-6BG381C", 40.0, 83640, 83640, 156, 208),
}
MCU_BOARDS = {  # name: (cpu, fpu, clock_mhz, flash, ram, qemu_machine)
    "qemu-m3": ("cortex-m3", "none", 25, 4 << 20, 4 << 20, "mps2-an385"),
    "qemu-m4": ("cortex-m4", "fpv4-sp-d16", 25, 4 << 20, 4 << 20, "mps2-an386"),
    "qemu-m7": ("cortex-m7", "fpv5-d16", 25, 4 << 20, 4 << 20, "mps2-an500"),
    "qemu-m0": ("cortex-m0", "none", 16, 256 << 10, 16 << 10, "microbit"),
    "stm32f4-discovery": ("cortex-m4", "fpv4-sp-d16", 168, 1 << 20, 192 << 10, None),
    "nucleo-f411re": ("cortex-m4", "fpv4-sp-d16", 100, 512 << 10, 128 << 10, None),
    "nrf52840-dk": ("cortex-m4", "fpv4-sp-d16", 64, 1 << 20, 256 << 10, None),
    "rp2040": ("cortex-m0plus", "none", 133, 2 << 20, 264 << 10, None),
    "nucleo-h743zi": ("cortex-m7", "fpv5-d16", 480, 2 << 20, 996 << 10, None),
}

GOOD_FPGA = """\
name: my-fpga
family: xilinx
part: xc7a35tcpg236-1
clock_ns: 10
resources: {lut: 20800, ff: 41600, dsp: 90, bram: 50}
"""
GOOD_MCU = """\
name: my-mcu
family: cortex-m
cpu: cortex-m4
fpu: fpv4-sp-d16
clock_mhz: 80
flash: 1048576
ram: 128 KiB
"""


def write(tmp_path, text: str, file_name: str = "board.yaml") -> str:
    path = tmp_path / file_name
    path.write_text(text)
    return str(path)


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def board_error(path: str) -> str:
    with pytest.raises(ModelError) as caught:
        get_board(path)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(f"board file {path!r}: "), message
    return message


# --- shipped boards -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("file_name", SHIPPED_FILES)
def test_every_shipped_board_file_validates_and_is_named_after_its_board(file_name):
    board = read_board_file(os.path.join(BOARD_DIR, file_name))
    assert os.path.splitext(file_name)[0] == board.name
    assert known_boards()[board.name] == board
    assert board.kind in ("fpga", "mcu") and board.clock_ns > 0 and board.description


def test_the_shipped_boards_are_the_fpgas_the_microcontrollers_and_the_host():
    assert set(known_boards()) == set(FPGA_BOARDS) | set(MCU_BOARDS) | {"host"}


def test_the_host_is_a_c_target_without_a_memory_budget():
    host = get_board("host")
    assert (host.kind, host.family, host.cpu, host.resources) == ("mcu", "host", "host", {})


@pytest.mark.parametrize("name", FPGA_BOARDS)
def test_fpga_boards_keep_their_part_clock_and_resources(name):
    family, part, clock_ns, lut, ff, dsp, bram = FPGA_BOARDS[name]
    board = get_board(name)
    assert (board.kind, board.family, board.part, board.clock_ns) == ("fpga", family, part, clock_ns)
    assert board.resources == {"lut": lut, "ff": ff, "dsp": dsp, "bram": bram}
    assert (board.cpu, board.fpu, board.clock_mhz, board.flash, board.ram, board.qemu_machine) == (None,) * 6


@pytest.mark.parametrize("name", MCU_BOARDS)
def test_mcu_boards_give_cpu_fpu_clock_memories_and_qemu_machine(name):
    cpu, fpu, clock_mhz, flash, ram, qemu_machine = MCU_BOARDS[name]
    board = get_board(name)
    assert (board.kind, board.family, board.cpu, board.fpu) == ("mcu", "cortex-m", cpu, fpu)
    assert (board.clock_mhz, board.flash, board.ram, board.qemu_machine) == (clock_mhz, flash, ram, qemu_machine)


def test_an_mcu_board_derives_clock_ns_resources_and_part():
    board = get_board("stm32f4-discovery")
    assert board.clock_ns == pytest.approx(1000 / 168)
    assert board.resources == {"flash": 1024 * 1024, "ram": 192 * 1024}
    assert board.part == "STM32F407VGT6"
    assert get_board("qemu-m3").part == "cortex-m3"   # no chip named: the cpu stands in
    assert get_board("qemu-m3").clock_ns == 40.0


def test_the_default_board_is_pynq_z2():
    assert DEFAULT_BOARD == "pynq-z2"
    assert get_board(None) == get_board("") == get_board("pynq-z2")
    assert get_board(None).kind == "fpga"


def test_an_unknown_board_name_lists_the_known_ones():
    with pytest.raises(ModelError, match=r"^unknown board 'nexys-9000' \(known: .*pynq-z2.*\)$") as caught:
        get_board("nexys-9000")
    assert ", ".join(known_boards()) in str(caught.value)


def test_boards_are_frozen_and_callers_cannot_change_the_cached_ones():
    board = get_board("zcu104")
    with pytest.raises(dataclasses.FrozenInstanceError):
        board.clock_ns = 1.0
    board.resources["dsp"] = 0
    known_boards().pop("zcu104")
    assert get_board("zcu104").resources["dsp"] == 1728


def test_the_board_folder_is_parsed_once_per_process():
    assert known_boards()["pynq-z2"] is known_boards()["pynq-z2"] is get_board(None)


# --- a user's board file ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("file_name", ["mine.yaml", "mine.yml"])
def test_a_user_board_file_loads_by_path_with_the_same_schema(tmp_path, file_name):
    board = get_board(write(tmp_path, GOOD_FPGA, file_name))
    assert isinstance(board, Board)
    assert (board.name, board.kind, board.part, board.clock_ns) == ("my-fpga", "fpga", "xc7a35tcpg236-1", 10.0)
    assert board.resources == {"lut": 20800, "ff": 41600, "dsp": 90, "bram": 50}
    assert "my-fpga" not in known_boards()


def test_a_name_with_a_path_separator_is_a_path_whatever_its_ending(tmp_path):
    (tmp_path / "boards").mkdir()
    write(tmp_path / "boards", GOOD_MCU, "mcu.txt")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert get_board(os.path.join("boards", "mcu.txt")).name == "my-mcu"
    finally:
        os.chdir(old)


def test_memory_sizes_take_bytes_or_binary_units(tmp_path):
    board = get_board(write(tmp_path, edit(edit(GOOD_MCU, "flash: 1048576", "flash: 2 MiB"), "ram: 128 KiB",
                                           "ram: 65536")))
    assert (board.flash, board.ram) == (2 * 1024 * 1024, 65536)
    assert all(type(v) is int for v in board.resources.values())


def test_an_mcu_without_an_fpu_says_none(tmp_path):
    board = get_board(write(tmp_path, edit(edit(GOOD_MCU, "cortex-m4", "cortex-m0plus"), "fpv4-sp-d16", "none")))
    assert (board.cpu, board.fpu, board.qemu_machine, board.description) == ("cortex-m0plus", "none", None, "")


# --- broken board files ---------------------------------------------------------------------------------------

BROKEN = [  # (what is wrong, file text, words the message must hold)
    ("unreadable YAML", "name: [pynq\nfamily: xilinx\n", ["not valid YAML", "line"]),
    ("a key given twice", GOOD_FPGA + "clock_ns: 5\n", ["key 'clock_ns' is given twice (line 6)"]),
    ("an empty file", "", ["is empty"]),
    ("a list, not a mapping", "- name: x\n- family: xilinx\n", ["must be a mapping", "a list"]),
    ("a scalar, not a mapping", "pynq-z2\n", ["must be a mapping", "a string"]),
    ("no family", edit(GOOD_FPGA, "family: xilinx\n", ""), ["missing required key 'family'", "xilinx"]),
    ("an unknown family", edit(GOOD_FPGA, "xilinx", "altera"), ["family must be one of", "got 'altera'"]),
    ("a missing key", edit(GOOD_FPGA, "part: xc7a35tcpg236-1\n", ""), ["missing required key 'part'"]),
    ("a missing resource", edit(GOOD_FPGA, ", bram: 50", ""), ["missing required key 'resources.bram'"]),
    ("a misspelt key", edit(GOOD_FPGA, "clock_ns", "clok_ns"), ["unknown key 'clok_ns'", "'clock_ns'"]),
    ("an unknown key", GOOD_FPGA + "vendor: amd\n", ["unknown key 'vendor'", "a xilinx board takes: name"]),
    ("a misspelt resource", edit(GOOD_FPGA, "lut:", "luts:"), ["unknown key 'resources.luts'", "'resources.lut'"]),
    ("an MCU key on an FPGA", GOOD_FPGA + "cpu: cortex-m4\n", ["unknown key 'cpu'"]),
    ("an FPGA key on an MCU", GOOD_MCU + "clock_ns: 12.5\n", ["unknown key 'clock_ns'", "'clock_mhz'"]),
    ("resources not a mapping", edit(GOOD_FPGA, "{lut: 20800, ff: 41600, dsp: 90, bram: 50}", "[1, 2, 3, 4]"),
     ["resources must be a mapping", "got a list"]),
    ("a negative resource", edit(GOOD_FPGA, "dsp: 90", "dsp: -3"), ["resources.dsp must be a non-negative integer"]),
    ("a fractional resource", edit(GOOD_FPGA, "bram: 50", "bram: 50.5"), ["resources.bram", "got 50.5"]),
    ("a boolean resource", edit(GOOD_FPGA, "dsp: 90", "dsp: true"), ["resources.dsp", "got true"]),
    ("a clock that is text", edit(GOOD_FPGA, "clock_ns: 10", "clock_ns: fast"),
     ["clock_ns must be a positive number, got 'fast'"]),
    ("a zero clock", edit(GOOD_FPGA, "clock_ns: 10", "clock_ns: 0"), ["clock_ns must be a positive number, got 0"]),
    ("an empty value", edit(GOOD_FPGA, "part: xc7a35tcpg236-1", "part:"), ["part must be a non-empty string",
                                                                          "got nothing"]),
    ("a part that is a number", edit(GOOD_FPGA, "part: xc7a35tcpg236-1", "part: 7020"), ["part must be", "got 7020"]),
    ("a name with a space", edit(GOOD_FPGA, "name: my-fpga", "name: my fpga"), ["name must be a plain name"]),
    ("an unknown cpu", edit(GOOD_MCU, "cpu: cortex-m4", "cpu: cortex-m5"), ["cpu must be one of", "'cortex-m5'"]),
    ("an unknown fpu", edit(GOOD_MCU, "fpv4-sp-d16", "vfpv3"), ["fpu must be one of", "'vfpv3'"]),
    ("an fpu on a cortex-m3", edit(GOOD_MCU, "cortex-m4", "cortex-m3"),
     ["fpu 'fpv4-sp-d16' does not exist on a cortex-m3", "none"]),
    ("an fpu on a cortex-m0", edit(GOOD_MCU, "cortex-m4", "cortex-m0"), ["fpu 'fpv4-sp-d16'", "cortex-m0"]),
    ("a double-precision fpu on a cortex-m4", edit(GOOD_MCU, "fpv4-sp-d16", "fpv5-d16"),
     ["fpu 'fpv5-d16' does not exist on a cortex-m4"]),
    ("no fpu", edit(GOOD_MCU, "fpu: fpv4-sp-d16\n", ""), ["missing required key 'fpu'"]),
    ("a zero clock_mhz", edit(GOOD_MCU, "clock_mhz: 80", "clock_mhz: 0"), ["clock_mhz must be a positive number"]),
    ("a negative flash", edit(GOOD_MCU, "flash: 1048576", "flash: -1"), ["flash must be a positive number of bytes",
                                                                         "got -1"]),
    ("a decimal-unit ram size", edit(GOOD_MCU, "ram: 128 KiB", "ram: 128 KB"), ["ram must be", "got '128 KB'"]),
    ("a zero ram size", edit(GOOD_MCU, "ram: 128 KiB", "ram: 0 KiB"), ["ram must be", "got '0 KiB'"]),
    ("a qemu machine that is not a name", GOOD_MCU + "qemu_machine: 42\n", ["qemu_machine must be", "got 42"]),
]


@pytest.mark.parametrize("problem, text, words", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_board_file_is_one_clear_error_naming_file_and_field(tmp_path, problem, text, words):
    message = board_error(write(tmp_path, text, "x.yaml"))
    for word in words:
        assert word in message, f"{problem}: {message}"


def test_the_error_reads_as_the_issue_asks(tmp_path):
    path = write(tmp_path, edit(GOOD_FPGA, "dsp: 90", "dsp: -3"), "x.yaml")
    assert board_error(path) == f"board file {path!r}: resources.dsp must be a non-negative integer, got -3"


def test_a_missing_board_file_is_a_clear_error(tmp_path):
    path = str(tmp_path / "absent.yaml")
    assert "cannot read it" in board_error(path)


def test_a_board_name_defined_in_two_files_is_an_error(tmp_path):
    write(tmp_path, GOOD_FPGA, "a.yaml")
    second = write(tmp_path, edit(GOOD_FPGA, "clock_ns: 10", "clock_ns: 4"), "b.yaml")
    with pytest.raises(ModelError) as caught:
        read_board_folder(tmp_path)
    assert str(caught.value).startswith(f"board file {second!r}: name 'my-fpga' is already defined in ")
    assert "a.yaml" in str(caught.value)


def test_a_user_board_file_may_not_reuse_a_shipped_name(tmp_path):
    path = write(tmp_path, edit(GOOD_FPGA, "name: my-fpga", "name: pynq-z2"))
    assert "name 'pynq-z2' is a shipped board's" in board_error(path)


def test_a_folder_reads_yaml_and_yml_and_skips_other_files(tmp_path):
    write(tmp_path, GOOD_FPGA, "fpga.yaml")
    write(tmp_path, GOOD_MCU, "mcu.yml")
    write(tmp_path, "not a board", "README.md")
    boards = read_board_folder(tmp_path)
    assert list(boards) == ["my-fpga", "my-mcu"]
    assert [b.kind for b in boards.values()] == ["fpga", "mcu"]
