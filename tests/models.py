"""Models built in the tests with onnx.helper: QONNX, QDQ and float MLPs with fixed seeds."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX_DOMAIN = "qonnx.custom_op.general"
OPSET = 13


def _init(name, arr, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(arr, dtype=dtype), name)


class QonnxBuilder:
    """Adds Quant nodes and layers to one graph; names are unique and ordered."""

    def __init__(self, n_in: int, name="qmlp", batch="N"):
        self.nodes, self.inits, self.k = [], [], 0
        self.n_in = n_in
        self.input = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, n_in])
        self.name = name

    def _n(self, base):
        self.k += 1
        return f"{base}{self.k}"

    def quant(self, x, bits, frac, signed=True, narrow=False, rounding="ROUND", scale=None, zero_point=0.0):
        n = self._n("q")
        scale = np.float32(2.0 ** -frac) if scale is None else np.asarray(scale, np.float32)
        self.inits += [_init(f"{n}_s", scale), _init(f"{n}_z", zero_point), _init(f"{n}_b", float(bits))]
        self.nodes.append(helper.make_node("Quant", [x, f"{n}_s", f"{n}_z", f"{n}_b"], [f"{n}_out"],
                                           domain=QONNX_DOMAIN, name=n, signed=int(signed), narrow=int(narrow),
                                           rounding_mode=rounding))
        return f"{n}_out"

    def const(self, arr):
        n = self._n("c")
        self.inits.append(_init(n, arr))
        return n

    def dense(self, x, w, b=None, w_bits=8, w_frac=6, b_bits=16, b_frac=10, name=None, float_bias=False):
        """MatMul with a quantized weight, then Add of the bias: quantized, or (float_bias) a float32 initializer
        added as it is, as Brevitas exports and hand edits leave it."""
        wq = self.quant(self.const(w), w_bits, w_frac, narrow=True)
        n = name or self._n("fc")
        self.nodes.append(helper.make_node("MatMul", [x, wq], [f"{n}_mm"], name=n))
        out = f"{n}_mm"
        if b is not None:
            bq = self.const(b) if float_bias else self.quant(self.const(b), b_bits, b_frac)
            self.nodes.append(helper.make_node("Add", [out, bq], [f"{n}_add"], name=f"{n}_bias"))
            out = f"{n}_add"
        return out

    def relu(self, x):
        n = self._n("relu")
        self.nodes.append(helper.make_node("Relu", [x], [f"{n}_out"], name=n))
        return f"{n}_out"

    def model(self, out, n_out) -> onnx.ModelProto:
        y = helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", n_out])
        g = helper.make_graph(self.nodes, self.name, [self.input], [y], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(QONNX_DOMAIN, 1)])
        m.ir_version = 8
        return m


def qonnx_mlp(sizes=(16, 32, 5), seed=0, in_bits=8, in_frac=4, act_bits=8, act_frac=4, rounding="ROUND",
              act_signed=False, act_narrow=False, out_quant=True, layer_names=None, float_bias=False, w_bits=8,
              w_frac=6, prune=0.0) -> onnx.ModelProto:
    """x -> Quant -> [Dense -> Relu -> Quant]* -> Dense (-> Quant): a QONNX MLP with 8-bit narrow weights
    (and, with float_bias, float32 biases that no Quant reads; with prune, that fraction of the weights zero)."""
    rng = np.random.default_rng(seed)
    b = QonnxBuilder(sizes[0])
    h = b.quant("x", in_bits, in_frac, rounding=rounding)
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.normal(0, 1.0 / np.sqrt(n_in), size=(n_in, n_out))
        if prune:
            w = np.where(rng.random(w.shape) < prune, 0.0, w)
        bias = rng.normal(0, 0.25, size=n_out)
        name = layer_names[i] if layer_names else None
        h = b.dense(h, w, bias, w_bits=w_bits, w_frac=w_frac, name=name, float_bias=float_bias)
        last = i == len(sizes) - 2
        if not last:
            h = b.relu(h)
            h = b.quant(h, act_bits, act_frac, signed=act_signed, narrow=act_narrow, rounding=rounding)
        elif out_quant:
            h = b.quant(h, act_bits + 4, act_frac, signed=True, rounding=rounding)
    return b.model(h, sizes[-1])


def qonnx_scaled_mlp(seed: int = 7) -> onnx.ModelProto:
    """A QONNX MLP 12-16-6 whose scales are not powers of two and whose activations have zero points: the input Quant
    (8-bit signed, zero point 3), per-channel weight scales in the first layer and one scale in the second, 24-bit
    biases quantized at the float32 product s_x * s_w (as Brevitas exports them), a hidden Quant (8-bit unsigned,
    zero point 5) and an output Quant (10-bit signed, zero point -7)."""
    rng = np.random.default_rng(seed)
    b = QonnxBuilder(12, name="qscaled")
    s_x, s_h, s_y = np.float32(0.0413), np.float32(0.0377), np.float32(0.0291)
    x = b.quant("x", 8, 0, scale=s_x, zero_point=3.0)

    def layer(h, s_in, n_in, n_out, w_scale, name):
        w = rng.normal(0, 1.0 / np.sqrt(n_in), size=(n_in, n_out))
        wq = b.quant(b.const(w), 8, 0, narrow=True, scale=np.asarray(w_scale, np.float32).reshape(1, -1))
        b.nodes.append(helper.make_node("MatMul", [h, wq], [f"{name}_mm"], name=name))
        bias_scale = (np.float32(s_in) * np.asarray(w_scale, np.float32)).astype(np.float32).reshape(-1)
        bq = b.quant(b.const(rng.normal(0, 0.3, size=n_out)), 24, 0, scale=bias_scale)
        b.nodes.append(helper.make_node("Add", [f"{name}_mm", bq], [f"{name}_add"], name=f"{name}_bias"))
        return f"{name}_add"

    h = b.relu(layer(x, s_x, 12, 16, rng.uniform(0.004, 0.009, size=16), "fc1"))
    h = b.quant(h, 8, 0, signed=False, scale=s_h, zero_point=5.0)
    y = layer(h, s_h, 16, 6, np.float32(0.0061), "fc2")
    return b.model(b.quant(y, 10, 0, scale=s_y, zero_point=-7.0), 6)


def qonnx_float_bias_mlp(seed=11) -> onnx.ModelProto:
    """A QONNX MLP 16-32-5 with float32 biases added directly (no Quant), Quant(ROUND) on activations and output.
    Every fourth bias sits 2**-24 above a tie of the 2**-4 activation grid, where float32 sums of magnitude >= 1
    lose that bit (qonnx's float32 Add can then decide wrong); the others are random float32 values."""
    model = qonnx_mlp(sizes=(16, 32, 5), seed=seed, float_bias=True)
    for add in (n for n in model.graph.node if n.op_type == "Add"):
        init = next(i for i in model.graph.initializer if i.name == add.input[1])
        bias = numpy_helper.to_array(init).copy()
        bias[::4] = np.float32(2.0 ** -5 + 2.0 ** -24)
        init.CopyFrom(numpy_helper.from_array(bias.astype(np.float32), init.name))
    return model


def qdq_mlp(sizes=(16, 24, 4), seed=0, act_dtype="uint8", act_zp=0, frac=4, w_frac=6) -> onnx.ModelProto:
    """An ONNX QDQ MLP as onnxruntime's quantizer writes it: int8 weights, int32 bias, Q/DQ on activations."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    act_t = {"uint8": (TensorProto.UINT8, np.uint8), "int8": (TensorProto.INT8, np.int8)}[act_dtype]

    def qdq(x, name, fr, zp, dtype=act_t):
        inits.extend([_init(f"{name}_s", 2.0 ** -fr), numpy_helper.from_array(np.array(zp, dtype=dtype[1]), f"{name}_zp")])
        nodes.append(helper.make_node("QuantizeLinear", [x, f"{name}_s", f"{name}_zp"], [f"{name}_q"], name=f"{name}_Q"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_s", f"{name}_zp"], [f"{name}_dq"],
                                      name=f"{name}_DQ"))
        return f"{name}_dq"

    h = qdq("x", "in", frac, act_zp if act_dtype == "uint8" else 0)
    x_frac = frac
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = np.clip(np.round(rng.normal(0, 40, size=(n_out, n_in))), -127, 127).astype(np.int8)  # [out, in]
        bias = np.round(rng.normal(0, 2000, size=n_out)).astype(np.int32)
        inits += [numpy_helper.from_array(w, f"w{i}"), _init(f"w{i}_s", 2.0 ** -w_frac),
                  numpy_helper.from_array(np.int8(0), f"w{i}_zp"),
                  numpy_helper.from_array(bias, f"b{i}"), _init(f"b{i}_s", 2.0 ** -(x_frac + w_frac)),
                  numpy_helper.from_array(np.int32(0), f"b{i}_zp")]
        nodes.append(helper.make_node("DequantizeLinear", [f"w{i}", f"w{i}_s", f"w{i}_zp"], [f"w{i}_dq"], name=f"w{i}_DQ"))
        nodes.append(helper.make_node("DequantizeLinear", [f"b{i}", f"b{i}_s", f"b{i}_zp"], [f"b{i}_dq"], name=f"b{i}_DQ"))
        nodes.append(helper.make_node("Gemm", [h, f"w{i}_dq", f"b{i}_dq"], [f"fc{i}"], name=f"fc{i}", transB=1))
        h = f"fc{i}"
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [h], [f"relu{i}"], name=f"relu{i}"))
            h = qdq(f"relu{i}", f"a{i}", frac, act_zp if act_dtype == "uint8" else 0)
        else:
            h = qdq(h, "out", frac - 2, 0, (TensorProto.INT8, np.int8))
        x_frac = frac
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", sizes[0]])
    y = helper.make_tensor_value_info(h, TensorProto.FLOAT, ["N", sizes[-1]])
    g = helper.make_graph(nodes, "qdq_mlp", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def float_mlp(sizes=(10, 16, 3), seed=0, opset=13, use_gemm=True) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    h = "x"
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.normal(0, 1.0 / np.sqrt(n_in), size=(n_in, n_out)).astype(np.float32)
        b = rng.normal(0, 0.1, size=n_out).astype(np.float32)
        if use_gemm:
            inits += [_init(f"W{i}", w.T), _init(f"B{i}", b)]
            nodes.append(helper.make_node("Gemm", [h, f"W{i}", f"B{i}"], [f"g{i}"], name=f"gemm{i}", transB=1))
        else:
            inits += [_init(f"W{i}", w), _init(f"B{i}", b)]
            nodes.append(helper.make_node("MatMul", [h, f"W{i}"], [f"m{i}"], name=f"matmul{i}"))
            nodes.append(helper.make_node("Add", [f"m{i}", f"B{i}"], [f"g{i}"], name=f"add{i}"))
        h = f"g{i}"
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [h], [f"r{i}"], name=f"relu{i}"))
            h = f"r{i}"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", sizes[0]])
    y = helper.make_tensor_value_info(h, TensorProto.FLOAT, ["batch", sizes[-1]])
    m = helper.make_model(helper.make_graph(nodes, "float_mlp", [x], [y], inits),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def qonnx_ops_model(seed: int = 2) -> onnx.ModelProto:
    """Every IR op outside a Dense's fused tail: x -> Quant -> Reshape [2, 8] -> Add(quantized constant [2, 8]) ->
    Relu (alone: no MatMul before it) -> Quant -> MatMul over the last axis (two rows at once) + bias -> Quant ->
    Flatten: the output comes from a Reshape."""
    rng = np.random.default_rng(seed)
    b = QonnxBuilder(16, name="qops")
    x = b.quant("x", 8, 4)
    shape = b.const(np.array([1, 2, 8]))
    b.inits[-1] = numpy_helper.from_array(np.array([-1, 2, 8], dtype=np.int64), shape)
    b.nodes.append(helper.make_node("Reshape", [x, shape], ["rows"], name="rows"))
    c = b.quant(b.const(rng.normal(0, 1, size=(2, 8))), 8, 4)
    b.nodes.append(helper.make_node("Add", ["rows", c], ["shifted"], name="offset"))
    h = b.quant(b.relu("shifted"), 8, 4, signed=False)
    h = b.quant(b.dense(h, rng.normal(0, 0.4, size=(8, 4)), rng.normal(0, 0.2, size=4), name="fc"), 10, 4)
    b.nodes.append(helper.make_node("Flatten", [h], ["flat"], name="flatten", axis=1))
    return b.model("flat", 8)


def qonnx_two_branches(seed: int = 5) -> onnx.ModelProto:
    """x -> Quant, read by two Dense branches of different depth (one layer, two layers) whose results are added:
    a fork of the input and a join of paths that run side by side."""
    rng = np.random.default_rng(seed)
    b = QonnxBuilder(12, name="branches")
    x = b.quant("x", 8, 4)
    a = b.quant(b.relu(b.dense(x, rng.normal(0, 0.3, size=(12, 8)), rng.normal(0, 0.1, size=8), name="fa")), 8, 4,
                signed=False)
    h = b.quant(b.relu(b.dense(x, rng.normal(0, 0.3, size=(12, 10)), rng.normal(0, 0.1, size=10), name="fb1")),
                8, 4, signed=False)
    h = b.quant(b.relu(b.dense(h, rng.normal(0, 0.3, size=(10, 8)), rng.normal(0, 0.1, size=8), name="fb2")), 8, 4,
                signed=False)
    b.nodes.append(helper.make_node("Add", [a, h], ["sum"], name="join"))
    return b.model(b.quant("sum", 10, 4), 8)


def _ir_input(g, shape, ftype):
    """A float graph input and the Quantize that makes it the design's input port of type `ftype`."""
    from edgecc.ir.graph import Node, Tensor

    g.add_tensor(Tensor("x", tuple(shape)))
    g.add_tensor(Tensor("xq", tuple(shape), ftype))
    g.inputs = ["x"]
    g.add_node(Node("in", "Quantize", ["x"], ["xq"], {"rounding": ftype.rounding, "lo": ftype.min_int,
                                                     "hi": ftype.max_int}))
    return "xq"


def _ir_finish(g, output):
    from edgecc.config import CompileConfig
    from edgecc.ir.passes import check_quantized, infer_accumulators

    g.outputs = [output]
    g.meta["quantized"] = True
    g.config = CompileConfig()
    infer_accumulators.run(g, g.config)
    check_quantized.run(g, g.config)
    return g


def wide_accumulator_graph(seed: int = 0):
    """An IR graph whose arithmetic runs beyond 64 bits: 8-bit integer inputs times 61-bit weights summed over 16
    inputs (a ~73-bit accumulator), rounded up (CEIL: no ap_fixed mode) and clamped to a range whose bounds need 68
    bits, then floored to a 64-bit output port."""
    from edgecc.ir.graph import Graph, Node, Tensor
    from edgecc.ir.types import FixedType

    rng = np.random.default_rng(seed)
    g = Graph("wide_acc")
    x = _ir_input(g, (16,), FixedType(8, 8, True, "ROUND", "SAT"))
    w = np.array([[int(v) for v in row] for row in rng.integers(-(2**59), 2**59, size=(16, 3))], dtype=np.int64)
    g.add_tensor(Tensor("w", (16, 3), FixedType.covering(int(w.min()), int(w.max()), 4), w))
    g.add_tensor(Tensor("acc", (3,)))
    g.add_node(Node("fc", "Dense", [x, "w"], ["acc"], {"activation": None}))
    clamp_t = FixedType(72, 70, True, "CEIL", "SAT")  # frac 2: two bits below the accumulator's grid round up
    lo, hi = -((1 << 66) + (7 << 8)), (1 << 66) + (12345 << 8)
    g.add_tensor(Tensor("clamped", (3,), clamp_t))
    g.add_node(Node("clamp", "Quantize", ["acc"], ["clamped"], {"rounding": "CEIL", "lo": lo, "hi": hi}))
    out_t = FixedType(64, 76, True, "FLOOR", "SAT")  # frac -12: codes of 2**12
    g.add_tensor(Tensor("y", (3,), out_t))
    g.add_node(Node("out", "Quantize", ["clamped"], ["y"], {"rounding": "FLOOR", "lo": out_t.min_int,
                                                            "hi": out_t.max_int}))
    return _ir_finish(g, "y")


def wide_port_graph(width: int):
    """An IR graph whose input and output ports are `width`-bit codes (half of them fractional), passed through."""
    from edgecc.ir.graph import Graph, Node, Tensor
    from edgecc.ir.types import FixedType

    g = Graph(f"wide_port{width}")
    x = _ir_input(g, (2, 2), FixedType(width, width // 2, True, "ROUND", "SAT"))
    g.add_tensor(Tensor("y", (4,), g.tensor(x).type))
    g.add_node(Node("flat", "Reshape", [x], ["y"]))
    return _ir_finish(g, "y")
