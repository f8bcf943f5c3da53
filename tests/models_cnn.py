"""Convolutional test models built with onnx.helper: QONNX CNNs (1-D and 2-D convolutions, pooling, BatchNorm,
Concat, residual blocks, table activations) and a float one, with fixed seeds."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from models import OPSET, QONNX_DOMAIN, QonnxBuilder


class CnnBuilder(QonnxBuilder):
    """A QonnxBuilder whose input is [N, C, *spatial]; layers take and return ONNX tensor names."""

    def __init__(self, in_shape, name="qcnn", seed=0):
        super().__init__(0, name=name)
        self.input = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])
        self.rng = np.random.default_rng(seed)

    def node(self, op, inputs, base, **attrs):
        n = self._n(base)
        self.nodes.append(helper.make_node(op, inputs, [f"{n}_out"], name=n, **attrs))
        return f"{n}_out"

    def conv(self, x, cin, cout, kernel, w_bits=6, w_frac=4, bias=True, group=1, quant_w=True, **attrs):
        fan_in = (cin // group) * int(np.prod(kernel))
        w = self.rng.normal(0, 1.0 / np.sqrt(fan_in), size=(cout, cin // group, *kernel))
        wq = self.quant(self.const(w), w_bits, w_frac, narrow=True) if quant_w else self.const(w)
        inputs = [x, wq]
        if bias:
            b = self.rng.normal(0, 0.2, size=cout)
            inputs.append(self.quant(self.const(b), 12, 8) if quant_w else self.const(b))
        return self.node("Conv", inputs, "conv", kernel_shape=list(kernel), group=group, **attrs)

    def bn(self, x, c):
        scale = self.rng.uniform(0.5, 1.5, size=c)
        bias = self.rng.normal(0, 0.2, size=c)
        mean = self.rng.normal(0, 0.3, size=c)
        var = self.rng.uniform(0.5, 2.0, size=c)
        return self.node("BatchNormalization", [x] + [self.const(v) for v in (scale, bias, mean, var)], "bn",
                         epsilon=1e-5)

    def act(self, x, bits=8, frac=4, signed=False, rounding="ROUND"):
        return self.quant(self.relu(x), bits, frac, signed=signed, rounding=rounding)

    def model(self, out, out_shape) -> onnx.ModelProto:
        y = helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", *out_shape])
        g = helper.make_graph(self.nodes, self.name, [self.input], [y], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(QONNX_DOMAIN, 1)])
        m.ir_version = 8
        return m

    def flatten_dense(self, x, n_in, n_out, w_bits=6, w_frac=5):
        f = self.node("Flatten", [x], "flat", axis=1)
        w = self.rng.normal(0, 1.0 / np.sqrt(n_in), size=(n_in, n_out))
        return self.dense(f, w, self.rng.normal(0, 0.2, size=n_out), w_bits=w_bits, w_frac=w_frac)


def cnn1d(seed=1) -> onnx.ModelProto:
    """[N, 2, 24] -> Conv1d(2->4, k3, pad 1) -> Relu -> Quant -> MaxPool(2) -> Conv1d(4->6, k3, stride 2) -> Relu
    -> Quant -> Flatten -> Dense(6*5 -> 3) -> Quant."""
    b = CnnBuilder((2, 24), "cnn1d", seed)
    h = b.quant("x", 8, 4)
    h = b.act(b.conv(h, 2, 4, (3,), pads=[1, 1]))
    h = b.node("MaxPool", [h], "pool", kernel_shape=[2], strides=[2])
    h = b.act(b.conv(h, 4, 6, (3,), strides=[2]))
    h = b.quant(b.flatten_dense(h, 6 * 5, 3), 12, 4)
    return b.model(h, [3])


def cnn2d_geometry(seed=2) -> onnx.ModelProto:
    """[N, 3, 11, 10]: Conv 3x3 asymmetric pads, stride (2,1), dilation (1,2) -> Quant -> Conv 2x2 SAME_UPPER
    -> Relu -> Quant -> AveragePool 3x3 (pads, count_include_pad=0) -> Quant -> Flatten -> Dense."""
    b = CnnBuilder((3, 11, 10), "cnn2d_geometry", seed)
    h = b.quant("x", 8, 4)
    h = b.quant(b.conv(h, 3, 5, (3, 3), pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2]), 8, 3)
    h = b.act(b.conv(h, 5, 4, (2, 2), auto_pad="SAME_UPPER"))
    h = b.node("AveragePool", [h], "avg", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    h = b.quant(h, 8, 5, signed=False)
    # shapes: conv1 -> (6, 8) ; conv2 SAME -> (6, 8); avg 3x3 s2 p1 -> (3, 4)
    h = b.quant(b.flatten_dense(h, 4 * 3 * 4, 5), 12, 4)
    return b.model(h, [5])


def depthwise_separable(seed=3) -> onnx.ModelProto:
    """[N, 4, 8, 8]: depthwise 3x3 (group 4) -> Relu -> Quant -> pointwise 1x1 (4->8) -> Relu -> Quant ->
    MaxPool 2x2 (ceil_mode) -> GlobalAveragePool -> Quant -> Flatten -> Dense."""
    b = CnnBuilder((4, 8, 8), "depthwise_separable", seed)
    h = b.quant("x", 8, 4)
    h = b.act(b.conv(h, 4, 4, (3, 3), group=4, pads=[1, 1, 1, 1]))
    h = b.act(b.conv(h, 4, 8, (1, 1)))
    h = b.node("MaxPool", [h], "pool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    h = b.quant(b.node("GlobalAveragePool", [h], "gap"), 10, 6, signed=False)
    h = b.quant(b.flatten_dense(h, 8, 4), 12, 4)
    return b.model(h, [4])


def residual_block(seed=4) -> onnx.ModelProto:
    """[N, 3, 8, 8]: Conv -> BatchNorm -> Relu -> Quant (a) -> Conv -> BatchNorm -> Quant -> + a -> Relu -> Quant
    -> Concat(with a, channels) -> GlobalMaxPool -> Flatten -> Dense -> Quant."""
    b = CnnBuilder((3, 8, 8), "residual_block", seed)
    h = b.quant("x", 8, 4)
    a = b.act(b.bn(b.conv(h, 3, 6, (3, 3), pads=[1, 1, 1, 1], bias=False), 6), 8, 4)
    r = b.quant(b.bn(b.conv(a, 6, 6, (3, 3), pads=[1, 1, 1, 1]), 6), 9, 4, signed=True)
    s = b.act(b.node("Add", [a, r], "res"), 8, 4)
    c = b.node("Concat", [s, a], "cat", axis=1)
    g = b.node("GlobalMaxPool", [c], "gmp")
    y = b.quant(b.flatten_dense(g, 12, 5), 12, 4)
    return b.model(y, [5])


def table_activations(seed=5, softmax=True) -> onnx.ModelProto:
    """[N, 2, 6, 6]: Conv -> Quant -> Sigmoid -> Quant -> Conv -> Quant -> Tanh -> Quant -> Flatten -> Dense ->
    Quant (-> Softmax -> Quant)."""
    b = CnnBuilder((2, 6, 6), "table_activations", seed)
    h = b.quant("x", 8, 4)
    h = b.quant(b.conv(h, 2, 3, (3, 3)), 8, 3)
    h = b.quant(b.node("Sigmoid", [h], "sig"), 8, 7, signed=False)
    h = b.quant(b.conv(h, 3, 4, (3, 3), strides=[2, 2]), 8, 4)
    h = b.quant(b.node("Tanh", [h], "tanh"), 8, 6)
    h = b.quant(b.flatten_dense(h, 4 * 1 * 1, 6), 10, 5)
    if softmax:
        h = b.quant(b.node("Softmax", [h], "softmax", axis=-1), 9, 8, signed=False)
    return b.model(h, [6])


def elementwise_zoo(seed=6) -> onnx.ModelProto:
    """[N, 3, 6, 6]: Pad -> Conv -> Clip(0, 6) -> Quant -> LeakyRelu -> Quant -> Mul(per channel) -> Quant ->
    Resize nearest x2 -> HardSigmoid -> Quant -> Transpose/Flatten -> Dense."""
    b = CnnBuilder((3, 6, 6), "elementwise_zoo", seed)
    h = b.quant("x", 8, 4)
    h = b.node("Pad", [h, b.const(np.array([0, 0, 1, 0, 0, 0, 0, 2], dtype=np.int64)),
                       b.const(np.float32(0.25))], "pad")
    b.inits[-2] = onnx.numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 2], dtype=np.int64), b.inits[-2].name)
    h = b.quant(b.conv(h, 3, 4, (3, 3)), 10, 4)
    h = b.node("Clip", [h, b.const(np.float32(-0.5)), b.const(np.float32(6.0))], "clip")
    h = b.quant(b.node("LeakyRelu", [h], "leaky", alpha=0.125), 10, 5)
    h = b.quant(b.node("Mul", [h, b.const(np.array([0.5, -1.25, 2.0, 0.75]).reshape(4, 1, 1))], "mul"), 10, 5)
    scales = b.const(np.array([1, 1, 2, 2], dtype=np.float32))
    h = b.node("Resize", [h, "", scales], "resize", mode="nearest", coordinate_transformation_mode="asymmetric",
               nearest_mode="floor")
    h = b.quant(b.node("HardSigmoid", [h], "hsig", alpha=0.25, beta=0.5), 8, 6, signed=False)
    h = b.quant(b.flatten_dense(h, 4 * 10 * 12, 4), 12, 4)   # pad (7, 8), conv (5, 6), resize (10, 12)
    return b.model(h, [4])


def float_cnn(seed=7) -> onnx.ModelProto:
    """A float model: Conv -> BatchNorm (folded into the float weights) -> Relu -> MaxPool -> Conv -> Relu ->
    GlobalAveragePool -> Flatten -> Gemm."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def c(name, arr):
        inits.append(onnx.numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
        return name

    nodes.append(helper.make_node("Conv", ["x", c("w1", rng.normal(0, 0.4, (4, 1, 3, 3))), c("b1", rng.normal(0, .1, 4))],
                                  ["c1"], name="conv1", pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("BatchNormalization", ["c1", c("g", rng.uniform(.5, 1.5, 4)), c("be", rng.normal(0, .1, 4)),
                                                         c("m", rng.normal(0, .1, 4)), c("v", rng.uniform(.5, 2, 4))],
                                  ["n1"], name="bn1"))
    nodes.append(helper.make_node("Relu", ["n1"], ["r1"], name="relu1"))
    nodes.append(helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]))
    nodes.append(helper.make_node("Conv", ["p1", c("w2", rng.normal(0, 0.3, (6, 4, 3, 3)))], ["c2"], name="conv2"))
    nodes.append(helper.make_node("Relu", ["c2"], ["r2"], name="relu2"))
    nodes.append(helper.make_node("GlobalAveragePool", ["r2"], ["g2"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["g2"], ["f2"], name="flatten"))
    nodes.append(helper.make_node("Gemm", ["f2", c("w3", rng.normal(0, 0.4, (3, 6))), c("b3", rng.normal(0, .1, 3))],
                                  ["y"], name="fc", transB=1))
    g = helper.make_graph(nodes, "float_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


CNN_MODELS = {"cnn1d": cnn1d, "cnn2d_geometry": cnn2d_geometry, "depthwise_separable": depthwise_separable,
              "residual_block": residual_block, "table_activations": table_activations,
              "elementwise_zoo": elementwise_zoo}


# ---- geometry the models above leave out: groups with dilation, padded pools both ways, spatial Concat, Resize,
# Transpose of H and W, Pad of channels
def _finish(b: CnnBuilder, h: str, n_in: int, n_out: int = 3) -> onnx.ModelProto:
    return b.model(b.quant(b.flatten_dense(h, n_in, n_out), 12, 4), [n_out])


def grouped_pools(seed=11) -> onnx.ModelProto:
    """[N, 4, 9, 10]: Conv groups 2 (4->6) k(3,2) s(2,1) d(2,1), pads (2,0,1,3) -> Quant -> MaxPool k(2,3) s(1,2)
    d(2,1) padded -> AveragePool 3x3 s2 padded, count_include_pad -> Quant rounding UP -> Softmax over channels (six
    positions: six rows) -> Quant -> Flatten -> Dense."""
    b = CnnBuilder((4, 9, 10), "grouped_pools", seed)
    h = b.quant("x", 8, 4)
    h = b.quant(b.conv(h, 4, 6, (3, 2), group=2, strides=[2, 1], dilations=[2, 1], pads=[2, 0, 1, 3]), 8, 3)
    h = b.node("MaxPool", [h], "maxp", kernel_shape=[2, 3], strides=[1, 2], dilations=[2, 1], pads=[1, 1, 0, 1])
    h = b.node("AveragePool", [h], "avg", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2],
               count_include_pad=1)
    h = b.quant(h, 9, 5, rounding="UP")
    h = b.quant(b.node("Softmax", [h], "sm", axis=1), 8, 7, signed=False)
    return _finish(b, h, 6 * 2 * 3)


def layout_zoo(seed=12) -> onnx.ModelProto:
    """[N, 3, 6, 5]: two Convs (one quantized with CEIL) -> Concat(a, c, a) along H (three inputs, one read twice) -> Resize rows x0.5 and
    columns x1.5 -> Transpose H<->W -> Pad (a channel before, a column after, value 0.5) -> Add a per-channel constant
    -> Mul by a scalar -> LeakyRelu 0.1 (alpha of 24 bits) -> Flatten -> Dense."""
    b = CnnBuilder((3, 6, 5), "layout_zoo", seed)
    x = b.quant("x", 8, 4)
    a = b.quant(b.conv(x, 3, 4, (1, 1)), 8, 4)
    c = b.quant(b.conv(x, 3, 4, (3, 3), pads=[1, 1, 1, 1]), 7, 3, rounding="CEIL")  # no ap_fixed mode
    h = b.node("Concat", [a, c, a], "cat", axis=2)
    scales = b.const(np.array([1, 1, 0.5, 1.5], dtype=np.float32))
    h = b.node("Resize", [h, "", scales], "resize", mode="nearest", coordinate_transformation_mode="asymmetric",
               nearest_mode="floor")
    h = b.node("Transpose", [h], "swap", perm=[0, 1, 3, 2])
    pads = b.const(np.zeros(1))
    b.inits[-1] = onnx.numpy_helper.from_array(np.array([0, 1, 0, 0, 0, 0, 0, 1], dtype=np.int64), pads)
    h = b.node("Pad", [h, pads, b.const(np.float32(0.5))], "pad")
    h = b.quant(b.node("Add", [h, b.const(np.array([0.25, -0.5, 1.0, 0.0, 0.125]).reshape(5, 1, 1))], "addc"), 9, 4)
    h = b.quant(b.node("Mul", [h, b.const(np.float32(-0.75))], "mulc"), 9, 4)
    h = b.quant(b.node("LeakyRelu", [h], "leaky", alpha=0.1), 10, 5)
    return _finish(b, h, 5 * 7 * 10)


def conv1d_geometry(seed=13) -> onnx.ModelProto:
    """[N, 3, 17]: Conv1d groups 3 (3->6) k3 s3 d2 pads (2, 4) -> Quant -> AveragePool k4 s3 pads (1, 2) without
    count_include_pad -> Quant FLOOR -> MaxPool k2 pad (0, 1) -> GlobalAveragePool with no quantizer (its own
    wrapping type) -> Flatten -> Dense."""
    b = CnnBuilder((3, 17), "conv1d_geometry", seed)
    h = b.quant("x", 8, 4)
    h = b.quant(b.conv(h, 3, 6, (3,), group=3, strides=[3], dilations=[2], pads=[2, 4]), 8, 3)
    h = b.quant(b.node("AveragePool", [h], "avg", kernel_shape=[4], strides=[3], pads=[1, 2]), 8, 4,
                rounding="FLOOR")
    h = b.node("MaxPool", [h], "maxp", kernel_shape=[2], strides=[1], pads=[0, 1])
    h = b.node("GlobalAveragePool", [h], "gap")
    return _finish(b, h, 6)


GEOMETRY_MODELS = {"grouped_pools": grouped_pools, "layout_zoo": layout_zoo, "conv1d_geometry": conv1d_geometry}


def resnet8(seed=8, softmax=True) -> onnx.ModelProto:
    """The MLPerf Tiny image-classification ResNet-8 topology with random QONNX 8-bit weights: [N, 3, 32, 32] ->
    Conv 3x3 16 -> 3 residual stacks (16, 32 stride 2, 64 stride 2; a 1x1 stride-2 Conv on the skip path where the
    shape changes) -> AveragePool 8x8 -> Flatten -> Dense 10 (-> Softmax). About 78k parameters, 12.5M MACs."""
    b = CnnBuilder((3, 32, 32), "resnet8", seed)

    def conv(x, cin, cout, k, stride=1):
        p = k // 2
        return b.conv(x, cin, cout, (k, k), w_bits=8, w_frac=7, strides=[stride, stride], pads=[p, p, p, p])

    h = b.quant("x", 8, 5)
    h = b.act(conv(h, 3, 16, 3), 8, 4)
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        y = b.act(conv(h, cin, cout, 3, stride), 8, 4)
        y = b.quant(conv(y, cout, cout, 3), 9, 4)
        skip = h if stride == 1 and cin == cout else b.quant(conv(h, cin, cout, 1, stride), 9, 4)
        h = b.act(b.node("Add", [y, skip], "res"), 8, 4)
        cin = cout
    h = b.quant(b.node("AveragePool", [h], "avg", kernel_shape=[8, 8]), 8, 4, signed=False)
    y = b.quant(b.flatten_dense(h, 64, 10, w_bits=8, w_frac=7), 12, 6)
    if softmax:
        y = b.quant(b.node("Softmax", [y], "softmax", axis=-1), 8, 8, signed=False)
    return b.model(y, [10])
