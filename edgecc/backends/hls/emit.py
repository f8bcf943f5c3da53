"""HLS project writer: a scheduled Graph -> a self-contained Vitis HLS project (firmware, testbench, TCL, ap_types).

The top function calls one layer template per node (edgecc_layers.h); each op's call is written by its own
template (templates/hls/ops/<op>.j2) from the plain data its emitter in ops.py returns. The schedule says the I/O
style: a "pipeline" composition is io_parallel (arrays, one pipelined top), a "dataflow" one io_stream (a stream of
pixels per tensor, one DATAFLOW process per layer, a fork where a tensor has several readers, FIFO depths from the
schedule's edges).
"""
from __future__ import annotations

import importlib.util
import os
import shutil

import numpy as np

from ...errors import ModelError, UnsupportedOp
from ...ir.graph import Graph, Node, Tensor
from ...ir.types import FixedType
from ...templates import folder, render, template_env
from ..common import Namer, label, write_test_vectors

TEMPLATES = folder("hls")
MAX_PORT_BITS = 64   # the testbench moves codes as 64-bit integers
MAX_CONST_BITS = 64  # constants are stored as codes of a C integer type
PER_ROW = 16
DEFAULT_FIFO_DEPTH = 2
OUTPUT_PORT = ""     # the reader name of the design's output port


def ap_types_dir() -> str:
    """The ap_types headers that the installed hls4ml package ships (Apache-2.0), found without importing it."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("hls4ml is not installed: its ap_types headers are needed for HLS projects (make setup)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "templates", "vivado", "ap_types")
    if not os.path.isfile(os.path.join(path, "ap_fixed.h")):
        raise ModelError(f"ap_types headers not found in {path}")
    return path


def is_stream(schedule) -> bool:
    return schedule.composition == "dataflow"


class HlsProject:
    """What op emitters write into: names, one type per tensor, constant headers, rounding intermediates, and the
    variable (array or stream) each node reads and writes."""

    def __init__(self, g: Graph, schedule, out_dir: str):
        self.g = g
        self.schedule = schedule
        self.out_dir = out_dir
        self.stream = is_stream(schedule)
        self.env = template_env("hls")
        self.names = Namer(reserved={"x", "y", "input_t", "result_t", "input_pixel_t", "result_pixel_t",
                                     "N_INPUT", "N_OUTPUT", "N_INPUT_CHANNELS", "N_OUTPUT_CHANNELS"})
        self.types: list[dict] = []
        self.declared: set[str] = set()
        self.headers: list[str] = []
        self.rounding_types: list[dict] = []
        self.windows: list[dict] = []
        self.buffers: list[dict] = []
        self.var: dict[str, str] = {}
        self.chunks: dict[str, int] = {}                 # pixel size where it is not the last axis
        self.aliases: dict[str, str] = {}                # tensor -> the tensor whose variable it is
        self.reads: dict[tuple[str, int], str] = {}      # (node, input index) -> the variable it reads
        self.readers = readers(g)
        # (tensor, reading unit) -> the FIFO depth the schedule gives that edge
        self.edge_depths = {(e.tensor, e.unit): e.depth for e in schedule.edges if e.buffer == "fifo"}

    # ---- types and constants ---------------------------------------------------------------------------------
    def typename(self, tensor: str) -> str:
        """The type name of a tensor's values (an aliased tensor's are its source's)."""
        if tensor in self.aliases:
            return self.typename(self.aliases[tensor])
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

    def index_table(self, hint: str, values, layer_label: str) -> str:
        """A constant table of non-negative integers (index maps), in the narrowest C integer type."""
        values = np.asarray(values, dtype=np.int64)
        t = FixedType.covering(0, int(values.max(initial=0)), 0)
        return self.constant(hint, Tensor(f"{hint}_index", values.shape, t, values), layer_label)

    def window(self, node: Node) -> str:
        """The typedef of a windowed node's geometry (edgecc::Window); 1-D windows have one row."""
        g, a = self.g, node.attrs
        in_shape, out_shape = g.tensor(node.inputs[0]).shape, g.tensor(node.output).shape
        rank = len(in_shape) - 1
        lead = [1] * (2 - rank)
        pads = a["pads"]
        name = self.names(f"{node.name}_window_t", "type")
        self.windows.append({"typename": name, "label": label(node.name), "params": [
            *(lead + list(in_shape[:-1])), in_shape[-1], *(lead + list(out_shape[:-1])),
            *(lead + list(a["kernel"])), *(lead + list(a["strides"])), *(lead + list(a["dilations"])),
            *([0] * (2 - rank) + list(pads[:rank]))]})
        return name

    # ---- variables ----------------------------------------------------------------------------------------------
    def chunk(self, tensor: str) -> int:
        """Values per pixel: the last axis (all channels of one position), unless the tensor aliases another."""
        return self.chunks.get(tensor, self.g.tensor(tensor).shape[-1])

    def input(self, node: Node, k: int = 0) -> str:
        """The variable node reads as its k-th input (a fork's copy where a stream has several readers)."""
        return self.reads.get((node.name, k), self.var[node.inputs[k]])

    def output(self, node: Node) -> str:
        """The variable node writes (declared here; the design's output port is y)."""
        t = node.output
        if t not in self.var:
            readers = self.readers.get(t, [])
            depth = self.edge_depths.get((t, readers[0][0])) if len(readers) == 1 else None
            self.var[t] = self.buffer(self.names(t, "var"), self.g.tensor(t).size, self.typename(t), self.chunk(t),
                                      depth)
        return self.var[t]

    def alias(self, node: Node) -> None:
        """node's output is its input's variable, pixels and all (a stream Reshape that its Dense reads as is)."""
        self.var[node.output] = self.input(node, 0)
        self.chunks[node.output] = self.chunk(node.inputs[0])
        self.aliases[node.output] = node.inputs[0]

    def buffer(self, name: str, size: int, typename: str, chunk: int, depth: int | None = None) -> str:
        """Declare an array (io_parallel) or a stream of pixels of `chunk` values with a FIFO depth (io_stream)."""
        self.buffers.append({"name": name, "size": size, "typename": typename, "chunk": chunk,
                             "depth": depth or DEFAULT_FIFO_DEPTH})
        return name

    def forks(self, tensor: str) -> list[dict]:
        """A stream with several readers goes through a chain of two-way forks, one copy per reader."""
        size, typename, chunk = self.g.tensor(tensor).size, self.typename(tensor), self.chunk(tensor)
        copies = []
        for node, k in self.readers[tensor]:
            if node == OUTPUT_PORT:
                copies.append("y")
                continue
            twice = sum(1 for n, _ in self.readers[tensor] if n == node) > 1  # e.g. Concat(a, b, a)
            name = self.buffer(self.names(f"{tensor}_to_{node}" + (f"_in{k}" if twice else ""), "var"), size,
                               typename, chunk, self.edge_depths.get((tensor, node)))
            self.reads[(node, k)] = name
            copies.append(name)
        steps, source = [], self.var[tensor]
        for k, copy in enumerate(copies[:-1]):
            rest = copies[-1] if k == len(copies) - 2 else self.buffer(
                self.names(f"{tensor}_fork{k + 1}", "var"), size, typename, chunk)
            steps.append({"op": "fork", "label": label(tensor), "x": source, "a": copy, "b": rest, "x_t": typename,
                          "size": size, "c": chunk, "microarch": "fork", "reuse": 1, "out_type": ""})
            source = rest
        return steps


def readers(g: Graph) -> dict[str, list[tuple[str, int]]]:
    """Every activation tensor's readers in order: (node, input index), and (OUTPUT_PORT, 0) for the output."""
    out: dict[str, list[tuple[str, int]]] = {}
    for node in g.compute_nodes():
        for k, t in enumerate(node.inputs):
            if not g.tensor(t).is_const:
                out.setdefault(t, []).append((node.name, k))
    for t in g.outputs:
        out.setdefault(t, []).append((OUTPUT_PORT, 0))
    return out


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
    prj.declare(hw_in[0], g.tensor(hw_in[0]).type, comment="design input")
    forked = {t for t, r in prj.readers.items() if prj.stream and len(r) > 1}
    prj.var[hw_in[0]] = "x"
    if outputs[0] not in forked:
        prj.var[outputs[0]] = "y"
    steps = prj.forks(hw_in[0]) if hw_in[0] in forked else []
    for node in g.compute_nodes():
        layer = schedule.layer(node.name)
        step = emitters.of(node)(prj, node)
        steps.append({**step, "op": node.op, "label": label(node.name), "reuse": layer.reuse,
                      "microarch": layer.microarch, "out_type": str(g.tensor(node.output).type)})
        if node.output in forked:
            steps += prj.forks(node.output)

    in_t, out_t = g.tensor(hw_in[0]).type, g.tensor(outputs[0]).type
    common = {"top": top, "version": version, "source": label(g.meta.get("source", g.name)),
              "guard": f"EDGECC_{top.upper()}", "latency_cycles": schedule.latency_cycles,
              "ii_cycles": schedule.ii_cycles, "clock_ns": f"{schedule.clock_ns:g}", "stream": prj.stream,
              "io_type": "stream" if prj.stream else "parallel"}
    fw = os.path.join(out_dir, "firmware")
    render(prj.env, "firmware/parameters.h.j2", os.path.join(fw, "parameters.h"), **common, tensors=prj.types,
           rounding_types=prj.rounding_types, windows=prj.windows, n_input=g.tensor(hw_in[0]).size,
           n_output=g.tensor(outputs[0]).size, input_type=prj.typename(hw_in[0]),
           output_type=prj.typename(outputs[0]), input_channels=prj.chunk(hw_in[0]),
           output_channels=prj.chunk(outputs[0]))
    render(prj.env, "firmware/top.h.j2", os.path.join(fw, f"{top}.h"), **common)
    render(prj.env, "firmware/top.cpp.j2", os.path.join(fw, f"{top}.cpp"), **common, buffers=prj.buffers,
           steps=steps, weight_headers=sorted(set(prj.headers)))
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
    return {"top": top, "input_type": str(in_t), "output_type": str(out_t), "io_type": common["io_type"]}
