"""Give float inputs and float constants a fixed-point type: the config's (or the default), except that a float
constant in a quantized model keeps its exact value, in the narrowest type that holds it."""
from __future__ import annotations

import numpy as np

from ...errors import ModelError
from ..graph import Graph, Node, Tensor
from ..quantizers import QuantSpec, exact_codes_of_floats, fractional_bits, quantize_constant
from ..types import FixedType

# An exact type wider than this for a float constant is a sign of a mistake (a stray tiny value), not of intent.
MAX_EXACT_CONSTANT_BITS = 64


def run(g: Graph, config) -> bool:
    changed = _quantize_inputs(g, config)
    return _type_constants(g, config) or changed


def _type_constants(g: Graph, config) -> bool:
    """Float constants (weights and biases of Dense and Conv layers, operands of Add and Mul) become typed integer
    codes; a Mul's constant is typed as a weight."""
    changed = False
    quantized_model = bool(g.meta.get("quantized", False))
    for node in g.nodes:
        layer = config.layer(node.name)
        for k, name in enumerate(node.inputs):
            t = g.tensor(name)
            if not t.is_const or t.type is not None:
                continue
            role = "weight" if (node.op in ("Dense", "Conv") and k == 1) or node.op == "Mul" else "bias"
            role_type = layer.weight_type if role == "weight" else layer.bias_type
            if role_type is None and quantized_model:
                # the model fixes its own arithmetic: a float constant it left unquantized means its exact value
                codes, ftype = _exact(t, node, role)
            else:
                given = role_type or config.default_type
                codes, _ = quantize_constant(np.asarray(t.data, dtype=np.float64), np.array(given.frac),
                                             given.min_int, given.max_int, given.rounding)
                ftype = given.plain()  # a stored constant never rounds again
            g.tensors[name] = Tensor(name, t.shape, ftype, codes)
            changed = True
    return changed


def _quantize_inputs(g: Graph, config) -> bool:
    """A graph input not read by a quantizer gets one of the input (or default) type, with all its modes."""
    changed = False
    for name in g.inputs:
        users = g.consumers(name)
        if users and all(u.op == "Quant" for u in users):
            continue
        ftype = config.input_type or config.default_type
        q = g.fresh_name(f"{name}_q")
        g.add_tensor(Tensor(q, g.tensor(name).shape))
        for u in users:
            u.inputs = [q if t == name else t for t in u.inputs]
        quant = Node(g.fresh_node_name(f"{name}_quant"), "Quant", [name], [q], {"spec": QuantSpec.of_type(ftype)})
        g.nodes.insert(0, quant)
        changed = True
    return changed


def _exact(t: Tensor, node: Node, role: str) -> tuple[np.ndarray, FixedType]:
    """The float constant's exact codes and the narrowest type holding them; a clear error where that is absurd."""
    try:
        codes, frac = exact_codes_of_floats(t.data)
    except ModelError as e:
        raise ModelError(f"{role} {t.name!r}: {e}", node.name) from None
    lo, hi = (int(codes.min()), int(codes.max())) if codes.size else (0, 0)
    ftype = FixedType.covering(lo, hi, frac)
    if ftype.width > MAX_EXACT_CONSTANT_BITS:
        values = np.asarray(t.data).ravel()  # its own dtype, which prints float32 values as written
        nonzero = values[values != 0]
        finest = nonzero[np.argmax([fractional_bits(v) for v in nonzero])]
        largest = values[np.argmax(np.abs(values))]
        raise ModelError(
            f"{role} {t.name!r} is a float constant in a quantized model, and holding its values exactly needs "
            f"{ftype.width} bits (largest {largest!s}, finest {finest!s} needs steps of 2**{-frac}), "
            f"more than {MAX_EXACT_CONSTANT_BITS}: quantize it in the model, or give it a type in the config, "
            f"e.g. layers: {{{node.name}: {{{role}: 'fixed<24,8>'}}}}", node.name)
    return (codes.astype(np.int64) if ftype.fits_int64() else codes), ftype

