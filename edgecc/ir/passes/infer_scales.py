"""Scale factors (where a model's scales are not powers of two, ir/scales.py) through the graph: each tensor's
factor from its quantizer or its producer, and each quantizer between tensors whose factors differ becomes exact
integer arithmetic. Where the factors differ by a power of two 2**k, the quantizer stays a Quantize and its output
is retyped by k fractional bits (today's exact shift, with the model's rounding); otherwise it becomes a Requantize
(TFLite's multiplier and shift, ir/ops.py), whose ratio of factors is resolved to (M0, exponent) once the input's
fraction is known. A Dense's or Conv's factor is the input's times the weights' (per output channel); a bias with
another factor is noted (`bias_ratio`) and brought onto the accumulator's grid when types are inferred. An op that
would mix tensors of different factors (an Add or Concat) is refused with a clear error."""
from __future__ import annotations

from fractions import Fraction

from ...errors import UnsupportedOp
from ..graph import Graph, Node
from ..scales import as_factor, channel_factors, power_of_two
from ..types import FixedType

# ops whose output has the input's factor (one tensor in, the same values moved, compared, or scaled exactly)
SAME_FACTOR = ("Relu", "MaxPool", "AvgPool", "Resize", "LeakyRelu", "Clip", "Pad", "Reshape", "Transpose")
# ops that change the channel axis: only a factor that is the same for every channel passes them
MOVES_CHANNELS = ("Reshape", "Transpose")
# the rounding modes a Requantize stands for: to nearest (it rounds to nearest, ties as TFLite does)
NEAREST = ("ROUND", "HALF_UP", "HALF_DOWN", "HALF_POS_INF", "HALF_NEG_INF")


def run(g: Graph, config) -> bool:
    g.toposort()
    changed = False
    boundary = {id(n) for n in g.input_quantizers()}
    for node in list(g.nodes):
        if id(node) in boundary:
            continue   # the design's input: its factor is the quantizer's (fold_quantizers)
        if node.op == "Quantize":
            changed |= _quantizer(g, node)
        elif node.op in ("Dense", "Conv"):
            _product(g, node)
        elif node.op == "Mul":
            _mul(g, node)
        elif node.op in ("Add", "Concat"):
            _same_inputs(g, node)
        elif node.op in SAME_FACTOR:
            _same_factor(g, node)
        elif node.op in ("Activation", "Softmax"):
            _table(g, node)
        elif any(_factors(g, t, node) is not None for t in node.inputs):
            raise UnsupportedOp(f"{node.op} of a tensor whose scale is not a power of two is not supported",
                                node.name)
    return changed


def _factors(g: Graph, name: str, node: Node) -> tuple[Fraction, ...] | None:
    t = g.tensor(name)
    try:
        return channel_factors(t.scale, t.shape)
    except ValueError:
        raise UnsupportedOp(f"the scale of {name!r} varies along an axis other than the channels", node.name) from None


def _set(g: Graph, node: Node, factors: tuple[Fraction, ...] | None) -> None:
    g.tensor(node.output).scale = as_factor(factors)


def _broadcast(a: tuple[Fraction, ...] | None, b: tuple[Fraction, ...] | None, node: Node):
    """Per-channel products of two factors (one value, or one per channel)."""
    if a is None or b is None:
        return a if b is None else b
    if len(a) != len(b) and 1 not in (len(a), len(b)):
        raise UnsupportedOp("scales per channel of different lengths", node.name)
    n = max(len(a), len(b))
    out = tuple(a[c % len(a)] * b[c % len(b)] for c in range(n))
    return out[:1] if all(v == out[0] for v in out) else out


def _quantizer(g: Graph, node: Node) -> bool:
    f_in = _factors(g, node.inputs[0], node)
    out = g.tensor(node.output)
    f_out = _factors(g, node.output, node)
    if f_in is None and f_out is None:
        return False   # both sides powers of two: today's exact shift
    if f_out is not None and len(f_out) > 1:
        raise UnsupportedOp("per-channel scales on an activation are not supported", node.name)
    target = f_out[0] if f_out else Fraction(1)
    ratios = tuple(f / target for f in (f_in or (Fraction(1),)))
    ks = {power_of_two(r) for r in ratios}
    if len(ks) == 1 and None not in ks:
        # value = y * 2**-frac * f_out = y * 2**-(frac + k) * f_in: the same codes, k more fractional bits
        k = ks.pop()
        t = out.type
        out.type = FixedType(t.width, t.integer - k, t.signed, t.rounding, t.overflow)
        out.scale = as_factor(f_in[:1] if f_in else None)
        return True
    rounding = node.attrs["rounding"]
    if rounding not in NEAREST:
        raise UnsupportedOp(f"a {rounding} quantizer between scales whose ratio is not a power of two: edgecc "
                            "requantizes such scales as TFLite does, to nearest (ROUND or HALF_* modes)", node.name)
    if out.type.overflow == "WRAP":
        raise UnsupportedOp("a wrapping quantizer between scales whose ratio is not a power of two", node.name)
    node.op = "Requantize"
    node.attrs = {"ratio": ratios, "lo": int(node.attrs["lo"]), "hi": int(node.attrs["hi"])}
    return True


def _product(g: Graph, node: Node) -> None:
    f_x = _factors(g, node.inputs[0], node)
    if f_x is not None and len(f_x) > 1:
        raise UnsupportedOp(f"{node.op} of an input with a scale per channel (its sums would mix scales)", node.name)
    acc = _broadcast(f_x, _factors(g, node.inputs[1], node), node)
    _set(g, node, acc)
    if len(node.inputs) < 3:
        return
    f_b = _factors(g, node.inputs[2], node)
    if f_b == acc:
        return
    n = g.tensor(node.output).shape[-1]
    one = (Fraction(1),)
    b, a = f_b or one, acc or one
    node.attrs["bias_ratio"] = tuple(b[c % len(b)] / a[c % len(a)] for c in range(n))


def _mul(g: Graph, node: Node) -> None:
    consts = [t for t in node.inputs if g.tensor(t).is_const]
    act = next(t for t in node.inputs if t not in consts)
    f = _factors(g, act, node)
    for c in consts:
        f = _broadcast(f, _factors(g, c, node), node)
    _set(g, node, f)


def _same_inputs(g: Graph, node: Node) -> None:
    factors = {_factors(g, t, node) for t in node.inputs}
    if len(factors) > 1:
        raise UnsupportedOp(f"{node.op} of tensors with different scales that are not powers of two: edgecc adds "
                            "and joins tensors of one scale (requantize them to one scale in the model)", node.name)
    _set(g, node, factors.pop())


def _same_factor(g: Graph, node: Node) -> None:
    f = _factors(g, node.inputs[0], node)
    if f is not None and len(f) > 1 and node.op in MOVES_CHANNELS:
        raise UnsupportedOp(f"{node.op} of a tensor with a scale per channel is not supported", node.name)
    if f is not None and node.op == "Pad" and node.attrs.get("value_float", 0) != 0:
        raise UnsupportedOp("Pad with a nonzero value of a tensor whose scale is not a power of two", node.name)
    if f is not None and node.op == "Clip":
        if len(f) > 1:
            raise UnsupportedOp("Clip of a tensor with a scale per channel is not supported", node.name)
        node.attrs["factor"] = f[0]
    _set(g, node, f)


def _table(g: Graph, node: Node) -> None:
    """A table reads its input's real values (one factor for the tensor); its output is on its own grid."""
    f = _factors(g, node.inputs[0], node)
    if f is not None and len(f) > 1:
        raise UnsupportedOp(f"{node.attrs.get('function', node.op)} of a tensor with a scale per channel is not "
                            "supported", node.name)
    g.tensor(node.output).scale = None

