"""RTL project writer: a scheduled Graph -> synthesizable Verilog-2001 (one module per unit, a top that composes
them as the schedule says: lock-step, or ready/valid streams with FIFOs), Vivado scripts and test vectors."""
from __future__ import annotations

import os
import re
import shutil

from ...errors import UnsupportedOp
from ...ir.graph import Graph
from ...templates import folder, render, template_env
from ..common import Namer, label, write_test_vectors
from ...schedule.rtl import critical_path
from ...schedule.rtl_stream import stages_of, stream_view, window_taps
from ...schedule.timing import family_timing
from .netlist import Netlist
from .ops import UnitBuilder

TEMPLATES = folder("rtl")
LIBRARY = os.path.join(TEMPLATES, "lib")  # the stream library: one module per file


def bus_width(g: Graph, tensor: str) -> int:
    t = g.tensor(tensor)
    return t.size * t.type.width


def _phase_width(ii: int) -> int:
    return max(1, (ii - 1).bit_length())


def _build_unit(g: Graph, unit, schedule, emitters, module: str, version: str) -> dict:
    """One unit's datapath module as plain data for layer.v.j2."""
    net = Netlist(phase_width=_phase_width(unit.point.ii_cycles))
    ports, inputs = [], {}
    for p, t in enumerate(dict.fromkeys(unit.inputs)):
        port = f"in{p}"
        ports.append({"port": port, "width": bus_width(g, t), "tensor": t})
        tt = g.tensor(t)
        inputs[t] = [net.input_slice(port, k * tt.type.width, tt.type) for k in range(tt.size)]
    first = unit.inputs[0] if unit.inputs else None
    builder = UnitBuilder(net, g, unit, schedule.levels_per_stage, inputs,
                          list(inputs[first]) if first else [], g.tensor(first).type.frac if first else 0)
    for name in unit.nodes:
        node = g.node(name)
        emitters.of(node)(builder, node)
    if builder.finish is not None:   # a folded datapath's results, gathered after its fused nodes
        builder.values = builder.finish(builder.values)
    out_t = g.tensor(unit.output).type
    packed = net.pack(builder.values, out_t.width)
    net.mark_unread_inputs(packed)
    stateful = unit.point.stages > 0
    enables = {word for r in net.regs for word in re.findall(r"[A-Za-z_]\w*", r["enable"])}
    uses_en = "en" in enables or bool(net.roms)
    uses_adv = stateful or "adv" in enables
    uses_take = "take" in enables   # counts the tokens it takes (streaming only)
    uses_rst = bool(net.roms) or any(r.get("reset") for r in net.regs)
    return {"name": module, "label": label(unit.name), "microarch": unit.point.microarch, "ports": ports,
            "out_width": bus_width(g, unit.output), "statements": net.statements, "regs": net.regs,
            "functions": net.functions, "roms": net.roms,
            "packed": packed, "uses_phase": net.uses_phase,
            "register_output": stateful, "uses_en": uses_en, "uses_adv": uses_adv, "uses_take": uses_take,
            "uses_rst": uses_rst, "clocked": bool(net.regs) or stateful or bool(net.roms),
            "phase_width": _phase_width(unit.point.ii_cycles), "stateful": stateful, "version": version}


def _lockstep_top(g: Graph, schedule, modules: list[dict], names: Namer) -> dict:
    """Instances wired in lock-step, with delay registers where the schedule balances a shorter path."""
    wires = {g.hw_inputs()[0]: "x_reg"}
    instances, delays = [], []
    chains: dict[str, list[str]] = {}   # tensor -> its value 0, 1, 2, ... beats later (shared by its readers)

    def delayed(tensor: str, beats: int) -> str:
        chain = chains.setdefault(tensor, [wires[tensor]])
        while len(chain) <= beats:
            name = names(f"{chain[-1]}_d", "wire")
            delays.append({"name": name, "width": bus_width(g, tensor), "src": chain[-1]})
            chain.append(name)
        return chain[beats]

    for idx, (unit, m) in enumerate(zip(schedule.units, modules)):
        beats = {e.tensor: e.depth for e in schedule.edges_into(unit.name) if e.buffer == "delay"}
        ports = [{**p, "signal": delayed(p["tensor"], beats.get(p["tensor"], 0))} for p in m["ports"]]
        out = names(f"{unit.output}_bus", "wire")
        wires[unit.output] = out
        instances.append({**m, "inst": f"u{idx}_{m['name']}", "ports": ports, "out": out})
    out_tensor = g.outputs[0]
    out_beats = sum(e.depth for e in schedule.edges_into("") if e.buffer == "delay")
    return {"instances": instances, "delay_regs": delays, "out_signal": delayed(out_tensor, out_beats)}


def _stream_top(g: Graph, schedule, modules: list[dict], names: Namer) -> dict:
    """Units with their own handshake: a fork per registered value with several readers, a FIFO where the
    schedule puts one, a controller per unit with registers."""
    streams = [{"valid": "x_valid", "ready": "x_ready", "links": []}]
    stream_of = {g.hw_inputs()[0]: 0}
    data_of = {g.hw_inputs()[0]: "x_reg"}
    links, fifos, units = [], [], []

    def link(tensor: str) -> dict:
        """A new reader of the value `tensor` belongs to."""
        k = len(links)
        entry = {"valid": f"e{k}_valid", "ready": f"e{k}_ready", "data": data_of[tensor]}
        links.append(entry)
        streams[stream_of[tensor]]["links"].append(entry)
        return entry

    for idx, (unit, m) in enumerate(zip(schedule.units, modules)):
        fifo_depth = {e.tensor: e.depth for e in schedule.edges_into(unit.name) if e.buffer == "fifo"}
        inputs = []
        for p in m["ports"]:
            if not m["stateful"]:  # wiring reads the data; its own readers take the value
                inputs.append({"port": p["port"], "data": data_of[p["tensor"]]})
                continue
            source = link(p["tensor"])
            if p["tensor"] in fifo_depth:
                q = len(fifos)
                depth = fifo_depth[p["tensor"]]
                fifos.append({"inst": f"q{q}", "width": p["width"], "depth": depth,
                              "aw": max(1, (depth - 1).bit_length()), "source": source,
                              "valid": f"q{q}_valid", "ready": f"q{q}_ready", "data": f"q{q}_data"})
                source = {"valid": f"q{q}_valid", "ready": f"q{q}_ready", "data": f"q{q}_data"}
            inputs.append({**source, "port": p["port"]})
        out = names(f"{unit.output}_bus", "wire")
        data_of[unit.output] = out
        u = {**m, "inst": f"u{idx}_{m['name']}", "index": idx, "inputs": inputs, "out": out,
             "stages": unit.point.stages, "ii": unit.point.ii_cycles}
        units.append(u)
        if m["stateful"]:
            stream_of[unit.output] = len(streams)
            streams.append({"valid": f"u{idx}_out_valid", "ready": f"u{idx}_out_ready", "links": []})
        else:  # wiring: its readers read the value it is computed from
            stream_of[unit.output] = stream_of[unit.inputs[0]]
    return {"units": units, "streams": streams, "links": links, "fifos": fifos, "out_link": link(g.outputs[0]),
            "gap_width": max(1, (schedule.ii_cycles - 1).bit_length())}


def _window_module(w, name: str, version: str) -> dict:
    """Plain data for window.v.j2: one generator's geometry, baked in."""
    from ...schedule.stream_timing import raster, start_position

    real, emit = raster(w)
    hp, wp = w.padded
    rows_real = [any(real[y * wp:(y + 1) * wp]) for y in range(hp)]
    cols_real = [any(real[x::wp]) for x in range(wp)]
    rows_emit = [any(emit[y * wp:(y + 1) * wp]) for y in range(hp)]
    cols_emit = [any(emit[x::wp]) for x in range(wp)]
    pw = w.channels * w.width
    fill = sum((w.fill % (1 << w.width)) << (c * w.width) for c in range(w.channels))
    y0, x0 = divmod(start_position(w), wp)
    return {"name": name, "label": label(w.name), "version": version, "in_h": w.in_spatial[0],
            "in_w": w.in_spatial[1], "channels": w.channels, "hp": hp, "wp": wp, "pads": list(w.pads),
            "history": w.history, "kernel": list(w.kernel), "strides": list(w.strides),
            "dilations": list(w.dilations), "taps": w.taps, "pw": pw, "ow": pw * w.taps,
            "row_real": "".join("1" if v else "0" for v in reversed(rows_real)),
            "col_real": "".join("1" if v else "0" for v in reversed(cols_real)),
            "row_emit": "".join("1" if v else "0" for v in reversed(rows_emit)),
            "col_emit": "".join("1" if v else "0" for v in reversed(cols_emit)),
            "fill_hex": f"{fill:x}", "yw": max(1, (hp - 1).bit_length()), "xw": max(1, (wp - 1).bit_length()),
            "y0": y0, "x0": x0, "taps_rev": list(reversed(window_taps(w)))}


def _pixel_top(view, schedule, modules: list[dict], windows: dict, names: Namer) -> dict:
    """The streaming top: windows, gathers and units in dataflow order, each with its own handshake (a unit
    without registers passes its input's), forks and FIFOs as the schedule says."""
    tg = view.tg
    hw_in = tg.hw_inputs()[0]
    streams = [{"valid": "x_valid", "ready": "x_ready", "links": []}]
    stream_of, data_of = {hw_in: 0}, {hw_in: "x_reg"}
    links, fifos, elements = [], [], []
    module_of = {u.name: m for u, m in zip(schedule.units, modules)}
    unit_of = {u.name: u for u in schedule.units}
    fifo_depth = {(e.tensor, e.unit): e.depth for e in schedule.edges if e.buffer == "fifo"}

    def link(tensor: str) -> dict:
        k = len(links)
        entry = {"valid": f"l{k}_valid", "ready": f"l{k}_ready", "data": data_of[tensor]}
        links.append(entry)
        streams[stream_of[tensor]]["links"].append(entry)
        return entry

    def read(tensor: str, reader: str, port: str) -> dict:
        source = link(tensor)
        if (tensor, reader) in fifo_depth:
            q = len(fifos)
            depth = fifo_depth[(tensor, reader)]
            fifos.append({"inst": f"q{q}", "width": bus_width(tg, tensor), "depth": depth,
                          "aw": max(1, (depth - 1).bit_length()), "source": source,
                          "valid": f"q{q}_valid", "ready": f"q{q}_ready", "data": f"q{q}_data"})
            source = {"valid": f"q{q}_valid", "ready": f"q{q}_ready", "data": f"q{q}_data"}
        return {**source, "port": port}

    chosen = {u.name: u.point for u in schedule.units}
    for idx, st in enumerate(stages_of(view, [unit_of[n] for n in unit_of], chosen)):
        out = names(f"{st.output}_bus", "wire")
        e = {"index": idx, "kind": st.kind, "out": out, "out_width": bus_width(tg, st.output)}
        if st.kind == "window":
            w = st.spec
            e.update(module=windows[w.name], inst=f"e{idx}_window", handshake=True,
                     inputs=[read(st.inputs[0], st.name, "in_data")])
        elif st.kind == "gather":
            n = st.spec.count
            e.update(inst=f"e{idx}_gather", handshake=True, count=n, token_width=bus_width(tg, st.inputs[0]),
                     count_width=max(1, (n - 1).bit_length()), inputs=[read(st.inputs[0], st.name, "in_data")])
        else:
            m = module_of[st.name]
            stateful = m["stateful"]
            ports = m["ports"]
            if stateful:
                inputs = [read(p["tensor"], st.name, p["port"]) for p in ports]
            else:   # no registers: it computes from its input's value, its readers take that handshake
                inputs = [{"port": p["port"], "data": data_of[p["tensor"]]} for p in ports]
            e.update(m, kind="core", module=m["name"], inst=f"e{idx}_{m['name']}", handshake=stateful,
                     inputs=inputs, stages=st.stages, ii=st.ii, out=out)
        elements.append(e)
        data_of[st.output] = out
        if e["handshake"]:
            stream_of[st.output] = len(streams)
            streams.append({"valid": f"e{idx}_out_valid", "ready": f"e{idx}_out_ready", "links": []})
        else:
            stream_of[st.output] = stream_of[st.inputs[0]]
    n_in = view.tokens[hw_in]
    return {"elements": elements, "streams": streams, "links": links, "fifos": fifos,
            "out_link": link(tg.outputs[0]), "in_tokens": n_in, "out_tokens": view.tokens.get(tg.outputs[0], 1),
            "pc_width": max(1, (n_in - 1).bit_length()), "gap_width": max(1, (schedule.ii_cycles - 1).bit_length())}


def emit(g: Graph, schedule, board, out_dir: str, version: str, emitters) -> dict:
    """Write rtl/*.v, Vivado scripts and test vectors into out_dir; returns facts for the report."""
    hw_in, outputs = g.hw_inputs(), g.outputs
    if len(hw_in) != 1 or len(outputs) != 1:
        raise UnsupportedOp(f"the RTL backend needs one input and one output; the model has {len(hw_in)} and "
                            f"{len(outputs)}")
    names = Namer()
    top = names(g.name or "model", "module")
    env = template_env("rtl")
    pixel = schedule.composition == "pixel"
    view = stream_view(g) if pixel else None
    built = view.tg if pixel else g      # a streaming design's units compute one token
    modules = [_build_unit(built, unit, schedule, emitters, names(f"{top}_{unit.name}", "module"), version)
               for unit in schedule.units]
    rtl_dir = os.path.join(out_dir, "rtl")
    for m in modules:
        render(env, "layer.v.j2", os.path.join(rtl_dir, f"{m['name']}.v"), **m)
    common = {"top": top, "version": version, "source": label(g.meta.get("source", g.name)),
              "in_width": bus_width(built, built.hw_inputs()[0]), "out_width": bus_width(built, outputs[0]),
              "ii": schedule.ii_cycles, "latency": schedule.latency_cycles, "clock_ns": f"{schedule.clock_ns:g}",
              "composition": schedule.composition}
    files = [f"rtl/{m['name']}.v" for m in modules]
    if pixel:
        windows = {}
        for w in view.windows:
            wm = _window_module(w, names(f"{top}_{w.name}", "module"), version)
            render(env, "window.v.j2", os.path.join(rtl_dir, f"{wm['name']}.v"), **wm)
            windows[w.name] = wm["name"]
            files.append(f"rtl/{wm['name']}.v")
        data = _pixel_top(view, schedule, modules, windows, names)
        used = ["edgecc_stream_ctrl"] + ["edgecc_gather"] * bool(view.gathers) \
            + ["edgecc_fork"] * any(len(s["links"]) > 1 for s in data["streams"]) + ["edgecc_fifo"] * bool(data["fifos"])
        for module in used:
            shutil.copyfile(os.path.join(LIBRARY, f"{module}.v"), os.path.join(rtl_dir, f"{module}.v"))
        files[:0] = [f"rtl/{module}.v" for module in used]
        render(env, "top_pixel.v.j2", os.path.join(rtl_dir, f"{top}.v"), **common, **data)
        common.update(in_tokens=data["in_tokens"], out_tokens=data["out_tokens"])
    elif schedule.composition == "lockstep":
        render(env, "top_lockstep.v.j2", os.path.join(rtl_dir, f"{top}.v"), **common, stages=schedule.stages,
               phase_width=_phase_width(schedule.ii_cycles), **_lockstep_top(g, schedule, modules, names))
    else:
        data = _stream_top(g, schedule, modules, names)
        used = ["edgecc_stream_ctrl"] + ["edgecc_fork"] * any(len(s["links"]) > 1 for s in data["streams"]) \
            + ["edgecc_fifo"] * bool(data["fifos"])
        for module in used:
            shutil.copyfile(os.path.join(LIBRARY, f"{module}.v"), os.path.join(rtl_dir, f"{module}.v"))
        files[:0] = [f"rtl/{module}.v" for module in used]
        render(env, "top_stream.v.j2", os.path.join(rtl_dir, f"{top}.v"), **common, **data)
    files.append(f"rtl/{top}.v")
    render(env, "build_vivado.tcl.j2", os.path.join(out_dir, "vivado", "build_vivado.tcl"), **common,
           part=board.part, files=files)
    render(env, "clock.xdc.j2", os.path.join(out_dir, "vivado", f"{top}.xdc"), **common)
    n_tb = write_test_vectors(g, os.path.join(out_dir, "tb_data"))
    render(env, "README.md.j2", os.path.join(out_dir, "README.md"), **common, board=board.name, part=board.part,
           n_tb=n_tb, files=files, in_type=str(g.tensor(hw_in[0]).type), out_type=str(g.tensor(outputs[0]).type),
           n_in=g.tensor(hw_in[0]).size, n_out=g.tensor(outputs[0]).size,
           layers=[{**l.to_json(), "name": label(l.name)} for l in schedule.layers])
    path = critical_path(built, schedule, family_timing(board.family))
    return {"top": top, "input_type": str(g.tensor(hw_in[0]).type), "output_type": str(g.tensor(outputs[0]).type),
            "predicted_fmax_mhz": path.pop("predicted_fmax_mhz"), "critical_path": path,
            "rtl_files": files, "in_width": common["in_width"], "out_width": common["out_width"],
            "in_tokens": common.get("in_tokens", 1), "out_tokens": common.get("out_tokens", 1)}
