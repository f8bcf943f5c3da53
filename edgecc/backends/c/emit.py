"""C project writer: a scheduled Graph -> a small C99 library (include/, src/) with a float wrapper, harnesses for the
host and for qemu boards (semihosting, startup code, linker script), a Makefile and test vectors.

Every unit is one static function; `<model>_infer` calls them in order on one static arena laid out by the
schedule. Every external symbol starts with the model's sanitized name, so two models link into one firmware.
"""
from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

from ...errors import UnsupportedOp
from ...ir.graph import Graph
from ...ir.scales import channel_factors
from ...schedule.c import is_step, scratch_name
from ...templates import render, template_env
from ..common import Namer, label, write_test_vectors
from .ops import CUnit, container

def stack_bytes(ram: int) -> int:
    """The harness's stack: an eighth of RAM, between 2 KiB and 16 KiB."""
    return max(2048, min(16384, ram // 8 // 8 * 8))


def _storage(schedule, tensor: str, const: bool) -> dict:
    """Where and in which C type a tensor is stored, as the schedule planned it (plain data for the templates)."""
    plan = schedule.buffer(tensor)
    ctype = plan.ctype
    while plan.home == "alias":
        plan = schedule.buffer(plan.alias_of)
    return {"ctype": ctype, "ptr": {"home": plan.home, "offset": plan.offset, "const": const}}


def _build_unit(g: Graph, unit, schedule, emitters, prefix: str, index: int) -> dict:
    inputs = [_storage(schedule, t, True) for t in unit.inputs]
    output = _storage(schedule, unit.output, False)
    scratch = None
    # SMLAD reads 16-bit storage as pairs (an unsigned code below 2^15 has the same bits); where the unit's input is
    # stored otherwise (or a Conv would read past the caller's buffer), the unit widens it into its scratch first
    if any(b.tensor == scratch_name(unit.name) for b in schedule.buffers):
        scratch = {"home": "arena", "offset": schedule.buffer(scratch_name(unit.name)).offset, "const": False}
    u = CUnit(g, unit, f"{prefix}_u{index}", in_ctypes=[i["ctype"] for i in inputs], widens=scratch is not None)
    if is_step(g, g.node(unit.head)):  # an elementwise loop over its one input
        src = g.tensor(unit.inputs[0])
        u.source(src.type, src.size)
    for name in unit.nodes:
        node = g.node(name)
        emitters.of(node)(u, node)
    if unit.point.microarch in ("alias", "c_copy"):
        u.kind = "copy" if unit.point.microarch == "c_copy" else "alias"
    ct = container(u.bits, f"unit {label(unit.name)}", unit.head)
    ct_bits = 32 if ct == "int32_t" else 64
    helpers = sorted({("round", s["mode"], ct_bits) for s in u.steps if s["op"] == "requantize" and s["shift"] > 0}
                     | {("scale", "", s["bits"]) for s in u.steps if s["op"] == "scale"}
                     | ({("divide", u.data["mode"], ct_bits)} if u.data.get("op") == "avg" else set())
                     | ({("smlad8", inputs[0]["ctype"], 0)} if u.data.get("smlad", {}).get("path") == "smlad8"
                        else set()))
    return {"fn": u.prefix, "label": label(unit.name), "nodes": [label(n) for n in unit.nodes], "kind": u.kind,
            "microarch": unit.point.microarch, "data": u.data, "steps": u.steps, "ct": ct, "ct_bits": ct_bits,
            "inputs": inputs, "output": output, "scratch": scratch, "convert": scratch is not None,
            "constants": u.constants, "helpers": helpers}


def _boundary_scales(g: Graph, in_q, out) -> dict:
    """The float wrapper's view of scales that are not powers of two: the input quantizer's float32 recipe (scale,
    zero point, whether it is added before the rounding) and the output's real step per channel, as C hex literals
    (exact: a float32 scale times 2**-frac is a double)."""
    out_steps = None
    if out.scale is not None:
        steps = [f * Fraction(2) ** -out.type.frac for f in channel_factors(out.scale, out.shape)]
        out_steps = [float(v).hex() for v in steps]
    scale = in_q.attrs.get("scale")
    in_t = g.tensor(in_q.output)
    return {"in_factor": _factor_text(in_t), "out_factor": _factor_text(out),
            "in_scale": float(np.float32(scale)).hex() if scale is not None else None,
            "zero_point": int(in_q.attrs.get("zero_point", 0)),
            "zero_point_first": bool(in_q.attrs.get("zero_point_first")),
            "out_steps": out_steps, "out_step_float": None if out.scale is None else
            float(np.float32(float(np.ravel(out.scale)[0]) * 2.0 ** -out.type.frac)).hex()}


def _factor_text(t) -> str:
    """A tensor's scale factor for a comment: ' * 0.0113243' (empty where it is 1)."""
    if t.scale is None:
        return ""
    values = np.ravel(t.scale)
    return f" * {float(values[0]):.9g}" if values.size == 1 else " * its channel's scale"


def emit(g: Graph, schedule, board, out_dir: str, version: str, emitters) -> dict:
    """Write the C project into out_dir; returns facts for the report."""
    hw_in, outputs = g.hw_inputs(), g.outputs
    if len(hw_in) != 1 or len(outputs) != 1:
        raise UnsupportedOp(f"the C backend needs one input and one output; the model has {len(hw_in)} and "
                            f"{len(outputs)}")
    names = Namer()
    prefix = names(g.name or "model", "prefix").lower()
    in_t, out_t = g.tensor(hw_in[0]), g.tensor(outputs[0])
    units = [_build_unit(g, u, schedule, emitters, prefix, k) for k, u in enumerate(schedule.units)]
    helpers = sorted({h for u in units for h in u["helpers"]})
    arena = max((b.offset + b.size for b in schedule.buffers if b.home == "arena"), default=0)
    env = template_env("c")
    in_q = g.input_quantizers()[0]
    scales = _boundary_scales(g, in_q, out_t)
    common = {"prefix": prefix, "macro": prefix.upper(), "version": version, **scales,
              "source": label(g.meta.get("source", g.name)), "board": board.name,
              "in_ct": in_t.type.c_int_type(), "out_ct": out_t.type.c_int_type(),
              "n_in": in_t.size, "n_out": out_t.size, "in_type": str(in_t.type), "out_type": str(out_t.type),
              "in_frac": in_t.type.frac, "out_frac": out_t.type.frac, "in_shape": list(in_t.shape),
              "out_shape": list(out_t.shape), "arena_bytes": max(arena, 8)}
    render(env, "include/model.h.j2", os.path.join(out_dir, "include", f"{prefix}.h"), **common)
    dsp_units = [u["label"] for u in units if "smlad" in u["data"]]
    render(env, "src/model.c.j2", os.path.join(out_dir, "src", f"{prefix}.c"), **common, units=units,
           helpers=helpers, dsp_units=dsp_units)
    # single precision is exact where every input and output value is a normal float and the input saturates (a
    # scaled output: the float product code * scale, as DequantizeLinear computes it)
    float_exact = (in_t.type.width <= 24 and out_t.type.width <= 24 and in_t.type.overflow != "WRAP"
                   and abs(in_t.type.frac) <= 100 and abs(out_t.type.frac) <= 100
                   and len(scales["out_steps"] or ()) <= 1)
    # the port holds the user's array with its axes in the input quantizer's order (perm): x[src] for each code
    user_shape = list(g.tensor(g.inputs[0]).shape)
    perm = list(in_q.attrs.get("perm") or range(len(user_shape)))
    user_strides = [int(np.prod(user_shape[a + 1:], dtype=np.int64)) for a in range(len(user_shape))]
    port_axes = ([{"n": user_shape[p], "stride": user_strides[p]} for p in perm]
                 if perm != sorted(perm) else [{"n": in_t.size, "stride": 1}])
    wrapper = {"float_exact": float_exact, "user_shape": user_shape,
               "perm": perm if perm != sorted(perm) else None}
    render(env, "include/model_float.h.j2", os.path.join(out_dir, "include", f"{prefix}_float.h"), **common,
           **wrapper)
    render(env, "src/model_float.c.j2", os.path.join(out_dir, "src", f"{prefix}_float.c"), **common, **wrapper,
           rounding=in_q.attrs["rounding"], lo=int(in_q.attrs["lo"]), hi=int(in_q.attrs["hi"]),
           wrap=in_t.type.overflow == "WRAP", in_width=in_t.type.width, in_signed=in_t.type.signed,
           port_axes=port_axes)
    render(env, "harness/host_main.c.j2", os.path.join(out_dir, "harness", "host_main.c"), **common,
           in_signed=in_t.type.signed, out_signed=out_t.type.signed)
    n_tb = write_test_vectors(g, os.path.join(out_dir, "tb_data"))
    mcu = None
    if board.family != "host":
        mcu = {"cpu": board.cpu, "fpu": board.fpu, "flash": board.flash, "ram": board.ram,
               "qemu_machine": board.qemu_machine, "stack": stack_bytes(board.ram)}
        if board.qemu_machine:
            render(env, "harness/mcu_main.c.j2", os.path.join(out_dir, "harness", "mcu_main.c"), **common)
            render(env, "board/startup.c.j2", os.path.join(out_dir, "board", "startup.c"), **common, mcu=mcu)
            render(env, "board/link.ld.j2", os.path.join(out_dir, "board", "link.ld"), **common, mcu=mcu)
    render(env, "Makefile.j2", os.path.join(out_dir, "Makefile"), **common, mcu=mcu)
    render(env, "README.md.j2", os.path.join(out_dir, "README.md"), **common, mcu=mcu, n_tb=n_tb,
           layers=[{**l.to_json(), "name": label(l.name)} for l in schedule.layers])
    return {"top": prefix, "input_type": str(in_t.type), "output_type": str(out_t.type),
            "c_files": [f"src/{prefix}.c", f"src/{prefix}_float.c"], "arena_bytes": arena,
            "dsp_units": dsp_units}
