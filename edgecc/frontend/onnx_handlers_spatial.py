"""ONNX handlers for convolutional networks: Conv, pooling, BatchNormalization, Concat, Pad, Resize, Clip,
LeakyRelu, Mul/Div/Sub by constants, and the table activations (Sigmoid, Tanh, HardSigmoid, HardSwish, Softmax).

Spatial activations are held channels-last in the IR ((W, C) or (H, W, C)); `OnnxContext.spatial` and
`onnx_order` insert the Transposes between ONNX's order and that one, which passes later cancel or absorb.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError, UnsupportedOp
from ..ir.ops_spatial import out_size
from .onnx import OnnxContext, attrs_of, onnx_handler
from .onnx_validate import MAX_ACTIVATION_ELEMENTS, MAX_WINDOW_TAPS


def _float_const(ctx: OnnxContext, name: str, what: str) -> np.ndarray:
    return np.asarray(ctx.const(name, what), dtype=np.float64)


def _scalar(ctx: OnnxContext, name: str, what: str) -> float:
    value = np.asarray(ctx.const(name, what), dtype=np.float64)
    if value.size != 1:
        raise ModelError(f"{what} ({name!r}) must hold one value, holds {value.size}", ctx.node_name)
    return float(value.ravel()[0])


def _window_attrs(ctx: OnnxContext, node, in_spatial, kernel) -> dict:
    """kernel, strides, dilations and explicit pads (SAME_*/VALID resolved) for a window over in_spatial."""
    a = attrs_of(node)
    rank = len(in_spatial)
    strides = tuple(int(v) for v in a.get("strides", [1] * rank))
    dilations = tuple(int(v) for v in a.get("dilations", [1] * rank))
    pads = [int(v) for v in a.get("pads", [0] * (2 * rank))]
    if len(kernel) != rank or len(strides) != rank or len(dilations) != rank or len(pads) != 2 * rank:
        raise ModelError(f"{node.op_type} attributes do not match its {rank} spatial axes", ctx.node_name)
    if min(strides) < 1 or min(dilations) < 1 or min(pads) < 0:
        raise UnsupportedOp(f"{node.op_type} strides/dilations must be >= 1 and pads >= 0", ctx.node_name)
    auto_pad = a.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad == "VALID":
        pads = [0] * (2 * rank)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        for ax in range(rank):
            out = -(-in_spatial[ax] // strides[ax])
            total = max((out - 1) * strides[ax] + (kernel[ax] - 1) * dilations[ax] + 1 - in_spatial[ax], 0)
            small = total // 2
            pads[ax], pads[rank + ax] = (small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small)
    elif auto_pad != "NOTSET":
        raise UnsupportedOp(f"auto_pad {auto_pad!r} is unknown", ctx.node_name)
    return {"kernel": tuple(int(k) for k in kernel), "strides": strides, "dilations": dilations,
            "pads": tuple(pads)}


def _out_spatial(ctx: OnnxContext, in_spatial, w: dict, channels: int) -> tuple[int, ...]:
    """The output positions of a window; refused where the padded input or the taps all windows read (what the
    golden model gathers) pass the activation limits, which huge pads with huge kernels or strides would."""
    rank = len(in_spatial)
    padded = [in_spatial[ax] + w["pads"][ax] + w["pads"][rank + ax] for ax in range(rank)]
    if math.prod(padded) * channels > MAX_ACTIVATION_ELEMENTS:
        raise ModelError(f"the padded input {padded} of {channels} channels has more than "
                         f"{MAX_ACTIVATION_ELEMENTS} elements", ctx.node_name)
    out = tuple(out_size(in_spatial[ax], w["kernel"][ax], w["strides"][ax], w["dilations"][ax], w["pads"][ax],
                         w["pads"][rank + ax]) for ax in range(rank))
    if min(out) < 1:
        raise ModelError(f"the window {list(w['kernel'])} does not fit the input {list(in_spatial)}", ctx.node_name)
    taps = math.prod(out) * math.prod(w["kernel"]) * channels
    if taps > MAX_WINDOW_TAPS:
        raise ModelError(f"{list(out)} windows of {list(w['kernel'])} over {channels} channels read {taps} "
                         f"values, more than the {MAX_WINDOW_TAPS} edgecc accepts in one layer", ctx.node_name)
    return out


# ---- Conv ---------------------------------------------------------------------------------------------------
@onnx_handler("Conv")
def conv(ctx: OnnxContext, node):
    a = attrs_of(node)
    x = ctx.spatial(node.input[0], "Conv")
    xt = ctx.tensor(x)
    if not ctx.is_const(node.input[1]):
        raise UnsupportedOp("Conv weights must be constant", ctx.node_name)
    wt = ctx.tensor(node.input[1])
    in_spatial, cin = tuple(xt.shape[:-1]), xt.shape[-1]
    if len(wt.shape) != len(in_spatial) + 2 or len(in_spatial) not in (1, 2):
        raise UnsupportedOp(f"Conv over {len(in_spatial)} spatial axes with weights {list(wt.shape)} is not "
                            "supported (1-D and 2-D are)", ctx.node_name)
    cout, cin_g = wt.shape[0], wt.shape[1]
    groups = int(a.get("group", 1))
    if groups < 1 or cin % groups or cout % groups or cin_g * groups != cin:
        raise ModelError(f"Conv group {groups} does not split {cin} input and {cout} output channels "
                         f"(weights {list(wt.shape)})", ctx.node_name)
    kernel = tuple(int(k) for k in a.get("kernel_shape", wt.shape[2:]))
    if kernel != tuple(wt.shape[2:]):
        raise ModelError(f"kernel_shape {list(kernel)} differs from the weights {list(wt.shape)}", ctx.node_name)
    w = _window_attrs(ctx, node, in_spatial, kernel)
    out_sp = _out_spatial(ctx, in_spatial, w, cin)
    # [C_out, C_in/g, *k] -> [*k, C_in/g, C_out] (codes or float values alike)
    perm = tuple(range(2, len(wt.shape))) + (1, 0)
    w_ir = ctx.graph.fresh_name(f"{wt.name}_hwio")
    ctx.add_const_moved(w_ir, wt, lambda d: np.ascontiguousarray(np.transpose(d, perm)))
    inputs = [x, w_ir]
    b = node.input[2] if len(node.input) > 2 and node.input[2] else None
    if b is not None:
        if not ctx.is_const(b):
            raise UnsupportedOp("Conv bias must be constant", ctx.node_name)
        bt = ctx.tensor(b)
        if bt.shape != (cout,):
            raise ModelError(f"Conv bias of shape {list(bt.shape)}, need [{cout}]", ctx.node_name)
        inputs.append(bt.name)
    ctx.add_node("Conv", inputs, node.output[0], out_sp + (cout,),
                 {**w, "groups": groups, "activation": None}, channels_last=True)


# ---- pooling ------------------------------------------------------------------------------------------------
def _pool_window(ctx: OnnxContext, node, x: str, what: str) -> tuple[dict, tuple, tuple, int]:
    a = attrs_of(node)
    xt = ctx.tensor(x)
    in_spatial = tuple(xt.shape[:-1])
    if "kernel_shape" not in a:
        raise ModelError(f"{what} has no kernel_shape", ctx.node_name)
    w = _window_attrs(ctx, node, in_spatial, tuple(a["kernel_shape"]))
    rank = len(in_spatial)
    extra = 0
    if a.get("ceil_mode", 0):
        # ceil: one more output where a window starts inside the input or its begin padding; as end padding
        pads = list(w["pads"])
        for ax in range(rank):
            span = in_spatial[ax] + pads[ax] + pads[rank + ax] - w["dilations"][ax] * (w["kernel"][ax] - 1) - 1
            n = -(-span // w["strides"][ax]) + 1
            if (n - 1) * w["strides"][ax] >= in_spatial[ax] + pads[ax]:
                n -= 1
            need = (n - 1) * w["strides"][ax] + w["dilations"][ax] * (w["kernel"][ax] - 1) + 1
            grow = max(need - (in_spatial[ax] + pads[ax] + pads[rank + ax]), 0)
            pads[rank + ax] += grow
            extra += grow
        w["pads"] = tuple(pads)
    return w, in_spatial, _out_spatial(ctx, in_spatial, w, xt.shape[-1]), extra


@onnx_handler("MaxPool")
def max_pool(ctx: OnnxContext, node):
    if len(node.output) > 1 and node.output[1]:
        raise UnsupportedOp("MaxPool's Indices output is not supported", ctx.node_name)
    x = ctx.spatial(node.input[0], "MaxPool")
    w, _, out_sp, _ = _pool_window(ctx, node, x, "MaxPool")
    if attrs_of(node).get("storage_order", 0):
        pass  # only the Indices output depends on it
    c = ctx.tensor(x).shape[-1]
    ctx.add_node("MaxPool", [x], node.output[0], out_sp + (c,), w, channels_last=True)


@onnx_handler("AveragePool")
def average_pool(ctx: OnnxContext, node):
    x = ctx.spatial(node.input[0], "AveragePool")
    w, _, out_sp, extra = _pool_window(ctx, node, x, "AveragePool")
    include = bool(attrs_of(node).get("count_include_pad", 0))
    if include and extra:
        raise UnsupportedOp("AveragePool with ceil_mode and count_include_pad whose last window passes the "
                            "padding is not supported", ctx.node_name)
    c = ctx.tensor(x).shape[-1]
    ctx.add_node("AvgPool", [x], node.output[0], out_sp + (c,),
                 {**w, "count_include_pad": include, "rounding": "ROUND", "frac": None, "out_type": None},
                 channels_last=True)


@onnx_handler("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx: OnnxContext, node):
    x = ctx.spatial(node.input[0], node.op_type)
    xt = ctx.tensor(x)
    in_spatial = tuple(xt.shape[:-1])
    rank = len(in_spatial)
    w = {"kernel": in_spatial, "strides": (1,) * rank, "dilations": (1,) * rank, "pads": (0,) * (2 * rank)}
    out_shape = (1,) * rank + (xt.shape[-1],)
    if node.op_type == "GlobalMaxPool":
        ctx.add_node("MaxPool", [x], node.output[0], out_shape, w, channels_last=True)
    else:
        ctx.add_node("AvgPool", [x], node.output[0], out_shape,
                     {**w, "count_include_pad": True, "rounding": "ROUND", "frac": None, "out_type": None},
                     channels_last=True)


# ---- normalization and elementwise arithmetic ------------------------------------------------------------------
@onnx_handler("BatchNormalization")
def batch_norm(ctx: OnnxContext, node):
    """y = (x - mean) / sqrt(var + eps) * scale + B = x * s + t: folded into the weights and bias of the Conv or
    MatMul/Gemm before it where those are still float (before any quantization: exact for the float model);
    otherwise a per-channel Mul and Add by the float32 values of s and t (exact constants from then on)."""
    a = attrs_of(node)
    if a.get("training_mode", 0) or (len(node.output) > 1 and any(node.output[1:])):
        raise UnsupportedOp("BatchNormalization in training mode is not supported", ctx.node_name)
    eps = float(a.get("epsilon", 1e-5))
    scale, bias, mean, var = (_float_const(ctx, n, f"BatchNormalization {k}") for n, k in
                              zip(node.input[1:5], ("scale", "B", "mean", "var")))
    shape = ctx.onnx_shape(node.input[0])
    if not shape:
        raise UnsupportedOp("BatchNormalization of a tensor without a channel axis", ctx.node_name)
    if any(v.shape != (shape[0],) for v in (scale, bias, mean, var)):
        raise ModelError(f"BatchNormalization parameters of shapes {[list(v.shape) for v in (scale, bias, mean, var)]}"
                         f", need [{shape[0]}] each", ctx.node_name)
    if np.any(var + np.float32(eps) <= 0):
        raise ModelError(f"BatchNormalization var + epsilon is not positive (epsilon {eps})", ctx.node_name)
    with np.errstate(all="ignore"):
        s = np.float32(scale / np.sqrt(var + np.float32(eps)))
        t = np.float32(bias - mean * s)
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(t))):
        raise ModelError("BatchNormalization folds to a scale or shift beyond float32", ctx.node_name)
    x = node.input[0]
    if _fold_into_producer(ctx, x, s.astype(np.float64), t.astype(np.float64), node.output[0]):
        return
    c = ctx.onnx_shape(x)[0]
    sname, tname = ctx.graph.fresh_name(f"{ctx.node_name}_scale"), ctx.graph.fresh_name(f"{ctx.node_name}_shift")
    shape = (c,) + (1,) * (len(ctx.onnx_shape(x)) - 1)
    ctx.add_const(sname, s.astype(np.float64).reshape(shape))
    ctx.add_const(tname, t.astype(np.float64).reshape(shape))
    mid = _mul(ctx, x, sname, ctx.graph.fresh_name(f"{node.output[0]}_scaled"))
    from .onnx_handlers import _add

    _add(ctx, mid, tname, node.output[0])


def _fold_into_producer(ctx: OnnxContext, x: str, s: np.ndarray, t: np.ndarray, out: str) -> bool:
    """Scale the float weights (and shift the bias) of the Conv or Dense-to-be that alone produces x."""
    name = ctx.name(x)
    producer = ctx.graph.producer(name)
    if producer is None or ctx.onnx_uses.get(x, 0) != 1:
        return False
    if producer.op == "Conv":
        w = ctx.graph.tensors[producer.inputs[1]]
        bias_name = producer.inputs[2] if len(producer.inputs) > 2 else None
    elif producer.op == "MatMul":
        w = ctx.graph.tensors[producer.inputs[1]]
        bias_name = None
    else:
        return False
    bias = ctx.graph.tensors[bias_name] if bias_name else None
    if w.type is not None or (bias is not None and bias.type is not None) or w.shape[-1] != s.size:
        return False                           # quantized weights: scaling them would change their grid
    ctx.graph.tensors[w.name] = type(w)(w.name, w.shape, None, np.asarray(w.data, dtype=np.float64) * s)
    new_bias = (np.asarray(bias.data, dtype=np.float64) * s if bias is not None else 0.0) + t
    bname = ctx.graph.fresh_name(f"{producer.name}_bn_bias")
    ctx.add_const(bname, np.asarray(new_bias, dtype=np.float64).reshape(s.size))
    if producer.op == "Conv":
        producer.inputs = producer.inputs[:2] + [bname]
        ctx.bind(out, name)
    else:   # MatMul: the bias as an Add, which fuse_bias_activation folds into the Dense
        from .onnx_handlers import _add

        _add(ctx, name, bname, out)
    return True


def _mul(ctx: OnnxContext, x: str, c: str, out: str) -> str:
    xt, ct = ctx.tensor(x), ctx.tensor(c)
    if xt.data is not None and ct.data is not None:
        raise UnsupportedOp("Mul of two constants is not folded", ctx.node_name)
    if xt.data is not None:
        x, c = c, x
    if ctx.tensor(c).data is None:
        raise UnsupportedOp("Mul of two activations is not supported (one operand must be constant)",
                            ctx.node_name)
    cc = ctx.const_like(c, x, "constant")
    node = ctx.add_node("Mul", [x, cc], out, ctx.tensor(x).shape, channels_last=ctx.is_channels_last(x))
    return node.output


@onnx_handler("Mul")
def mul(ctx: OnnxContext, node):
    _mul(ctx, node.input[0], node.input[1], node.output[0])


def _scaled_copy(ctx: OnnxContext, name: str, factor_fn, what: str) -> str:
    """A float constant transformed exactly (negated, or its reciprocal where that is a power of two)."""
    t = ctx.tensor(name)
    vals = np.asarray(ctx.const(name, what), dtype=np.float64)
    new = ctx.graph.fresh_name(f"{t.name}_op")
    ctx.add_const(new, factor_fn(vals))
    return new


@onnx_handler("Div")
def div(ctx: OnnxContext, node):
    if not ctx.is_const(node.input[1]) or ctx.is_const(node.input[0]):
        raise UnsupportedOp("Div is supported for an activation divided by a constant", ctx.node_name)
    vals = np.asarray(ctx.const(node.input[1], "the divisor"), dtype=np.float64)
    if np.any(vals == 0):
        raise ModelError("Div by zero", ctx.node_name)
    mant, _ = np.frexp(np.abs(vals))
    if np.any(mant != 0.5):
        raise UnsupportedOp("Div by a constant that is not a power of two (its reciprocal is not exact)",
                            ctx.node_name)
    inv = _scaled_copy(ctx, node.input[1], lambda v: 1.0 / v, "the divisor")
    _mul(ctx, node.input[0], inv, node.output[0])


@onnx_handler("Sub")
def sub(ctx: OnnxContext, node):
    from .onnx_handlers import _add

    x, y = node.input[0], node.input[1]
    if ctx.is_const(y) and not ctx.is_const(x):
        _add(ctx, x, _scaled_copy(ctx, y, lambda v: -v, "the subtrahend"), node.output[0])
        return
    raise UnsupportedOp("Sub is supported for an activation minus a constant", ctx.node_name)


@onnx_handler("Clip")
def clip(ctx: OnnxContext, node):
    a = attrs_of(node)
    lo, hi = a.get("min", -math.inf), a.get("max", math.inf)   # opset < 11 attributes
    if len(node.input) > 1 and node.input[1]:
        lo = _scalar(ctx, node.input[1], "the Clip min")
    if len(node.input) > 2 and node.input[2]:
        hi = _scalar(ctx, node.input[2], "the Clip max")
    src = ctx.tensor(node.input[0])
    if src.data is not None:
        raise UnsupportedOp("Clip of a constant is not folded", ctx.node_name)
    ctx.add_node("Clip", [node.input[0]], node.output[0], src.shape, {"lo_float": float(lo), "hi_float": float(hi)},
                 channels_last=ctx.is_channels_last(node.input[0]))


@onnx_handler("LeakyRelu")
def leaky_relu(ctx: OnnxContext, node):
    from ..ir.quantizers import exact_codes_of_floats

    alpha = float(np.float32(attrs_of(node).get("alpha", 0.01)))
    if not 0 <= alpha <= 1:
        raise UnsupportedOp(f"LeakyRelu alpha {alpha} outside [0, 1] is not supported", ctx.node_name)
    codes, frac = exact_codes_of_floats(np.array([alpha]))    # alpha = code * 2**-frac, exactly (frac >= 0)
    src = ctx.tensor(node.input[0])
    ctx.add_node("LeakyRelu", [node.input[0]], node.output[0], src.shape,
                 {"alpha_code": int(codes[0]), "alpha_frac": int(frac)},
                 channels_last=ctx.is_channels_last(node.input[0]))


# ---- layout ---------------------------------------------------------------------------------------------------
@onnx_handler("Concat")
def concat(ctx: OnnxContext, node):
    axis = int(attrs_of(node)["axis"])
    ins = [i for i in node.input if i]
    acts = [i for i in ins if not ctx.is_const(i)]
    if not acts:
        raise UnsupportedOp("Concat of constants only is not folded", ctx.node_name)
    if len(acts) != len(ins):
        raise UnsupportedOp("Concat of an activation with a constant is not supported", ctx.node_name)
    shapes = [ctx.onnx_shape(i) for i in ins]
    rank = len(shapes[0]) + 1
    ax = axis + rank if axis < 0 else axis
    if ax == 0 or any(len(s) != rank - 1 for s in shapes):
        raise UnsupportedOp(f"Concat along axis {axis} of shapes {[list(s) for s in shapes]}", ctx.node_name)
    if any(s[:ax - 1] + s[ax:] != shapes[0][:ax - 1] + shapes[0][ax:] for s in shapes):
        raise ModelError(f"Concat inputs {[list(s) for s in shapes]} differ off axis {axis}", ctx.node_name)
    spatial = any(ctx.is_channels_last(i) for i in ins)
    names = [ctx.spatial(i, "Concat") if spatial else ctx.onnx_order(i) for i in ins]
    ir_axis = ctx.to_ir_axis(names[0], ax) if spatial else ax - 1
    shape = list(ctx.tensor(names[0]).shape)
    shape[ir_axis] = sum(ctx.tensor(n).shape[ir_axis] for n in names)
    ctx.add_node("Concat", names, node.output[0], tuple(shape), {"axis": ir_axis}, channels_last=spatial)


@onnx_handler("Pad")
def pad(ctx: OnnxContext, node):
    a = attrs_of(node)
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode != "constant":
        raise UnsupportedOp(f"Pad mode {mode!r} is not supported (constant is)", ctx.node_name)
    src = node.input[0]
    shape = ctx.onnx_shape(src)
    rank = len(shape) + 1
    pads = [int(v) for v in np.asarray(ctx.const(node.input[1], "the Pad pads")).ravel()] if len(node.input) > 1 \
        else [int(v) for v in a.get("pads", [])]
    value = 0.0
    if len(node.input) > 2 and node.input[2]:
        value = _scalar(ctx, node.input[2], "the Pad value")
    axes = list(range(rank))
    if len(node.input) > 3 and node.input[3]:
        given = [int(v) for v in np.asarray(ctx.const(node.input[3], "the Pad axes")).ravel()]
        axes = [v + rank if v < 0 else v for v in given]
        if any(not 0 <= v < rank for v in axes) or len(set(axes)) != len(axes):
            raise ModelError(f"Pad axes {given} are out of range or repeated for rank {rank}", ctx.node_name)
    if len(pads) != 2 * len(axes):
        raise ModelError(f"Pad pads {pads} do not match {len(axes)} axes", ctx.node_name)
    full = [0] * (2 * rank)
    for k, ax in enumerate(axes):
        full[ax], full[rank + ax] = pads[k], pads[len(axes) + k]
    if full[0] or full[rank]:
        raise UnsupportedOp("Pad of the batch axis is not supported", ctx.node_name)
    if min(full) < 0:
        raise UnsupportedOp("Pad with negative pads (cropping) is not supported", ctx.node_name)
    begin, end = full[1:rank], full[rank + 1:]
    x = ctx.name(src)
    if ctx.is_channels_last(src):
        begin, end = begin[1:] + begin[:1], end[1:] + end[:1]
    xt = ctx.tensor(x)
    out_shape = tuple(n + b + e for n, b, e in zip(xt.shape, begin, end))
    ctx.add_node("Pad", [x], node.output[0], out_shape, {"pads": tuple(begin) + tuple(end), "value_float": value},
                 channels_last=ctx.is_channels_last(src))


@onnx_handler("Resize", "Upsample")
def resize(ctx: OnnxContext, node):
    """Nearest neighbour only: each output index reads the input index ONNX's formulas give."""
    a = attrs_of(node)

    def text(key, default):
        v = a.get(key, default)
        return v.decode() if isinstance(v, bytes) else str(v)

    mode = text("mode", "nearest")
    if mode != "nearest":
        raise UnsupportedOp(f"Resize mode {mode!r} is not supported (nearest is)", ctx.node_name)
    src = node.input[0]
    shape = ctx.onnx_shape(src)
    full = (1,) + shape
    rank = len(full)
    scales = sizes = None
    if node.op_type == "Upsample":
        scales = np.asarray(ctx.const(node.input[1], "the Upsample scales"), dtype=np.float64)
    else:
        if len(node.input) > 2 and node.input[2]:
            scales = np.asarray(ctx.const(node.input[2], "the Resize scales"), dtype=np.float64)
        if len(node.input) > 3 and node.input[3]:
            sizes = np.asarray(ctx.const(node.input[3], "the Resize sizes"), dtype=np.int64)
        if scales is not None and scales.size == 0:
            scales = None
        if a.get("axes") is not None or text("keep_aspect_ratio_policy", "stretch") != "stretch":
            raise UnsupportedOp("Resize with axes or keep_aspect_ratio_policy is not supported", ctx.node_name)
    if sizes is not None and sizes.size == rank:
        out_full = tuple(int(v) for v in sizes.ravel())
        scales = np.array([o / i for o, i in zip(out_full, full)], dtype=np.float64)
    elif scales is not None and scales.size == rank and (sizes is None or sizes.size == 0):
        out_full = tuple(int(math.floor(i * s)) for i, s in zip(full, scales.ravel()))
    else:
        raise ModelError(f"Resize needs scales or sizes for each of the {rank} axes", ctx.node_name)
    ctx.check_shape(node.output[0], out_full[1:])   # before the index maps of that size are built
    if out_full[0] != 1 or out_full[1] != full[1]:
        raise UnsupportedOp("Resize of the batch or channel axis is not supported", ctx.node_name)
    coord = text("coordinate_transformation_mode", "half_pixel" if node.op_type == "Resize" else "asymmetric")
    nearest = text("nearest_mode", "round_prefer_floor")
    maps = []
    for ax in range(2, rank):
        maps.append(tuple(_nearest_index(o, full[ax], out_full[ax], float(scales[ax]), coord, nearest, ctx)
                          for o in range(out_full[ax])))
    x = ctx.spatial(src, "Resize") if rank > 2 else ctx.name(src)
    c = ctx.tensor(x).shape[-1]
    ctx.add_node("Resize", [x], node.output[0], tuple(out_full[2:]) + (c,), {"maps": tuple(maps)},
                 channels_last=True)


def _nearest_index(o: int, n_in: int, n_out: int, scale: float, coord: str, nearest: str, ctx) -> int:
    if coord == "asymmetric":
        xo = o / scale
    elif coord in ("half_pixel", "pytorch_half_pixel"):
        xo = (o + 0.5) / scale - 0.5 if (coord == "half_pixel" or n_out > 1) else 0.0
    elif coord == "align_corners":
        xo = 0.0 if n_out == 1 else o * (n_in - 1) / (n_out - 1)
    elif coord == "tf_half_pixel_for_nn":
        xo = (o + 0.5) / scale
    else:
        raise UnsupportedOp(f"Resize coordinate_transformation_mode {coord!r} is not supported", ctx.node_name)
    if nearest == "round_prefer_floor":
        i = math.ceil(xo - 0.5) if xo - math.floor(xo) == 0.5 else round(xo)
    elif nearest == "round_prefer_ceil":
        i = math.floor(xo + 0.5)
    elif nearest == "floor":
        i = math.floor(xo)
    elif nearest == "ceil":
        i = math.ceil(xo)
    else:
        raise UnsupportedOp(f"Resize nearest_mode {nearest!r} is not supported", ctx.node_name)
    return min(max(int(i), 0), n_in - 1)


# ---- table activations -------------------------------------------------------------------------------------------
@onnx_handler("Sigmoid", "Tanh", "HardSigmoid", "HardSwish")
def table_activation(ctx: OnnxContext, node):
    a = attrs_of(node)
    src = ctx.tensor(node.input[0])
    if src.data is not None:
        raise UnsupportedOp(f"{node.op_type} of a constant is not folded", ctx.node_name)
    attrs = {"function": node.op_type}
    if node.op_type == "HardSigmoid":
        attrs.update(alpha=float(np.float32(a.get("alpha", 0.2))), beta=float(np.float32(a.get("beta", 0.5))))
    ctx.add_node("Activation", [node.input[0]], node.output[0], src.shape, attrs,
                 channels_last=ctx.is_channels_last(node.input[0]))


@onnx_handler("Softmax")
def softmax(ctx: OnnxContext, node):
    src = ctx.tensor(node.input[0])
    if src.data is not None:
        raise UnsupportedOp("Softmax of a constant is not folded", ctx.node_name)
    rank = len(ctx.onnx_shape(node.input[0])) + 1
    axis = int(attrs_of(node).get("axis", -1 if ctx.opset >= 13 else 1))
    ax = axis + rank if axis < 0 else axis
    if ctx.opset < 13 and ax != rank - 1:
        raise UnsupportedOp("Softmax (opset < 13) over more than the last axis is not supported", ctx.node_name)
    if ctx.to_ir_axis(node.input[0], ax) != len(src.shape) - 1:
        raise UnsupportedOp(f"Softmax over axis {axis} is not supported (edgecc normalizes over the innermost "
                            "axis: channels of a spatial tensor, features of a vector)", ctx.node_name)
    ctx.add_node("Softmax", [node.input[0]], node.output[0], src.shape, {},
                 channels_last=ctx.is_channels_last(node.input[0]))
