"""HLS project writer: a scheduled Graph -> a self-contained Vitis HLS project (firmware, testbench, TCL, ap_types).

The top function calls one layer template per node (edgecc_layers.h); each op's call is written by its own
template (templates/hls/ops/<op>.j2) from the plain data its emitter in ops.py returns.
"""
from __future__ import annotations

import importlib.util
import os
import shutil

import numpy as np

from ...errors import ModelError, UnsupportedOp
from ...ir.graph import Graph, Tensor
from ...ir.types import FixedType
from ...templates import folder, render, template_env
from ..common import Namer, label, write_test_vectors

TEMPLATES = folder("hls")
MAX_PORT_BITS = 64   # the testbench moves codes as 64-bit integers
MAX_CONST_BITS = 64  # constants are stored as codes of a C integer type
PER_ROW = 16


def ap_types_dir() -> str:
    """The ap_types headers that the installed hls4ml package ships (Apache-2.0), found without importing it."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("hls4ml is not installed: its ap_types headers are needed for HLS projects (make setup)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "templates", "vivado", "ap_types")
    if not os.path.isfile(os.path.join(path, "ap_fixed.h")):
        raise ModelError(f"ap_types headers not found in {path}")
    return path


class HlsProject:
    """What op emitters write into: names, one type per tensor, constant headers, rounding intermediates."""

    def __init__(self, g: Graph, schedule, out_dir: str):
        self.g = g
        self.schedule = schedule
        self.out_dir = out_dir
        self.env = template_env("hls")
        self.names = Namer(reserved={"x", "y", "input_t", "result_t", "N_INPUT", "N_OUTPUT"})
        self.types: list[dict] = []
        self.declared: set[str] = set()
        self.headers: list[str] = []
        self.rounding_types: list[dict] = []
        self.var: dict[str, str] = {}

    def typename(self, tensor: str) -> str:
        return self.names(f"{tensor}_t", "type")

    def declare(self, tensor: str, ftype: FixedType, with_modes: bool = False, comment: str = "") -> str:
        """The typedef of a tensor's type (plain ap_fixed unless it must round or saturate by itself)."""
        name = self.typename(tensor)
        if name not in self.declared:
            self.declared.add(name)
            self.types.append({"typename": name, "ctype": ftype.ap_type(with_modes=with_modes),
                               "comment": comment or str(ftype)})
        return name

    def new_type(self, hint: str, ftype: FixedType, comment: str) -> str:
        name = self.names(hint, "type")
        self.types.append({"typename": name, "ctype": ftype.ap_type(), "comment": comment})
        return name

    def variable(self, tensor: str) -> str:
        return self.var[tensor]

    def constant(self, hint: str, tensor: Tensor, layer_label: str, typename: str | None = None) -> str:
        """A constant as integer codes of a C integer type (fast to compile, a ROM in synthesis): its header is
        written and included; returns its C name."""
        if tensor.type.width > MAX_CONST_BITS:
            raise UnsupportedOp(f"constant {tensor.name!r} is {tensor.type.width} bits wide; the HLS backend stores "
                                f"constants of at most {MAX_CONST_BITS} bits")
        cname = self.names(hint, "const")
        typename = typename or self.declare(tensor.name, tensor.type)
        codes = [int(c) for c in np.ravel(tensor.data)]
        render(self.env, "firmware/weights.h.j2", os.path.join(self.out_dir, "firmware", "weights", f"{cname}.h"),
               label=layer_label, guard=f"EDGECC_{cname.upper()}", typename=typename, name=cname, size=tensor.size,
               rows=[", ".join(map(str, codes[i:i + PER_ROW])) for i in range(0, len(codes), PER_ROW)],
               type=str(tensor.type),
               frac=tensor.type.frac, ctype=tensor.type.c_int_type())
        self.headers.append(f"{cname}.h")
        return cname


def emit(g: Graph, schedule, board, out_dir: str, version: str, emitters) -> dict:
    """Write the HLS project into out_dir; returns facts for the report."""
    hw_in, outputs = g.hw_inputs(), g.outputs
    if len(hw_in) != 1 or len(outputs) != 1:
        raise UnsupportedOp(f"the HLS backend needs one input and one output; the model has {len(hw_in)} and "
                            f"{len(outputs)}")
    for t in (hw_in[0], outputs[0]):
        if g.tensor(t).type.width > MAX_PORT_BITS:
            raise UnsupportedOp(f"port tensor {t!r} is {g.tensor(t).type.width} bits wide; at most {MAX_PORT_BITS}")
    prj = HlsProject(g, schedule, out_dir)
    top = prj.names(g.name or "model", "top")
    prj.var = {hw_in[0]: "x", outputs[0]: "y"}
    prj.declare(hw_in[0], g.tensor(hw_in[0]).type, comment="design input")
    buffers, steps = [], []
    for node in g.compute_nodes():
        out = node.output
        if out not in prj.var:
            prj.var[out] = prj.names(out, "var")
            buffers.append({"name": prj.var[out], "size": g.tensor(out).size, "typename": prj.typename(out)})
        layer = schedule.layer(node.name)
        step = emitters.of(node)(prj, node)
        steps.append({**step, "op": node.op, "label": label(node.name), "reuse": layer.reuse,
                      "microarch": layer.microarch, "out_type": str(g.tensor(out).type)})

    in_t, out_t = g.tensor(hw_in[0]).type, g.tensor(outputs[0]).type
    common = {"top": top, "version": version, "source": label(g.meta.get("source", g.name)),
              "guard": f"EDGECC_{top.upper()}", "latency_cycles": schedule.latency_cycles,
              "ii_cycles": schedule.ii_cycles, "clock_ns": f"{schedule.clock_ns:g}"}
    fw = os.path.join(out_dir, "firmware")
    render(prj.env, "firmware/parameters.h.j2", os.path.join(fw, "parameters.h"), **common, tensors=prj.types,
           rounding_types=prj.rounding_types, n_input=g.tensor(hw_in[0]).size, n_output=g.tensor(outputs[0]).size,
           input_type=prj.typename(hw_in[0]), output_type=prj.typename(outputs[0]))
    render(prj.env, "firmware/top.h.j2", os.path.join(fw, f"{top}.h"), **common)
    render(prj.env, "firmware/top.cpp.j2", os.path.join(fw, f"{top}.cpp"), **common, buffers=buffers, steps=steps,
           weight_headers=sorted(set(prj.headers)))
    shutil.copyfile(os.path.join(TEMPLATES, "firmware", "edgecc_layers.h"), os.path.join(fw, "edgecc_layers.h"))
    render(prj.env, "tb/tb.cpp.j2", os.path.join(out_dir, "tb", f"tb_{top}.cpp"), **common,
           input_signed=in_t.signed, output_signed=out_t.signed)
    render(prj.env, "build_hls.tcl.j2", os.path.join(out_dir, "build_hls.tcl"), **common, board=board.name,
           part=board.part)
    shutil.copytree(ap_types_dir(), os.path.join(out_dir, "ap_types"))
    n_tb = write_test_vectors(g, os.path.join(out_dir, "tb_data"))
    render(prj.env, "README.md.j2", os.path.join(out_dir, "README.md"), **common, board=board.name, part=board.part,
           n_input=g.tensor(hw_in[0]).size, n_output=g.tensor(outputs[0]).size,
           input_type=in_t.ap_type(with_modes=False), output_type=out_t.ap_type(with_modes=False),
           layers=[{**l.to_json(), "name": label(l.name)} for l in schedule.layers], n_tb=n_tb)
    return {"top": top, "input_type": str(in_t), "output_type": str(out_t)}
