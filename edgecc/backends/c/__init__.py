"""C backend: static-memory integer C99 for microcontrollers (and the host), checked on the host with gcc and on
the board's CPU under qemu-system-arm."""
from __future__ import annotations

from ...schedule.c import CCostModel
from .. import Backend, register
from . import emit as _emit
from .ops import EMITTERS


class CBackend(Backend):
    name = "c"
    description = "C99 library for microcontrollers: integer inference in one static arena, float wrapper"
    board_kind = "mcu"
    default_board = "host"
    cost_model = CCostModel
    emitters = EMITTERS
    run_options = {
        "target": "host (default): gcc on this machine; qemu: the board's CPU under qemu-system-arm",
        "portable": "build the portable inner product even where the CPU has the DSP extension",
    }
    compile_options = {
        "pack_weights": (("auto", "on", "off"), "weights of 4 bits or fewer two per byte: auto packs where the loop "
                         "is the portable one (no DSP) and where SMLAD's 16-bit pairs would not fit the flash"),
    }
    sim_tools = ("gcc",)

    def emit(self, g, schedule, board, out_dir, version):
        return _emit.emit(g, schedule, board, out_dir, version, self.emitters)

    def simulate(self, out_dir, report, graph, codes, options, quiet):
        from ...sim import mcu

        return mcu.run(out_dir, report, graph, codes, options.get("target") or "host",
                       bool(options.get("portable")), quiet)


register(CBackend())
