"""One small handler per Keras / QKeras layer class: each adds the layer's model-level IR nodes and constants.

Keras tensors are channels-last ((W, C) or (H, W, C) without the batch), as the IR's spatial ops take them.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .keras import KerasContext, keras_handler
from .keras_quantizers import apply_activation, quantized_values


def _out(ctx: KerasContext, k: int = 0) -> tuple[int, ...]:
    return ctx.out_shapes[k]


def _quantizer(layer, attr: str):
    """A Q-layer's quantizer object for `attr` ('kernel', 'bias', 'depthwise', ...), or None (unquantized)."""
    if not getattr(layer, f"{attr}_quantizer", None):
        return None
    return getattr(layer, f"{attr}_quantizer_internal", None)


def _check_channels_last(ctx: KerasContext, layer) -> None:
    fmt = getattr(layer, "data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        ctx.refuse(f"data_format {fmt!r} is not supported (channels_last is)")


# ---- structure ---------------------------------------------------------------------------------------------------
@keras_handler("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
               "ActivityRegularization")
def identity(ctx: KerasContext, layer, inputs):
    """Layers that only act while training."""
    return [_keep_spec(ctx, inputs[0], inputs[0])]


def _keep_spec(ctx: KerasContext, src: str, out: str) -> str:
    """A layer that moves codes without changing them keeps the quantized type its input has."""
    if src in ctx.specs:
        ctx.specs[out] = ctx.specs[src]
    return out


@keras_handler("Flatten", "Reshape")
def reshape(ctx: KerasContext, layer, inputs):
    if layer.__class__.__name__ == "Flatten":
        _check_channels_last(ctx, layer)
    out = ctx.add_node("Reshape", [inputs[0]], _out(ctx))
    return [_keep_spec(ctx, inputs[0], out)]


@keras_handler("Activation", "QActivation")
def activation(ctx: KerasContext, layer, inputs):
    act = getattr(layer, "quantizer", None) if type(layer).__name__ == "QActivation" else layer.activation
    return [apply_activation(ctx, act, inputs[0], suffix="")]


@keras_handler("ReLU")
def relu(ctx: KerasContext, layer, inputs):
    x = inputs[0]
    threshold = float(np.asarray(layer.threshold))
    slope = float(np.asarray(layer.negative_slope))
    if threshold != 0.0:
        ctx.refuse(f"ReLU with threshold {threshold} is not supported")
    if slope == 0.0:
        y = ctx.add_node("Relu", [x], ctx.shape(x))
    else:
        y = _leaky(ctx, x, slope, "")
    if layer.max_value is not None:
        y = ctx.add_node("Clip", [y], ctx.shape(x), {"lo_float": -np.inf, "hi_float": float(layer.max_value)},
                         suffix="_max")
    return [y]


def _leaky(ctx: KerasContext, x: str, alpha: float, suffix: str) -> str:
    from ..ir.quantizers import exact_codes_of_floats

    alpha = float(np.float32(alpha))
    if not 0 <= alpha <= 1:
        ctx.refuse(f"a negative slope of {alpha} outside [0, 1] is not supported")
    codes, frac = exact_codes_of_floats(np.array([alpha]))
    return ctx.add_node("LeakyRelu", [x], ctx.shape(x), {"alpha_code": int(codes[0]), "alpha_frac": int(frac)},
                        suffix=suffix)


@keras_handler("LeakyReLU")
def leaky_relu(ctx: KerasContext, layer, inputs):
    return [_leaky(ctx, inputs[0], float(np.asarray(layer.alpha)), "")]


@keras_handler("Softmax")
def softmax(ctx: KerasContext, layer, inputs):
    rank = len(ctx.shape(inputs[0])) + 1
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if [a % rank for a in axes] != [rank - 1]:
        ctx.refuse(f"Softmax over axis {layer.axis} is not supported (the last axis is)")
    return [ctx.add_node("Softmax", [inputs[0]], ctx.shape(inputs[0]))]


# ---- Dense and convolutions ----------------------------------------------------------------------------------------
@keras_handler("Dense", "QDense")
def dense(ctx: KerasContext, layer, inputs):
    x = inputs[0]
    w = quantized_values(ctx, _quantizer(layer, "kernel"), layer.kernel.numpy(), "kernel")
    w_name = ctx.add_const(f"{ctx.name}_kernel", w)
    if _quantizer(layer, "kernel"):
        ctx.quantized_kernels.add(w_name)
    y = ctx.add_node("MatMul", [x, w_name], ctx.shape(x)[:-1] + (w.shape[1],))
    if layer.use_bias:
        b = quantized_values(ctx, _quantizer(layer, "bias"), layer.bias.numpy(), "bias")
        y = ctx.add_node("Add", [y, ctx.add_const(f"{ctx.name}_bias", b)], ctx.shape(y), suffix="_bias")
    return [apply_activation(ctx, layer.activation, y)]


def _same_pads(in_spatial, kernel, strides, dilations) -> tuple[list[int], list[int]]:
    """TensorFlow's SAME padding: output ceil(n / stride), the smaller half of the padding before."""
    begin, end = [], []
    for n, k, s, d in zip(in_spatial, kernel, strides, dilations):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin, end


def _window(ctx: KerasContext, layer, x: str, kernel, strides, dilations) -> dict:
    in_spatial = ctx.shape(x)[:-1]
    rank = len(in_spatial)
    kernel, strides, dilations = (tuple(int(v) for v in t) for t in (kernel, strides, dilations))
    if len(kernel) != rank:
        ctx.refuse(f"a {len(kernel)}-D window over an input of shape {list(ctx.shape(x))}")
    padding = layer.padding.lower()
    if padding == "valid":
        pads = (0,) * (2 * rank)
    elif padding == "same":
        begin, end = _same_pads(in_spatial, kernel, strides, dilations)
        pads = tuple(begin) + tuple(end)
    elif padding == "causal" and rank == 1:
        pads = ((kernel[0] - 1) * dilations[0], 0)
    else:
        ctx.refuse(f"padding {layer.padding!r} is not supported (valid, same, and causal on 1-D are)")
    return {"kernel": kernel, "strides": strides, "dilations": dilations, "pads": pads}


def _conv(ctx: KerasContext, layer, x: str, kernel: np.ndarray, groups: int, kernel_quantized: bool):
    """Conv with weights [*k, C_in / groups, C_out] (Keras's own layout) and the layer's bias and activation."""
    _check_channels_last(ctx, layer)
    if len(ctx.shape(x)) not in (2, 3):
        ctx.refuse(f"convolution over an input of shape {list(ctx.shape(x))} (1-D and 2-D are supported)")
    w = _window(ctx, layer, x, kernel.shape[:-2], layer.strides, layer.dilation_rate)
    w_name = ctx.add_const(f"{ctx.name}_kernel", kernel)
    if kernel_quantized:
        ctx.quantized_kernels.add(w_name)
    ins = [x, w_name]
    if layer.use_bias:
        b = quantized_values(ctx, _quantizer(layer, "bias"), layer.bias.numpy(), "bias")
        ins.append(ctx.add_const(f"{ctx.name}_bias", b))
    y = ctx.add_node("Conv", ins, _out(ctx), {**w, "groups": groups, "activation": None})
    return [apply_activation(ctx, layer.activation, y)]


@keras_handler("Conv1D", "Conv2D", "QConv1D", "QConv2D")
def conv(ctx: KerasContext, layer, inputs):
    q = _quantizer(layer, "kernel")
    kernel = quantized_values(ctx, q, layer.kernel.numpy(), "kernel")
    return _conv(ctx, layer, inputs[0], kernel, int(getattr(layer, "groups", 1) or 1), bool(q))


@keras_handler("DepthwiseConv1D", "DepthwiseConv2D", "QDepthwiseConv2D")
def depthwise_conv(ctx: KerasContext, layer, inputs):
    """A grouped Conv with one group per input channel: [*k, C, mult] -> [*k, 1, C * mult], whose output channel
    c * mult + j is TensorFlow's too."""
    q = _quantizer(layer, "depthwise")
    kernel = quantized_values(ctx, q, layer.depthwise_kernel.numpy(), "depthwise kernel")
    *k, c, mult = kernel.shape
    return _conv(ctx, layer, inputs[0], kernel.reshape(*k, 1, c * mult), c, bool(q))


@keras_handler("SeparableConv1D", "SeparableConv2D", "QSeparableConv1D", "QSeparableConv2D")
def separable_conv(ctx: KerasContext, layer, inputs):
    """Depthwise (no bias) then a pointwise 1x1 convolution with the bias and activation."""
    _check_channels_last(ctx, layer)
    x = inputs[0]
    dq, pq = _quantizer(layer, "depthwise"), _quantizer(layer, "pointwise")
    depthwise = quantized_values(ctx, dq, layer.depthwise_kernel.numpy(), "depthwise kernel")
    pointwise = quantized_values(ctx, pq, layer.pointwise_kernel.numpy(), "pointwise kernel")
    *k, c, mult = depthwise.shape
    w = _window(ctx, layer, x, k, layer.strides, layer.dilation_rate)
    d_name = ctx.add_const(f"{ctx.name}_depthwise", depthwise.reshape(*k, 1, c * mult))
    mid_shape = _out(ctx)[:-1] + (c * mult,)
    mid = ctx.add_node("Conv", [x, d_name], mid_shape, {**w, "groups": c, "activation": None}, suffix="_depthwise")
    p_name = ctx.add_const(f"{ctx.name}_pointwise", pointwise)
    if pq:
        ctx.quantized_kernels.add(p_name)
    rank = len(k)
    ins = [mid, p_name]
    if layer.use_bias:
        b = quantized_values(ctx, _quantizer(layer, "bias"), layer.bias.numpy(), "bias")
        ins.append(ctx.add_const(f"{ctx.name}_bias", b))
    y = ctx.add_node("Conv", ins, _out(ctx), {"kernel": (1,) * rank, "strides": (1,) * rank,
                                              "dilations": (1,) * rank, "pads": (0,) * (2 * rank), "groups": 1,
                                              "activation": None})
    return [apply_activation(ctx, layer.activation, y)]


# ---- normalization -----------------------------------------------------------------------------------------------
@keras_handler("BatchNormalization", "QBatchNormalization")
def batch_norm(ctx: KerasContext, layer, inputs):
    """Inference: y = x * s + t with s = rsqrt(var + eps) * gamma and t = beta - mean * s, computed by TensorFlow in
    float32 as tf.nn.batch_normalization does (on the quantized parameters of a QBatchNormalization). Folded exactly
    into the Dense or Conv before it where that alone reads it and its weights are float, or scaled by powers of two
    only; otherwise a per-channel Mul and Add by those exact float32 constants."""
    tf = ctx.tf
    x = inputs[0]
    rank = len(ctx.shape(x)) + 1
    axes = [a % rank for a in (layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis])]
    if axes != [rank - 1]:
        ctx.refuse(f"BatchNormalization over axis {layer.axis} is not supported (the channel axis, last, is)")
    is_q = type(layer).__name__ == "QBatchNormalization"

    def param(name, quantizer_attr):
        v = getattr(layer, name)
        if v is None:
            return None
        q = _quantizer(layer, quantizer_attr) if is_q else None
        return tf.constant(quantized_values(ctx, q, v.numpy(), name).astype(np.float32))

    gamma = param("gamma", "gamma") if layer.scale else None
    beta = param("beta", "beta") if layer.center else None
    mean, var = param("moving_mean", "mean"), param("moving_variance", "variance")
    inv = tf.math.rsqrt(var + layer.epsilon)
    if gamma is not None:
        inv = inv * gamma
    shift = beta - mean * inv if beta is not None else -mean * inv
    s = np.asarray(inv, dtype=np.float64)
    t = np.asarray(shift, dtype=np.float64)
    folded = _fold_into_producer(ctx, x, s, t)
    if folded is not None:
        return [folded]
    y = x
    shape = ctx.shape(x)
    if np.any(s != 1.0):
        y = ctx.add_node("Mul", [y, ctx.add_const(f"{ctx.name}_scale", s)], shape, suffix="_scale")
    if np.any(t != 0.0):
        y = ctx.add_node("Add", [y, ctx.add_const(f"{ctx.name}_shift", t)], shape, suffix="_shift")
    if y == x:
        y = ctx.add_node("Reshape", [x], shape)   # an identity normalization: keep one node per layer
    return [y]


def _fold_into_producer(ctx: KerasContext, x: str, s: np.ndarray, t: np.ndarray) -> str | None:
    """Scale the weights and shift the bias of the Conv, or MatMul (+ bias Add), that produces x and that only this
    layer reads: always for float weights; for a quantizer's weights only where every s is a power of two (the
    weights keep their grid, shifted). Done only where every new value is exact in float64. Returns the tensor
    that now holds the normalized values, or None where nothing was folded."""
    g = ctx.graph
    producer = g.producer(x)
    if producer is None or not ctx.read_once(x):
        return None
    bias_node = None
    if producer.op == "Add" and len(producer.inputs) == 2 and g.tensors[producer.inputs[1]].data is not None:
        mm = g.producer(producer.inputs[0])
        if mm is None or mm.op != "MatMul" or len(g.consumers(mm.output)) != 1:
            return None
        bias_node, producer = producer, mm
    if producer.op not in ("Conv", "MatMul"):
        return None
    w = g.tensors[producer.inputs[1]]
    if w.shape[-1] != s.size or len(g.consumers(w.name)) != 1:
        return None
    if w.name in ctx.quantized_kernels and not np.all(np.frexp(s)[0] == 0.5):
        return None
    if producer.op == "Conv":
        bias_name = producer.inputs[2] if len(producer.inputs) > 2 else None
    else:
        bias_name = bias_node.inputs[1] if bias_node is not None else None
    bias = np.asarray(g.tensors[bias_name].data, dtype=np.float64) if bias_name else np.zeros(s.size)
    if bias.shape != (s.size,) or (bias_name and len(g.consumers(bias_name)) != 1):
        return None
    new_w = np.asarray(w.data, dtype=np.float64) * s
    new_b = bias * s + t
    if not (_exact_product(w.data, s, new_w) and _exact_affine(bias, s, t, new_b)):
        return None
    g.tensors[w.name].data = new_w
    if bias_name:
        g.tensors[bias_name].data = new_b
        return x
    if producer.op == "Conv":
        producer.inputs.append(ctx.add_const(f"{producer.name}_bn_bias", new_b))
        return x
    return ctx.add_node("Add", [x, ctx.add_const(f"{ctx.name}_bias", new_b)], g.tensors[x].shape)


def _exact_product(w, s, product) -> bool:
    """w * s (broadcast over the last axis) equals the float64 product exactly (float32 times float32 always does)."""
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(product)):
        return False
    if np.all(np.frexp(s)[0] == 0.5) or (_is_float32(w) and _is_float32(s)):
        return True
    return all(Fraction(float(a)) * Fraction(float(b)) == Fraction(float(c))
               for a, b, c in zip(w.ravel(), np.broadcast_to(s, w.shape).ravel(), np.asarray(product).ravel()))


def _is_float32(v) -> bool:
    v = np.asarray(v, dtype=np.float64)
    return bool(np.all(v.astype(np.float32).astype(np.float64) == v))


def _exact_affine(b, s, t, result) -> bool:
    return all(Fraction(float(bi)) * Fraction(float(si)) + Fraction(float(ti)) == Fraction(float(r))
               for bi, si, ti, r in zip(b, s, t, result))


# ---- pooling -----------------------------------------------------------------------------------------------------
@keras_handler("MaxPooling1D", "MaxPooling2D")
def max_pool(ctx: KerasContext, layer, inputs):
    _check_channels_last(ctx, layer)
    x = inputs[0]
    w = _window(ctx, layer, x, layer.pool_size, layer.strides, (1,) * len(layer.pool_size))
    return [_keep_spec(ctx, x, ctx.add_node("MaxPool", [x], _out(ctx), w))]


@keras_handler("AveragePooling1D", "AveragePooling2D")
def average_pool(ctx: KerasContext, layer, inputs):
    """TensorFlow averages the taps inside the input (SAME padding counts no padding)."""
    _check_channels_last(ctx, layer)
    x = inputs[0]
    w = _window(ctx, layer, x, layer.pool_size, layer.strides, (1,) * len(layer.pool_size))
    return [ctx.add_node("AvgPool", [x], _out(ctx),
                         {**w, "count_include_pad": False, "rounding": "ROUND", "frac": None, "out_type": None})]


@keras_handler("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D")
def global_pool(ctx: KerasContext, layer, inputs):
    _check_channels_last(ctx, layer)
    x = inputs[0]
    in_spatial = ctx.shape(x)[:-1]
    rank = len(in_spatial)
    w = {"kernel": in_spatial, "strides": (1,) * rank, "dilations": (1,) * rank, "pads": (0,) * (2 * rank)}
    pooled = (1,) * rank + (ctx.shape(x)[-1],)
    if "Max" in type(layer).__name__:
        y = _keep_spec(ctx, x, ctx.add_node("MaxPool", [x], pooled, w))
    else:
        y = ctx.add_node("AvgPool", [x], pooled, {**w, "count_include_pad": True, "rounding": "ROUND", "frac": None,
                                                  "out_type": None})
    if tuple(_out(ctx)) != pooled:
        y = _keep_spec(ctx, y, ctx.add_node("Reshape", [y], _out(ctx), suffix="_flat"))
    return [y]


@keras_handler("ZeroPadding1D", "ZeroPadding2D")
def zero_padding(ctx: KerasContext, layer, inputs):
    _check_channels_last(ctx, layer)
    x = inputs[0]
    pads = layer.padding
    pairs = [tuple(pads)] if type(layer).__name__ == "ZeroPadding1D" else [tuple(p) for p in pads]
    begin = tuple(int(p[0]) for p in pairs) + (0,)
    end = tuple(int(p[1]) for p in pairs) + (0,)
    return [ctx.add_node("Pad", [x], _out(ctx), {"pads": begin + end, "value_float": 0.0})]


# ---- merging -----------------------------------------------------------------------------------------------------
@keras_handler("Add")
def add(ctx: KerasContext, layer, inputs):
    shapes = {ctx.shape(i) for i in inputs}
    if len(shapes) != 1:
        ctx.refuse(f"Add of shapes {sorted(list(s) for s in shapes)} (broadcasting is not supported)")
    y = inputs[0]
    for k, other in enumerate(inputs[1:]):
        y = ctx.add_node("Add", [y, other], ctx.shape(y), suffix="" if k == 0 else f"_{k + 1}")
    return [y]


@keras_handler("Concatenate")
def concatenate(ctx: KerasContext, layer, inputs):
    rank = len(ctx.shape(inputs[0])) + 1
    axis = layer.axis % rank
    if axis == 0:
        ctx.refuse("Concatenate along the batch axis")
    return [ctx.add_node("Concat", inputs, _out(ctx), {"axis": axis - 1})]

