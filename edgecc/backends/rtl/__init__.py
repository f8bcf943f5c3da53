"""RTL backend: synthesizable Verilog-2001, checked cycle by cycle by cocotb on Verilator or Icarus, sized by Yosys."""
from __future__ import annotations

from ...schedule.rtl import RtlCostModel
from .. import Backend, register
from . import emit as _emit
from .ops import EMITTERS


class RtlBackend(Backend):
    name = "rtl"
    description = "Verilog-2001 with ready/valid ports, checked by cocotb on Verilator or Icarus"
    cost_model = RtlCostModel
    emitters = EMITTERS
    run_options = {
        "simulator": "verilator (default) or icarus",
        "stress": "random input gaps and out_ready low cycles",
        "waves": "write a waveform into OUT/waves/",
        "hold_out_ready_low": "hold out_ready low for this many cycles first (backpressure)",
    }

    compile_options = {
        "io_type": (("auto", "parallel", "stream"), "whole vectors on one bus (parallel) or pixels over ready/valid "
                    "with line buffers (stream); auto streams networks whose windows are large"),
    }

    def emit(self, g, schedule, board, out_dir, version):
        return _emit.emit(g, schedule, board, out_dir, version, self.emitters)

    def simulate(self, out_dir, report, graph, codes, options, quiet):
        from ...sim import SimOutput, rtlsim

        simulator = options.get("simulator") or "verilator"
        stress, hold = bool(options.get("stress")), int(options.get("hold_out_ready_low") or 0)
        in_t = graph.tensor(graph.hw_inputs()[0]).type
        out = graph.tensor(graph.outputs[0])
        run = rtlsim.run(out_dir, report, codes, out.shape, out.type.signed, in_t.width, out.type.width, simulator,
                         stress, bool(options.get("waves")), hold, 1, quiet)
        # latency and II are only what the schedule predicts when nothing holds the design back
        return SimOutput(run.codes, simulator, run.latency_cycles, run.latency_max, run.ii_cycles,
                         timing_checked=not (stress or hold))


register(RtlBackend())
