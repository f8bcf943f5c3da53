"""One emitter per IR op for the C backend. A unit becomes one C function: its first node decides the function's
shape (an inner-product loop for a Dense, an elementwise loop otherwise), and every node adds the scalar steps
applied to each result before it is stored (a Dense's bias and ReLU, a Quantize's rounding and clamp, ...)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import UnsupportedOp
from ...ir.graph import Graph, Node
from ...ir.ops import op_def
from ...schedule.c_kernel import BLOCK, blocked, nibbles, packed_pairs, uint_bytes
from ...schedule.plan import UnitPlan
from .. import OpEmitters

EMITTERS = OpEmitters("c")


@dataclass
class CUnit:
    """The unit being written: its function's shape and data, and the scalar steps on each result."""

    g: Graph
    unit: UnitPlan
    prefix: str
    kind: str = "elementwise"            # "dense", "elementwise", "copy"
    data: dict = field(default_factory=dict)
    constants: list[dict] = field(default_factory=list)  # const arrays in flash: name, ctype, values, guard
    steps: list[dict] = field(default_factory=list)      # scalar steps on each result, in order
    frac: int = 0                        # fractional bits of the current scalar
    bits: int = 1                        # signed width the scalar needs at any step (picks int32_t or int64_t)
    lo: int = 0                          # the scalar's range now: steps that cannot change it are left out
    hi: int = 0

    def const(self, suffix: str, ctype: str, values, guard: str = "") -> str:
        """A const array in flash; `guard` "SMLAD" or "PORTABLE" keeps it to the build that reads it."""
        name = f"{self.prefix}_{suffix}"
        values = [int(v) for v in np.ravel(values)]
        self.constants.append({"name": name, "ctype": ctype, "values": values or [0], "guard": guard})
        return name

    def need(self, lo: int, hi: int) -> None:
        self.bits = max(self.bits, signed_bits(lo, hi))

    def holds(self, lo: int, hi: int) -> None:
        """The scalar now lies in [lo, hi] (and the container must hold that)."""
        self.lo, self.hi = int(lo), int(hi)
        self.need(lo, hi)


def signed_bits(lo: int, hi: int) -> int:
    lo, hi = min(int(lo), 0), max(int(hi), 0)
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


def container(bits: int, what: str, node: str) -> str:
    if bits <= 32:
        return "int32_t"
    if bits <= 64:
        return "int64_t"
    raise UnsupportedOp(f"{what} needs {bits}-bit integers; the C backend computes in at most 64 bits", node)


def _kernel(u: CUnit, layout: dict, ctype: str, tag: str, guard: str, packed: bool = False) -> dict:
    """The const arrays of one kernel layout (weights; the tables only where some output lacks a column). Packed:
    4-bit fields, a 16-bit word per column of four outputs (wq) and a byte per two weights of one output (wb: each
    run of them starts on a byte)."""
    kernel = {k: layout[k] for k in ("columns", "contiguous", "other_blocks", "other_singles")}
    kernel["full_blocks"] = len(layout["full_blocks"])
    if packed:
        if layout["quads"]:
            kernel["wq"] = u.const(f"{tag}wq", "uint16_t", nibbles(layout["quads"], BLOCK), guard)
        if layout["singles"]:
            kernel["wb"] = u.const(f"{tag}wb", "uint8_t", [b for run in layout["singles"] for b in nibbles(run, 2)],
                                   guard)
    else:
        kernel["w"] = u.const(f"{tag}w", ctype, layout["weights"], guard)
    def table(key: str, suffix: str) -> str:
        """A table in the narrowest unsigned type its values need; its name, and its type as kernel[key + "_ct"]."""
        kernel[f"{key}_ct"] = f"uint{8 * uint_bytes(layout[key])}_t"
        return u.const(f"{tag}{suffix}", kernel[f"{key}_ct"], layout[key], guard)

    if layout["full_blocks"] and not layout["contiguous"]:
        kernel["block_rows"] = table("full_blocks", "block_rows")
    if layout["full_singles"]:
        kernel["single_rows"] = table("full_singles", "single_rows")
        kernel["full_singles"] = len(layout["full_singles"])
    if layout["table"]:
        kernel["table"] = table("table", "blocks")
        if layout["other_blocks"]:
            kernel["runs"] = table("runs", "runs")
        kernel["index"] = table("index", "index")
    return kernel


@EMITTERS.register("Dense", microarchs=("c_loop", "c_smlad", "c_packed"))
def dense(u: CUnit, node: Node) -> None:
    g = u.g
    x = g.tensor(node.inputs[0])
    w = g.tensor(node.inputs[1])
    k, m = w.shape
    dot_t = op_def(node).product_sum_type(g, node)
    acc_t = node.attrs["accumulator_type"]
    bias = g.tensor(node.inputs[2]) if len(node.inputs) > 2 else None
    codes = np.asarray(w.data).astype(object)
    data = {"outer": x.size // k, "k": k, "m": m, "w_ct": w.type.c_int_type(),
            "dot_ct": container(dot_t.width, "the inner product", node.name),
            "extra": acc_t.frac - dot_t.frac, "relu": node.attrs.get("activation") == "relu", "bias": None}
    layout = blocked(codes.T)
    micro = u.unit.point.microarch
    dsp = micro == "c_smlad"     # the schedule chose it where the CPU has DSP and the operands fit (smlad_fits)
    guard = "PORTABLE" if dsp else ""
    data["loop"] = _kernel(u, layout, data["w_ct"], "", guard, packed=micro == "c_packed")
    data["w_signed"] = w.type.signed
    if bias is not None:  # aligned to the accumulator's fraction at compile time: exact integers
        shift = acc_t.frac - bias.type.frac
        data["bias"] = u.const("b", container(acc_t.width, "the bias", node.name),
                               [int(b) << shift for b in np.ravel(bias.data)])
    if dsp:
        pairs = blocked(packed_pairs(codes.astype(np.int64)))
        data["smlad"] = _kernel(u, pairs, "uint32_t", "p", "SMLAD")
    u.kind, u.data, u.frac = "dense", data, acc_t.frac
    u.need(dot_t.min_int << max(data["extra"], 0), dot_t.max_int << max(data["extra"], 0))
    u.holds(0 if data["relu"] else acc_t.min_int, max(acc_t.max_int, 0))


@EMITTERS.register("Add", microarchs=("c_elementwise",))
def add(u: CUnit, node: Node) -> None:
    g = u.g
    out_t = g.tensor(node.output).type
    sources = []
    for k, t in enumerate(node.inputs):
        tt = g.tensor(t)
        shift = out_t.frac - tt.type.frac
        if tt.is_const:
            sources.append({"const": u.const(f"c{k}", tt.type.c_int_type(), tt.data), "shift": shift})
        else:
            sources.append({"port": u.unit.inputs.index(t), "shift": shift})
        u.need(tt.type.min_int << shift, tt.type.max_int << shift)
    u.kind, u.frac = "elementwise", out_t.frac
    u.data = {"sources": sources, "n": g.tensor(node.output).size}
    u.holds(out_t.min_int, out_t.max_int)


@EMITTERS.register("Relu", microarchs=("c_elementwise",))
def relu(u: CUnit, node: Node) -> None:
    if u.lo < 0:
        u.steps.append({"op": "relu"})
        u.holds(0, max(u.hi, 0))


@EMITTERS.register("Quantize", microarchs=("c_elementwise",))
def quantize(u: CUnit, node: Node) -> None:
    """Round as the IR says (v + an offset that depends on the mode, then a floor), then clamp or wrap; a clamp
    bound the value cannot pass is left out."""
    out_t = u.g.tensor(node.output).type
    shift = u.frac - out_t.frac
    step = {"op": "requantize", "shift": shift, "mode": node.attrs["rounding"]}
    lo, hi = u.lo, u.hi
    if shift > 0:
        u.need(lo - (1 << shift), hi + (1 << shift))  # v plus the rounding offset, before the shift
        lo, hi = lo >> shift, (hi >> shift) + 1
    elif shift < 0:
        lo, hi = lo << -shift, hi << -shift
    u.need(lo, hi)
    if out_t.overflow == "WRAP":
        step.update(wrap=lo < out_t.min_int or hi > out_t.max_int, width=out_t.width, signed=out_t.signed,
                    clamp_lo=False, clamp_hi=False)
        lo, hi = (max(lo, out_t.min_int), min(hi, out_t.max_int)) if not step["wrap"] else \
            (out_t.min_int, out_t.max_int)
    else:
        c_lo, c_hi = int(node.attrs["lo"]), int(node.attrs["hi"])
        step.update(wrap=False, lo=c_lo, hi=c_hi, clamp_lo=lo < c_lo, clamp_hi=hi > c_hi)
        lo, hi = max(lo, c_lo), min(hi, c_hi)
    u.steps.append(step)
    u.holds(lo, hi)
    u.frac = out_t.frac


@EMITTERS.register("Reshape", microarchs=("alias", "c_copy"))
def reshape(u: CUnit, node: Node) -> None:
    """The same codes in the same order: no step."""
