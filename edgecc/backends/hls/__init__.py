"""HLS backend: a Vitis HLS project (firmware, testbench, TCL build script), checked by g++ C simulation."""
from __future__ import annotations

from ...schedule.hls import IO_TYPES, HlsCostModel
from .. import Backend, register
from . import emit as _emit
from .ops import EMITTERS


class HlsBackend(Backend):
    name = "hls"
    description = "Vitis/Vivado HLS C++ project, checked by C simulation (g++ with ap_types)"
    cost_model = HlsCostModel
    emitters = EMITTERS
    run_options: dict[str, str] = {}
    compile_options = {
        "io_type": (IO_TYPES, "parallel (default): arrays, one pipelined top function; stream: hls::stream of "
                    "pixels, line buffers, one DATAFLOW process per layer; auto: stream where the model has windows "
                    "(Conv, pooling)"),
    }
    sim_tools = ("g++",)

    def emit(self, g, schedule, board, out_dir, version):
        return _emit.emit(g, schedule, board, out_dir, version, self.emitters)

    def simulate(self, out_dir, report, graph, codes, options, quiet):
        from ...sim import SimOutput, csim

        out_shape = graph.tensor(graph.outputs[0]).shape
        return SimOutput(csim.run(out_dir, report["top"], codes, out_shape, quiet), "csim-g++")


register(HlsBackend())
