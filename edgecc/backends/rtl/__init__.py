"""RTL backend: a scheduled Graph -> synthesizable Verilog-2001 (one module per unit, a top with ready/valid)."""
from __future__ import annotations

import os

import numpy as np

from ...errors import UnsupportedOp
from ...ir.graph import Graph, Node
from ...ir.types import FixedType
from ...schedule import rtl as plan
from ..common import Namer, render, template_env, write_test_vectors
from .netlist import Netlist, Sig, const

TEMPLATES = os.path.join(os.path.dirname(__file__), "..", "..", "templates", "rtl")


def _label(text: str) -> str:
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_-.:" else "_" for c in str(text))[:80]


def _bus_width(g: Graph, tensor: str) -> int:
    t = g.tensor(tensor)
    return t.size * t.type.width


def _unpack(net: Netlist, g: Graph, tensor: str, bus: str) -> list[Sig]:
    t = g.tensor(tensor)
    return [net.input_slice(bus, k * t.type.width, t.type) for k in range(t.size)]


def _apply_tail(net: Netlist, g: Graph, nodes: list[Node], values: list[Sig], in_frac: int) -> list[Sig]:
    """The zero-cost nodes fused behind a computing node: Relu, Quantize, Reshape, elementwise."""
    frac = in_frac
    for node in nodes:
        if node.op == "Relu":
            values = [net.relu(v) for v in values]
        elif node.op == "Quantize":
            out_t = g.tensor(node.output).type
            lo, hi = int(node.attrs["lo"]), int(node.attrs["hi"])
            values = [net.requantize(v, frac - out_t.frac, node.attrs["rounding"], out_t, lo, hi) for v in values]
            frac = out_t.frac
        elif node.op == "Reshape":
            pass
        else:
            raise UnsupportedOp(f"the RTL backend cannot fuse op {node.op}", node.name)
    return values


def _tree(net: Netlist, leaves: list[tuple[int, Sig]], depth: int, k: int, start: int = 0,
          total: int | None = None) -> tuple[int, Sig]:
    """A balanced adder tree of signed leaves (sign, magnitude) over levels start+1 .. start+depth (pass-through
    where a level has nothing to pair), a register after every level that is a multiple of k and below `total`.
    Subtraction replaces negation."""
    total = start + depth if total is None else total
    nodes = sorted(leaves, key=lambda sl: (sl[1].width, -sl[0]))
    positive = [n for n in nodes if n[0] > 0]
    if positive:  # a positive leaf first keeps the root positive: a - b takes a's sign
        nodes.remove(positive[0])
        nodes.insert(0, positive[0])
    for level in range(start + 1, start + depth + 1):
        paired = []
        for i in range(0, len(nodes), 2):
            if i + 1 < len(nodes):
                (sa, a), (sb, b) = nodes[i], nodes[i + 1]
                paired.append((sa, net.add(a, b, subtract=(sa != sb))))
            else:
                paired.append(nodes[i])
        nodes = paired
        if level % k == 0 and level < total:
            nodes = [(s, net.register(v)) for s, v in nodes]
    assert len(nodes) == 1
    sign, root = nodes[0]
    return sign, net.materialize(root)


def _dense(net: Netlist, g: Graph, unit: plan.Unit, x: list[Sig], k: int) -> tuple[list[Sig], int]:
    """The layer's adder graph as the plan gives it (shared multiples, shared pairs, one tree per output);
    registers after every k levels, the shared levels included."""
    node = unit.nodes[0]
    x_t = g.tensor(node.inputs[0]).type
    w = g.tensor(node.inputs[1])
    b = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
    acc_frac = max(x_t.frac + w.type.frac, b.type.frac if b is not None else -10**9)
    extra = acc_frac - (x_t.frac + w.type.frac)
    n_in, n_out = w.shape
    dplan = plan.plan_of(g, node)
    depth = unit.depth
    by_leaves = {sig for leaves in dplan.leaves for sig, _, _ in leaves}
    by_pairs = {sig for a, b_, _, _ in dplan.pairs for sig in (a, b_)}
    outer = len(x) // n_in
    outputs = []
    for o in range(outer):
        signals = {("x", i): v for i, v in enumerate(x[o * n_in:(o + 1) * n_in])}
        level = 0

        def boundary(needed):
            if level % k == 0 and level < depth:
                for key in sorted(needed & signals.keys()):
                    signals[key] = net.register(signals[key])

        if dplan.multiples:
            for i, kk, s in dplan.multiples:
                xi = signals[("x", i)]
                signals[("m", i, kk, s)] = net.add(net.shifted(xi, kk), xi, subtract=(s < 0))
            level += 1
            boundary(by_leaves | by_pairs)
        if dplan.pairs:
            for idx, (sa, sb, d, s) in enumerate(dplan.pairs):
                signals[("p", idx)] = net.add(signals[sa], net.shifted(signals[sb], d), subtract=(s < 0))
            level += 1
            boundary(by_leaves)
        for j in range(n_out):
            leaves = [(sign, net.shifted(signals[sig], shift + extra)) for sig, sign, shift in dplan.leaves[j]]
            if b is not None and int(b.data[j]):
                c = int(b.data[j]) << (acc_frac - b.type.frac)
                leaves.append((1 if c > 0 else -1, const(abs(c))))
            if not leaves:
                outputs.append(net.materialize(const(0)))
                continue
            sign, root = _tree(net, leaves, depth - level, k, level, depth)
            if sign < 0:
                root = net.neg(root)
            outputs.append(root)
    return outputs, acc_frac


def _dense_reuse(net: Netlist, g: Graph, unit: plan.Unit, x: list[Sig], k: int = 0) -> tuple[list[Sig], int]:
    """ceil(K / R) multipliers per output, each fed one input and one weight per phase; an accumulator per output
    adds them; the sum after the last phase leaves through the unit's register."""
    node = unit.nodes[0]
    x_t = g.tensor(node.inputs[0]).type
    w = g.tensor(node.inputs[1])
    b = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
    acc_t: FixedType = node.attrs["accumulator_type"]
    acc_frac = acc_t.frac
    extra = acc_frac - (x_t.frac + w.type.frac)
    n_in, n_out = w.shape
    r = unit.reuse
    per_phase = -(-n_in // r)
    outer = len(x) // n_in
    outputs = []
    for o in range(outer):
        xs = x[o * n_in:(o + 1) * n_in]
        x_sel = [net.select("phase", [xs[p * per_phase + t] if p * per_phase + t < n_in else const(0)
                                      for p in range(r)]) for t in range(per_phase)]
        for j in range(n_out):
            products = []
            for t in range(per_phase):
                column = [int(w.data[p * per_phase + t, j]) if p * per_phase + t < n_in else 0 for p in range(r)]
                if not any(column):
                    continue
                w_sel = net.select("phase", [const(c) for c in column])
                products.append((1, net.shifted(net.mul(x_sel[t], w_sel), extra)))
            bias = (int(b.data[j]) << (acc_frac - b.type.frac)) if b is not None else 0
            acc_lo, acc_hi = acc_t.min_int, acc_t.max_int
            acc = net.accumulator(acc_lo, acc_hi)
            base = net.select("phase", [const(bias)], default=acc)
            if products:
                _, partial = _tree(net, products, plan.tree_depth(len(products)), 10**6)
                total = net.add(base, partial)
                if total.width > acc.width:  # every partial sum fits the accumulator: the top bits are copies
                    net.partly_used(total)
                    total = net.wire(f"{total.name}[{acc.width - 1}:0]", acc_lo, acc_hi, "t")
            else:
                total = base
            net.update(acc, total, "en")
            outputs.append(total)
    return outputs, acc_frac


def _add(net: Netlist, g: Graph, node: Node, a: list[Sig], b: list[Sig]) -> tuple[list[Sig], int]:
    a_t, b_t = (g.tensor(t).type for t in node.inputs)
    frac = max(a_t.frac, b_t.frac)
    return [net.add(net.shifted(u, frac - a_t.frac), net.shifted(v, frac - b_t.frac)) for u, v in zip(a, b)], frac


def _const_values(g: Graph, tensor: str) -> list[Sig]:
    return [const(int(v)) for v in np.ravel(g.tensor(tensor).data)]


def emit(g: Graph, sched, board, out_dir: str, version: str) -> dict:
    """Write rtl/*.v (one module per unit and the top), Vivado scripts and test vectors into out_dir."""
    names = Namer()
    top = names(g.name or "model", "module")
    env = template_env(TEMPLATES)
    hw_in, outputs = g.hw_inputs(), g.outputs
    if len(hw_in) != 1 or len(outputs) != 1:
        raise UnsupportedOp(f"the RTL backend needs one input and one output; the model has {len(hw_in)} and "
                            f"{len(outputs)}")
    reuse = {n.name: int(n.attrs.get("reuse_factor", 1)) for n in g.compute_nodes()}
    units = plan.plan_units(g, sched.clock_ns, reuse, board.family)
    ii = plan.design_ii(units)
    arrival, stages = plan.timing(g, units)
    k = plan.levels_per_stage(sched.clock_ns, board.family)

    wires = {hw_in[0]: "x_reg"}
    at = {hw_in[0]: 0}
    instances, modules, delay_regs = [], [], []
    for idx, unit in enumerate(units):
        mod = names(f"{top}_{unit.name}", "module")
        net = Netlist()
        ports = []
        values_in = []
        start = max((arrival[t] for t in unit.inputs), default=0)
        for p, t in enumerate(unit.inputs):
            src = wires[t]
            for _ in range(start - at[t]):  # balance a shorter path with delay registers
                delayed = names(f"{src}_d", "wire")
                delay_regs.append({"name": delayed, "width": _bus_width(g, t), "src": src})
                src = delayed
            port = f"in{p}"
            ports.append({"port": port, "width": _bus_width(g, t), "signal": src})
            values_in.append(_unpack(net, g, t, port))
        first = unit.nodes[0]
        if unit.kind in ("dense", "dense_reuse"):
            build = _dense if unit.kind == "dense" else _dense_reuse
            values, frac = build(net, g, unit, values_in[0], k)
            if first.attrs.get("activation") == "relu":
                values = [net.relu(v) for v in values]
        elif unit.kind == "add":
            operands = [values_in.pop(0) if not g.tensor(t).is_const else _const_values(g, t) for t in first.inputs]
            values, frac = _add(net, g, first, operands[0], operands[1])
        else:
            values, frac = values_in[0], g.tensor(unit.inputs[0]).type.frac
        tail = unit.nodes[1:] if unit.kind != "comb" else unit.nodes
        values = _apply_tail(net, g, tail, values, frac)
        out_t = g.tensor(unit.output).type
        packed = []
        for v in values:
            if v.is_const:
                packed.append(f"{out_t.width}'d{v.lo % (1 << out_t.width)}")
            elif v.width < out_t.width:
                packed.append(net.sign_extend(v, out_t.width))
            else:
                packed.append(f"{v.name}[{out_t.width - 1}:0]" if out_t.width > 1 else f"{v.name}[0]")
                if v.width > out_t.width:
                    net.partly_used(v)
        out_wire = names(f"{unit.output}_bus", "wire")
        wires[unit.output] = out_wire
        at[unit.output] = arrival[unit.output]
        for n in unit.nodes:
            wires[n.output], at[n.output] = out_wire, arrival[unit.output]
        uses_phase = any("phase" in line for line in net.lines)
        modules.append({
            "name": mod, "label": _label(unit.name), "kind": unit.kind, "ports": ports,
            "out_width": _bus_width(g, unit.output), "lines": net.lines, "regs": net.regs,
            "partial_regs": net.partial_regs,
            "packed": list(reversed(packed)), "uses_phase": uses_phase, "register_output": unit.stages > 0,
            "uses_en": any(r[3] == "en" for r in net.regs),
            "uses_adv": unit.stages > 0 or any(r[3] == "adv" for r in net.regs),
            "phase_width": max(1, (ii - 1).bit_length()),
        })
        instances.append({"module": mod, "inst": f"u{idx}_{mod}", "ports": ports, "out": out_wire,
                          "clocked": bool(net.regs) or unit.stages > 0,
                          "out_width": _bus_width(g, unit.output), "uses_phase": uses_phase,
                          "uses_en": modules[-1]["uses_en"], "uses_adv": modules[-1]["uses_adv"]})

    out_tensor = outputs[0]
    out_signal = wires[out_tensor]
    out_register = at[out_tensor] < stages  # only when no unit registers the output (a graph of zero-cost ops)
    rtl_dir = os.path.join(out_dir, "rtl")
    for m in modules:
        render(env, "layer.v.j2", os.path.join(rtl_dir, f"{m['name']}.v"), **m, version=version)
    common = {"top": top, "version": version, "source": _label(g.meta.get("source", g.name)),
              "in_width": _bus_width(g, hw_in[0]), "out_width": _bus_width(g, out_tensor), "ii": ii,
              "phase_width": max(1, (ii - 1).bit_length()), "stages": stages, "latency": 1 + stages * ii,
              "clock_ns": f"{sched.clock_ns:g}"}
    render(env, "top.v.j2", os.path.join(rtl_dir, f"{top}.v"), **common, instances=instances,
           delay_regs=delay_regs, out_signal=out_signal, out_register=out_register)
    files = [f"rtl/{m['name']}.v" for m in modules] + [f"rtl/{top}.v"]
    render(env, "build_vivado.tcl.j2", os.path.join(out_dir, "vivado", "build_vivado.tcl"), **common,
           part=board.part, files=files)
    render(env, "clock.xdc.j2", os.path.join(out_dir, "vivado", f"{top}.xdc"), **common)
    n_tb = write_test_vectors(g, os.path.join(out_dir, "tb_data"))
    render(env, "README.md.j2", os.path.join(out_dir, "README.md"), **common, board=board.name, part=board.part,
           n_tb=n_tb, files=files, in_type=str(g.tensor(hw_in[0]).type), out_type=str(g.tensor(out_tensor).type),
           n_in=g.tensor(hw_in[0]).size, n_out=g.tensor(out_tensor).size,
           layers=[{**l.to_json(), "name": _label(l.name)} for l in sched.layers])
    return {"top": top, "input_type": str(g.tensor(hw_in[0]).type), "output_type": str(g.tensor(out_tensor).type),
            "rtl_files": files, "in_width": common["in_width"], "out_width": common["out_width"]}
