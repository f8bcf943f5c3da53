"""One small handler per ONNX op type: each reads its node and adds model-level IR nodes or folded constants."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError, UnsupportedOp
from ..ir.quantizers import (QuantSpec, codes_of_integers, codes_of_integers_scaled, int_range, quantize_constant,
                              quantize_constant_scaled, requantize_constant, requantize_constant_scaled, scale_parts)
from ..ir.types import FixedType
from .onnx import OnnxContext, attrs_of, onnx_handler
from .onnx_validate import MAX_QUANT_BITS

QONNX_ROUNDING = ("ROUND", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN")
QDQ_DTYPES = {  # ONNX TensorProto data type -> (bits, signed)
    2: (8, False), 3: (8, True), 4: (16, False), 5: (16, True), 6: (32, True), 12: (32, False),
    21: (4, False), 22: (4, True),
}


def _inputs(node) -> list[str]:
    return [i for i in node.input]


def _opt_input(node, k: int) -> str | None:
    return node.input[k] if len(node.input) > k and node.input[k] else None


def _full(shape) -> tuple[int, ...]:
    return (1,) + tuple(shape)


def _strip(ctx: OnnxContext, full_shape, what: str) -> tuple[int, ...]:
    if not full_shape or full_shape[0] != 1:
        raise UnsupportedOp(f"{what} moves the batch dimension (result shape {list(full_shape)})", ctx.node_name)
    return tuple(int(d) for d in full_shape[1:])


def _fold_layout(ctx: OnnxContext, out: str, src: str, fn) -> None:
    """A layout op on a constant: apply it to the codes (or float values) and its scale factor; keep the type."""
    ctx.add_const_moved(out, ctx.tensor(src), fn)


# ---- structure ----------------------------------------------------------------------------------------
@onnx_handler("Identity", "Dropout")
def identity(ctx: OnnxContext, node):
    if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
        raise UnsupportedOp("Dropout's mask output is used; edgecc removes Dropout at inference", ctx.node_name)
    ctx.bind(node.output[0], ctx.name(node.input[0]))


@onnx_handler("Constant")
def constant(ctx: OnnxContext, node):
    from onnx import numpy_helper

    a = attrs_of(node)
    if "value" in a:
        value = numpy_helper.to_array(a["value"])
    elif "value_float" in a or "value_int" in a:
        value = np.array(a.get("value_float", a.get("value_int")))
    elif "value_floats" in a or "value_ints" in a:
        value = np.array(a.get("value_floats", a.get("value_ints")))
    else:
        raise UnsupportedOp(f"Constant with attribute {sorted(a)} is not supported", ctx.node_name)
    ctx.add_const(node.output[0], value)


@onnx_handler("Reshape")
def reshape(ctx: OnnxContext, node):
    src = ctx.tensor(node.input[0])
    if src.data is None:
        src = ctx.tensor(ctx.onnx_order(node.input[0]))
    target = [int(v) for v in np.asarray(ctx.const(node.input[1], "the Reshape shape")).ravel()]
    allowzero = attrs_of(node).get("allowzero", 0)
    full = _full(src.shape) if src.data is None else tuple(src.shape)
    resolved = [full[k] if (v == 0 and not allowzero and k < len(full)) else v for k, v in enumerate(target)]
    try:
        out_full = np.empty(full, dtype=np.int8).reshape(resolved).shape
    except ValueError:
        raise ModelError(f"cannot reshape {list(full)} to {target}", ctx.node_name) from None
    if src.data is not None:
        _fold_layout(ctx, node.output[0], node.input[0], lambda d: d.reshape(out_full))
        return
    ctx.add_node("Reshape", [src.name], node.output[0], _strip(ctx, out_full, "Reshape"))


@onnx_handler("Flatten")
def flatten(ctx: OnnxContext, node):
    src = ctx.tensor(node.input[0])
    if src.data is None:   # ONNX flattens in its own axis order: a channels-last tensor goes back first
        src = ctx.tensor(ctx.onnx_order(node.input[0]))
    full = _full(src.shape) if src.data is None else tuple(src.shape)
    axis = attrs_of(node).get("axis", 1)
    if not -len(full) <= axis <= len(full):
        raise ModelError(f"Flatten axis {axis} is out of range for rank {len(full)}", ctx.node_name)
    axis = axis + len(full) if axis < 0 else axis
    out_full = (int(np.prod(full[:axis], dtype=np.int64)), int(np.prod(full[axis:], dtype=np.int64)))
    if src.data is not None:
        _fold_layout(ctx, node.output[0], node.input[0], lambda d: d.reshape(out_full))
        return
    ctx.add_node("Reshape", [src.name], node.output[0], _strip(ctx, out_full, "Flatten"))


@onnx_handler("Transpose")
def transpose(ctx: OnnxContext, node):
    perm = attrs_of(node).get("perm")
    if ctx.is_const(node.input[0]):
        rank = len(ctx.tensor(node.input[0]).shape)
        if perm is not None and sorted(perm) != list(range(rank)):
            raise ModelError(f"Transpose perm {list(perm)} is not a permutation of the constant's {rank} axes",
                             ctx.node_name)
        _fold_layout(ctx, node.output[0], node.input[0], lambda d: np.transpose(d, perm))
        return
    src = ctx.tensor(ctx.onnx_order(node.input[0]))
    rank = len(src.shape) + 1
    perm = list(perm) if perm is not None else list(range(rank))[::-1]
    if sorted(perm) != list(range(rank)) or perm[0] != 0:
        raise UnsupportedOp(f"Transpose perm {perm} moves the batch axis or is not a permutation", ctx.node_name)
    ir_perm = tuple(p - 1 for p in perm[1:])
    ctx.add_node("Transpose", [src.name], node.output[0], tuple(src.shape[p] for p in ir_perm), {"perm": ir_perm})


# ---- arithmetic ----------------------------------------------------------------------------------------
def _scaled_const(ctx: OnnxContext, name: str, factor: float, what: str) -> str:
    """The constant `name` times `factor`: exact for a power of two on a quantized constant, folded on a float one."""
    if factor == 1.0:
        return ctx.name(name)
    t = ctx.tensor(name)
    new = ctx.graph.fresh_name(f"{t.name}_scaled")
    if t.type is None:
        ctx.add_const(new, np.asarray(t.data, dtype=np.float64) * factor)
        return new
    mant, exp = np.frexp(abs(factor))
    if mant != 0.5:
        raise UnsupportedOp(f"{what}={factor} on a quantized constant is not a power of two", ctx.node_name)
    shift = int(exp) - 1  # factor = +-2**shift
    codes = -t.data if factor < 0 else t.data
    ftype = FixedType.covering(int(np.min(codes)), int(np.max(codes)), t.type.frac - shift)
    ctx.add_const(new, codes, ftype, t.scale)
    return new


def _matmul(ctx: OnnxContext, x: str, w: str, out: str):
    xt, wt = ctx.tensor(x), ctx.tensor(w)
    if xt.data is None:
        x = ctx.onnx_order(x)
        xt = ctx.tensor(x)
    if xt.data is not None:
        raise UnsupportedOp("a matrix product with a constant left operand is not supported", ctx.node_name)
    if wt.data is None:
        raise UnsupportedOp("a matrix product of two activations is not supported (weights must be constant)",
                            ctx.node_name)
    if len(wt.shape) != 2:
        raise UnsupportedOp(f"weights of rank {len(wt.shape)} are not supported (need a 2-D matrix)", ctx.node_name)
    if not xt.shape or xt.shape[-1] != wt.shape[0]:
        raise ModelError(f"cannot multiply {list(_full(xt.shape))} by {list(wt.shape)}", ctx.node_name)
    return ctx.add_node("MatMul", [x, w], out, tuple(xt.shape[:-1]) + (wt.shape[1],))


@onnx_handler("MatMul")
def matmul(ctx: OnnxContext, node):
    _matmul(ctx, node.input[0], node.input[1], node.output[0])


@onnx_handler("Gemm")
def gemm(ctx: OnnxContext, node):
    a = attrs_of(node)
    if a.get("transA", 0):
        raise UnsupportedOp("Gemm with transA=1 on a batched activation is not supported", ctx.node_name)
    w = node.input[1]
    if a.get("transB", 0):
        if not ctx.is_const(w):
            raise UnsupportedOp("Gemm weights must be constant", ctx.node_name)
        transposed = ctx.graph.fresh_name(f"{ctx.name(w)}_T")
        _fold_layout(ctx, transposed, w, lambda d: np.transpose(d))
        w = transposed
    w = _scaled_const(ctx, w, float(a.get("alpha", 1.0)), "alpha")
    c = _opt_input(node, 2)
    if c is None:
        _matmul(ctx, node.input[0], w, node.output[0])
        return
    product = _matmul(ctx, node.input[0], w, ctx.graph.fresh_name(f"{node.output[0]}_matmul"))
    bias = _scaled_const(ctx, c, float(a.get("beta", 1.0)), "beta")
    _add(ctx, product.output, bias, node.output[0])


def _add(ctx: OnnxContext, x: str, y: str, out: str):
    xt, yt = ctx.tensor(x), ctx.tensor(y)
    if xt.data is not None and yt.data is not None:
        raise UnsupportedOp("Add of two constants is not folded", ctx.node_name)
    if xt.data is not None:
        x, y, xt, yt = y, x, yt, xt
    if yt.data is not None:
        y = ctx.const_like(y, x, "constant")
    else:
        if ctx.onnx_shape(x) != ctx.onnx_shape(y):
            raise UnsupportedOp(f"Add of activations of shapes {list(ctx.onnx_shape(x))} and "
                                f"{list(ctx.onnx_shape(y))} (broadcasting between activations is not supported)",
                                ctx.node_name)
        if ctx.is_channels_last(x) != ctx.is_channels_last(y):
            x, y = ctx.spatial(x, "Add"), ctx.spatial(y, "Add")
        xt = ctx.tensor(x)
    return ctx.add_node("Add", [x, y], out, xt.shape, channels_last=ctx.is_channels_last(x))


@onnx_handler("Add")
def add(ctx: OnnxContext, node):
    _add(ctx, node.input[0], node.input[1], node.output[0])


@onnx_handler("Relu")
def relu(ctx: OnnxContext, node):
    src = ctx.tensor(node.input[0])
    if src.data is not None:
        raise UnsupportedOp("Relu of a constant is not folded", ctx.node_name)
    ctx.add_node("Relu", [node.input[0]], node.output[0], src.shape,
                 channels_last=ctx.is_channels_last(node.input[0]))


# ---- quantizers -----------------------------------------------------------------------------------------
def _quantizer(ctx: OnnxContext, x: str, out: str, scale: np.ndarray, zero_point: np.ndarray, qmin: int, qmax: int,
               rounding: str, overflow: str, zero_point_first: bool, axis: int | None = None) -> None:
    """Fold a quantizer on a constant into typed codes, or add a model-level Quant node on an activation.

    scale and zero_point are the model's (one value, or per axis); [qmin, qmax] its integer range. Codes are
    centered (q - zero_point). zero_point_first: the zero point is added before the rounding (QONNX), not after
    (ONNX QuantizeLinear); the two differ only at ties (half to even) and where float32 rounds the sum."""
    src = ctx.tensor(x)
    fracs, factor = scale_parts(scale, f"the quantizer of {x!r}", ctx.node_name)
    zp = np.asarray(zero_point, dtype=np.int64)
    if src.data is not None:
        plain = factor is None and src.scale is None and (not np.any(zp) or (not zero_point_first and zp.size == 1))
        z = int(zp.ravel()[0]) if zp.size else 0
        if plain and src.type is not None:   # already quantized: requantize its codes exactly, never through float
            codes, ftype = requantize_constant(src.data, src.type.frac, fracs, qmin - z, qmax - z, rounding, axis)
            ctx.add_const(out, codes, ftype)
        elif plain:
            codes, ftype = quantize_constant(np.asarray(src.data, dtype=np.float64), fracs, qmin - z, qmax - z,
                                             rounding, axis)
            ctx.add_const(out, codes, ftype)
        elif src.type is not None:
            codes, ftype, f = requantize_constant_scaled(src.data, src.type, src.scale, scale, zp, qmin, qmax,
                                                         rounding, axis)
            ctx.add_const(out, codes, ftype, f)
        else:
            codes, ftype, f = quantize_constant_scaled(np.asarray(src.data, dtype=np.float64), scale, zp, qmin, qmax,
                                                       rounding, zero_point_first, axis)
            ctx.add_const(out, codes, ftype, f)
        return
    if np.asarray(fracs).size != 1:
        raise UnsupportedOp("per-channel scales on an activation are not supported", ctx.node_name)
    if zp.size != 1:
        raise UnsupportedOp("per-channel zero points on an activation are not supported", ctx.node_name)
    z = int(zp.ravel()[0])
    s = float(np.asarray(scale, dtype=np.float64).ravel()[0])
    recipe = factor is not None or (z != 0 and zero_point_first)   # where the exact input path would differ
    spec = QuantSpec(int(np.asarray(fracs).ravel()[0]), qmin - z, qmax - z, rounding, overflow,
                     factor=None if factor is None else factor.ravel()[0],
                     float_scale=s if recipe else None, zero_point=z, zero_point_first=zero_point_first)
    ctx.add_node("Quant", [x], out, src.shape, {"spec": spec}, channels_last=ctx.is_channels_last(x))


def _integer_zero_point(ctx: OnnxContext, zeropt: np.ndarray) -> np.ndarray:
    if np.any(zeropt != np.round(zeropt)) or not np.all(np.isfinite(zeropt)):
        raise UnsupportedOp(f"Quant zero point {zeropt.ravel()[:4].tolist()} is not an integer", ctx.node_name)
    return np.round(zeropt).astype(np.int64)


@onnx_handler("Quant")
def qonnx_quant(ctx: OnnxContext, node):
    a = attrs_of(node)
    x = node.input[0]
    scale = np.asarray(ctx.const(node.input[1], "the Quant scale"), dtype=np.float64)
    zeropt = np.asarray(ctx.const(node.input[2], "the Quant zero point"), dtype=np.float64)
    bits = np.asarray(ctx.const(node.input[3], "the Quant bit width"), dtype=np.float64)
    b = float(bits.ravel()[0]) if bits.size == 1 else math.nan
    if not (math.isfinite(b) and b == int(b) and 1 <= b <= MAX_QUANT_BITS):
        raise UnsupportedOp(f"Quant bit width {bits.ravel()[:4].tolist()} is not one integer from 1 to "
                            f"{MAX_QUANT_BITS}", ctx.node_name)
    zp = _integer_zero_point(ctx, zeropt)
    bits_i = int(bits.ravel()[0])
    signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
    rounding = a.get("rounding_mode", b"ROUND")
    rounding = (rounding.decode() if isinstance(rounding, bytes) else str(rounding)).upper()
    if rounding not in QONNX_ROUNDING:
        raise UnsupportedOp(f"Quant rounding_mode {rounding!r} is unknown (known: {', '.join(QONNX_ROUNDING)})",
                            ctx.node_name)
    if signed and bits_i == 1:
        raise UnsupportedOp("a signed 1-bit (bipolar) Quant is not supported yet", ctx.node_name)
    lo, hi = int_range(bits_i, signed, narrow)
    # a QONNX Quant saturates; narrow on a signed type is the symmetric range
    _quantizer(ctx, x, node.output[0], scale, zp, lo, hi, rounding, "SAT_SYM" if signed and narrow else "SAT",
               zero_point_first=True)


def _qdq_params(ctx: OnnxContext, node):
    a = attrs_of(node)
    scale = np.asarray(ctx.const(node.input[1], f"the {node.op_type} scale"), dtype=np.float64)
    zp_name = _opt_input(node, 2)
    if a.get("block_size", 0):
        raise UnsupportedOp(f"{node.op_type} with block_size is not supported", ctx.node_name)
    if zp_name is not None:
        zp_tensor = ctx.tensor(zp_name)
        if zp_tensor.data is None:
            raise UnsupportedOp(f"the {node.op_type} zero point must be constant", ctx.node_name)
        zp = np.asarray(zp_tensor.data)
        if zp.size == 0:
            raise ModelError(f"the {node.op_type} zero point {zp_name!r} is empty", ctx.node_name)
        dtype_code = _onnx_dtype_of(zp)
    else:
        zp = np.zeros(1, dtype=np.int64)
        dtype_code = a.get("output_dtype", 2) or 2
    if dtype_code not in QDQ_DTYPES:
        raise UnsupportedOp(f"{node.op_type} to ONNX data type {dtype_code} is not supported "
                            "(int4/uint4/int8/uint8/int16/uint16/int32 are)", ctx.node_name)
    axis = a.get("axis", 1)
    return scale, zp, dtype_code, axis


def _onnx_dtype_of(arr: np.ndarray) -> int:
    from onnx import helper

    try:
        return helper.np_dtype_to_tensor_dtype(arr.dtype)
    except Exception:
        return -1


def _axis_in(ctx: OnnxContext, t, axis: int, *params) -> int:
    """The axis of constant `t` that per-axis parameters (scales, zero points) lie along, checked against them."""
    rank = len(t.shape)
    a = axis + rank if axis < 0 else axis
    sizes = {np.asarray(p).size for p in params} - {1}
    if sizes:
        if not 0 <= a < rank:
            raise ModelError(f"axis {axis} of per-axis parameters is out of range for {t.name!r} of shape "
                             f"{list(t.shape)}", ctx.node_name)
        if sizes != {t.shape[a]}:
            raise ModelError(f"per-axis parameters of sizes {sorted(sizes)} do not match axis {axis} of {t.name!r} "
                             f"of shape {list(t.shape)}", ctx.node_name)
    return a


@onnx_handler("QuantizeLinear")
def quantize_linear(ctx: OnnxContext, node):
    x = node.input[0]
    scale, zp, dtype_code, axis = _qdq_params(ctx, node)
    bits, signed = QDQ_DTYPES[dtype_code]
    qmin, qmax = int_range(bits, signed, False)
    src = ctx.tensor(x)
    zp = np.asarray(zp, dtype=np.int64)
    if zp.size > 1 and np.all(zp == zp.ravel()[0]):
        zp = zp.ravel()[:1]
    if zp.size > 1 and src.data is None:
        raise UnsupportedOp("per-axis non-zero zero points are not supported", ctx.node_name)
    axis_in = _axis_in(ctx, src, axis, scale, zp) if src.data is not None else None
    _quantizer(ctx, x, node.output[0], scale, zp, qmin, qmax, "ROUND", "SAT", zero_point_first=False, axis=axis_in)
    ctx.qlinear[node.output[0]] = (scale, zp)


@onnx_handler("DequantizeLinear")
def dequantize_linear(ctx: OnnxContext, node):
    src_name = node.input[0]
    scale, zp, _, axis = _qdq_params(ctx, node)
    if src_name in ctx.qlinear:
        q_scale, q_zp = ctx.qlinear[src_name]
        same_scale = np.array_equal(np.ravel(q_scale), np.ravel(scale)) or (
            np.ravel(scale).size > 1 and np.all(np.ravel(scale) == np.ravel(q_scale)[0]))
        if not (same_scale and np.all(np.ravel(zp).astype(np.int64) == np.ravel(q_zp)[0])):
            raise UnsupportedOp(f"DequantizeLinear of {src_name!r} uses another scale or zero point than its "
                                "QuantizeLinear", ctx.node_name)
        ctx.bind(node.output[0], ctx.name(src_name))
        return
    src = ctx.tensor(src_name)
    if src.data is None or src.type is not None:
        raise UnsupportedOp(f"DequantizeLinear of {src_name!r} needs a QuantizeLinear before it or an "
                            "integer constant", ctx.node_name)
    if not np.issubdtype(np.asarray(src.data).dtype, np.integer):
        raise ModelError(f"DequantizeLinear input {src_name!r} is not an integer tensor", ctx.node_name)
    fracs, factor = scale_parts(scale, f"DequantizeLinear input {src_name!r}", ctx.node_name)
    if factor is None:
        codes, ftype = codes_of_integers(src.data, fracs, zp, _axis_in(ctx, src, axis, scale, zp))
        ctx.add_const(node.output[0], codes, ftype)
        return
    codes, ftype, f = codes_of_integers_scaled(src.data, factor, zp, _axis_in(ctx, src, axis, scale, zp))
    ctx.add_const(node.output[0], codes, ftype, f)
