"""HLS backend: a scheduled Graph -> a self-contained Vitis HLS project (firmware, testbench, TCL, ap_types)."""
from __future__ import annotations

import importlib.util
import os
import shutil

import numpy as np

from ...errors import ModelError, UnsupportedOp
from ...ir.graph import Graph, Node, Tensor
from ...ir.types import AP_QUANT_MODE, FixedType
from ..common import Namer, render, template_env, write_test_vectors

TEMPLATES = os.path.join(os.path.dirname(__file__), "..", "..", "templates", "hls")
MAX_PORT_BITS = 64  # the testbench moves codes as 64-bit integers


def ap_types_dir() -> str:
    """The ap_types headers that the installed hls4ml package ships (Apache-2.0), found without importing it."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("hls4ml is not installed: its ap_types headers are needed for HLS projects (make setup)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "templates", "vivado", "ap_types")
    if not os.path.isfile(os.path.join(path, "ap_fixed.h")):
        raise ModelError(f"ap_types headers not found in {path}")
    return path


def _env() -> jinja2.Environment:
    return template_env(TEMPLATES)


def _rows(codes, per_row: int = 16) -> list[str]:
    lits = [str(int(c)) for c in np.ravel(codes)]
    return [", ".join(lits[i:i + per_row]) for i in range(0, len(lits), per_row)]


def _label(text: str) -> str:
    """A model name made safe to print inside a C++ comment or a Markdown table."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_-.:" else "_" for c in str(text))[:80]


def _write_constant(env, out_dir: str, cname: str, label: str, typename: str, tensor: Tensor) -> None:
    """A constant as integer codes of a C integer type (fast to compile, a ROM in synthesis)."""
    if tensor.type.width > 64:
        raise UnsupportedOp(f"constant {tensor.name!r} is {tensor.type.width} bits wide; at most 64")
    render(env, "firmware/weights.h.j2", os.path.join(out_dir, "firmware", "weights", f"{cname}.h"),
           label=label, guard=f"EDGECC_{cname.upper()}", typename=typename, name=cname, size=tensor.size,
           rows=_rows(tensor.data), type=str(tensor.type), frac=tensor.type.frac, ctype=tensor.type.c_int_type())


def _explicit_quantizer(g: Graph, node: Node) -> bool:
    out_t = g.tensor(node.output).type
    natural = (out_t.min_int, out_t.max_int) == (node.attrs["lo"], node.attrs["hi"])
    return AP_QUANT_MODE[node.attrs["rounding"]] is None or (out_t.overflow != "WRAP" and not natural)


def _rounding_intermediate(in_t: FixedType, out_t: FixedType, rounding: str) -> FixedType:
    """Out's fractional bits and integer room for any value of in_t rounded up by one step."""
    integer = max(in_t.integer + (0 if in_t.signed else 1), out_t.integer) + 2
    mode = rounding if AP_QUANT_MODE[rounding] else "FLOOR"
    return FixedType(integer + out_t.frac, integer, True, mode, "WRAP")


def emit(g: Graph, sched, board, out_dir: str, version: str) -> dict:
    """Write the HLS project into out_dir; returns facts for the report."""
    names = Namer(reserved={"x", "y", "input_t", "result_t", "N_INPUT", "N_OUTPUT"})
    top = names(g.name or "model", "top")
    env = _env()
    hw_in, outputs = g.hw_inputs(), g.outputs
    if len(hw_in) != 1 or len(outputs) != 1:
        raise UnsupportedOp(f"the HLS backend needs one input and one output; the model has {len(hw_in)} and "
                            f"{len(outputs)}")
    for t in (hw_in[0], outputs[0]):
        if g.tensor(t).type.width > MAX_PORT_BITS:
            raise UnsupportedOp(f"port tensor {t!r} is {g.tensor(t).type.width} bits wide; at most {MAX_PORT_BITS}")

    tensor_types, buffers, steps, weight_headers, explicit = [], [], [], [], []
    var = {hw_in[0]: "x", outputs[0]: "y"}

    def typename(tensor: str) -> str:
        return names(f"{tensor}_t", "type")

    def declare_type(tensor: str, ctype: str, comment: str = "") -> None:
        tensor_types.append({"typename": typename(tensor), "ctype": ctype, "comment": comment})

    declare_type(hw_in[0], g.tensor(hw_in[0]).type.ap_type(with_modes=False), "design input")
    for node in g.compute_nodes():
        out = node.output
        out_t = g.tensor(out).type
        label = _label(node.name)
        if out not in var:
            var[out] = names(out, "var")
            buffers.append({"typename": typename(out), "name": var[out], "size": g.tensor(out).size})
        if node.op == "Quantize" and not _explicit_quantizer(g, node):
            declare_type(out, out_t.ap_type(), str(out_t))
        else:
            declare_type(out, out_t.ap_type(with_modes=False), str(out_t))
        args = [var[t] if t in var else None for t in node.inputs]
        size = g.tensor(out).size
        step = {"label": label, "op": node.op, "reuse": None, "out_type": str(out_t)}
        if node.op == "Dense":
            x_t = g.tensor(node.inputs[0])
            k, m = g.tensor(node.inputs[1]).shape
            outer = x_t.size // k
            w_name = names(f"{node.name}_w", "const")
            consts = [(w_name, node.inputs[1])]
            if len(node.inputs) > 2:
                b_name = names(f"{node.name}_b", "const")
                consts.append((b_name, node.inputs[2]))
            else:
                b_name = names(f"{node.name}_zero_bias", "const")
            for cname, tname in consts:
                ct = g.tensor(tname)
                declare_type(tname, ct.type.ap_type(with_modes=False), f"{cname} {ct.type}")
                header = f"{cname}.h"
                _write_constant(env, out_dir, cname, label, typename(tname), ct)
                weight_headers.append(f"{cname}.h")
            if len(node.inputs) <= 2:  # no bias in the model: a zero that synthesis removes
                zero_t = names(f"{b_name}_t", "type")
                zero = Tensor(b_name, (m,), FixedType(1, 1, False), np.zeros(m, dtype=np.int64))
                tensor_types.append({"typename": zero_t, "ctype": zero.type.ap_type(), "comment": "no bias"})
                _write_constant(env, out_dir, b_name, label, zero_t, zero)
                weight_headers.append(f"{b_name}.h")
                b_type = zero_t
            else:
                b_type = typename(node.inputs[2])
            acc_name = names(f"{node.name}_acc_t", "type")
            acc_t = node.attrs["accumulator_type"]
            tensor_types.append({"typename": acc_name, "ctype": acc_t.ap_type(with_modes=False),
                                 "comment": f"accumulator of {label}"})
            reuse = int(node.attrs.get("reuse_factor", 1))
            relu = "true" if node.attrs.get("activation") == "relu" else "false"
            step["reuse"] = reuse
            step["call"] = (f"edgecc::dense<{typename(node.inputs[0])}, {typename(node.inputs[1])}, {b_type}, "
                            f"{acc_name}, {typename(out)}, {outer}, {k}, {m}, {reuse}, {relu}>"
                            f"({args[0]}, {var[out]}, {w_name}, {b_name});")
        elif node.op == "Relu":
            step["call"] = f"edgecc::relu<{typename(node.inputs[0])}, {typename(out)}, {size}>({args[0]}, {var[out]});"
        elif node.op == "Reshape":
            step["call"] = f"edgecc::copy<{typename(node.inputs[0])}, {typename(out)}, {size}>({args[0]}, {var[out]});"
        elif node.op == "Add":
            operands = []
            for t in node.inputs:
                if t in var:
                    operands.append(var[t])
                    continue
                ct = g.tensor(t)
                cname = names(f"{node.name}_c", "const")
                declare_type(t, ct.type.ap_type(with_modes=False), f"{cname} {ct.type}")
                _write_constant(env, out_dir, cname, label, typename(t), ct)
                weight_headers.append(f"{cname}.h")
                operands.append(cname)
            a_t, b_t = (typename(t) for t in node.inputs)
            if all(t in var for t in node.inputs):
                step["call"] = f"edgecc::add<{a_t}, {b_t}, {typename(out)}, {size}>({operands[0]}, {operands[1]}, {var[out]});"
            else:  # the frontend puts a constant operand second
                step["call"] = (f"edgecc::add_const<{a_t}, {b_t}, {typename(out)}, {size}>({operands[0]}, "
                                f"{operands[1]}, {var[out]});")
        elif node.op == "Quantize":
            in_type = typename(node.inputs[0])
            if not _explicit_quantizer(g, node):
                step["call"] = f"edgecc::quantize_cast<{in_type}, {typename(out)}, {size}>({args[0]}, {var[out]});"
            else:
                rounding = node.attrs["rounding"]
                r_t = _rounding_intermediate(g.tensor(node.inputs[0]).type, out_t, rounding)
                r_name = names(f"{node.name}_round_t", "type")
                explicit.append({"rtype": r_t.ap_type(), "rtypename": r_name, "label": label})
                mode = {"CEIL": "edgecc::ROUND_CEIL", "UP": "edgecc::ROUND_UP"}.get(rounding, "edgecc::ROUND_AP")
                saturate = "false" if out_t.overflow == "WRAP" else "true"
                lo, hi = int(node.attrs["lo"]), int(node.attrs["hi"])
                step["call"] = (f"edgecc::quantize_explicit<{in_type}, {r_name}, {typename(out)}, {mode}, "
                                f"{saturate}, {size}>({args[0]}, {var[out]}, "
                                f"edgecc::from_bits<{r_name}>({lo}LL), edgecc::from_bits<{r_name}>({hi}LL));")
        else:
            raise UnsupportedOp(f"the HLS backend cannot emit op {node.op}", node.name)
        steps.append(step)

    in_t, out_t = g.tensor(hw_in[0]).type, g.tensor(outputs[0]).type
    common = {"top": top, "version": version, "source": _label(g.meta.get("source", g.name)),
              "guard": f"EDGECC_{top.upper()}", "latency_cycles": sched.latency_cycles,
              "ii_cycles": sched.ii_cycles, "clock_ns": f"{sched.clock_ns:g}"}
    fw = os.path.join(out_dir, "firmware")
    render(env, "firmware/parameters.h.j2", os.path.join(fw, "parameters.h"), **common, tensors=tensor_types,
           explicit_quantizers=explicit, n_input=g.tensor(hw_in[0]).size, n_output=g.tensor(outputs[0]).size,
           input_type=typename(hw_in[0]), output_type=typename(outputs[0]))
    render(env, "firmware/top.h.j2", os.path.join(fw, f"{top}.h"), **common)
    render(env, "firmware/top.cpp.j2", os.path.join(fw, f"{top}.cpp"), **common, buffers=buffers, steps=steps,
           weight_headers=sorted(set(weight_headers)))
    shutil.copyfile(os.path.join(TEMPLATES, "firmware", "edgecc_layers.h"), os.path.join(fw, "edgecc_layers.h"))
    render(env, "tb/tb.cpp.j2", os.path.join(out_dir, "tb", f"tb_{top}.cpp"), **common, output_signed=out_t.signed)
    render(env, "build_hls.tcl.j2", os.path.join(out_dir, "build_hls.tcl"), **common, board=board.name,
           part=board.part)
    shutil.copytree(ap_types_dir(), os.path.join(out_dir, "ap_types"))
    n_tb = write_test_vectors(g, os.path.join(out_dir, "tb_data"))
    render(env, "README.md.j2", os.path.join(out_dir, "README.md"), **common, board=board.name, part=board.part,
           n_input=g.tensor(hw_in[0]).size, n_output=g.tensor(outputs[0]).size,
           input_type=in_t.ap_type(with_modes=False), output_type=out_t.ap_type(with_modes=False),
           layers=[{**l.to_json(), "name": _label(l.name)} for l in sched.layers], n_tb=n_tb)
    return {"top": top, "input_type": str(in_t), "output_type": str(out_t)}
