"""Structure-aware fuzzing of `edgecc compile`: mutated copies of the suite's models through the command line.

Each case takes one of the suite's models (MLPs, QONNX, QDQ, CNNs), applies one to three field-level protobuf
mutations (nodes, inputs, outputs, initializers, attributes, data types, dims, quantizer parameters, opsets,
domains, cycles) and sometimes corrupts the serialized bytes (truncation, flips, splices); or, in a quarter of the
cases, gentle mutations (plausible attributes, bit widths, scales, values, input sizes) that keep most models
compilable, so that the passes, the scheduler and the emitters see them too. Then it runs
`edgecc.cli.main(["compile", MODEL, "-b", BACKEND, "-o", OUT])` in this process. The contract it checks: exit 0
with a complete OUT (report.json), or exit 2 (3 for a target no schedule meets) with exactly one line on stderr and
no OUT; never a traceback, never another exit code, never more than a few seconds.

Every case is reproducible from (seed, index) alone:

    python tests/frontend/fuzz_onnx.py --cases 5000 --seed 1       # a longer run, summary and failures
    python tests/frontend/fuzz_onnx.py --seed 1 --only 1234 -v      # one case: its mutations and its stderr
    python tests/frontend/fuzz_onnx.py --cases 3000 -b rtl          # every case on one backend (RTL: slower)
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import random
import shutil
import signal
import sys
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

NAN, INF = float("nan"), float("inf")
SPECIAL_INTS = [0, -1, 1, 2, 3, 5, 64, 1000, 1 << 16, 1 << 24, 1 << 31, 1 << 40, (1 << 62) + 1, -(1 << 31)]
SPECIAL_FLOATS = [0.0, -0.0, -1.0, 0.5, 0.3, 2.0, 1e9, 1e-9, 1e30, 2.0 ** -200, 2.0 ** -1074, 1e300, NAN, INF, -INF]
SMALL_INTS = [-3, -2, -1, 0, 1, 2, 3, 4]   # plausible values: what a model may hold and still compile
QUANT_PARAMS = [0, -1, 0.5, 1, 2, 3, 33, 64, 65, 1000, 1e9, 2.0 ** -100, 2.0 ** 100, 2.0 ** -1074, 2.0 ** 1000, 0.3,
                NAN, INF, -INF]
PLAUSIBLE_PARAMS = [1, 2, 3, 4, 6, 12, 16, 24, 32, 48, 0.125, 0.25, 2.0, 8.0, 2.0 ** -20, 2.0 ** 20]
DIMS = [0, -1, 1, 2, 3, 7, 1000, 1 << 16, 1 << 20, 1 << 31, 1 << 40, (1 << 62) + 1]
DOMAINS = ["", "ai.onnx", "qonnx.custom_op.general", "finn.custom_op.general", "com.microsoft", "x.y.z"]
OPSETS = [-1, 0, 1, 7, 10, 11, 13, 17, 21, 22, 1000, 1 << 40]
OP_TYPES = ["Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Constant", "Conv", "DequantizeLinear",
            "Div", "Dropout", "Flatten", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish",
            "Identity", "LeakyRelu", "MatMul", "MaxPool", "Mul", "Pad", "Quant", "QuantizeLinear", "Relu", "Reshape",
            "Resize", "Sigmoid", "Softmax", "Sub", "Tanh", "Transpose", "Upsample", "BipolarQuant", "Trunc", "Erf",
            "If", "Loop", "Cast", ""]
ATTR_NAMES = ["axis", "perm", "kernel_shape", "strides", "pads", "dilations", "group", "transA", "transB", "alpha",
              "beta", "auto_pad", "ceil_mode", "count_include_pad", "allowzero", "mode", "signed", "narrow",
              "rounding_mode", "epsilon", "block_size", "output_dtype", "value", "value_float", "value_ints",
              "training_mode", "coordinate_transformation_mode", "nearest_mode", "storage_order", "bogus"]
ATTR_VALUES = [0, 1, -1, 3, 1 << 40, 0.5, NAN, INF, -2.5, b"", b"VALID", b"SAME_UPPER", b"ROUND", b"FLOOR", b"nope",
               b"\xff\xfe", b"nearest", b"linear", b"asymmetric", [0], [1, 1], [2, 2], [0, 0, 0, 0], [-1, 5],
               [1 << 40, 1], [1, 0, 2, 3], [0.5, 2.0], [NAN]]
STRINGS = [b"", b"ROUND", b"FLOOR", b"CEIL", b"HALF_UP", b"bogus", b"\xff\xfe", b"SAME_UPPER", b"SAME_LOWER", b"VALID",
           b"NOTSET", b"nearest", b"linear", b"constant", b"reflect", b"half_pixel", b"align_corners", b"ceil"]
HOSTILE = 'n"; /* */ \n`define x'


def suite_models() -> list[tuple[str, bytes]]:
    """The suite's models (tests/suite.py: MLPs, QONNX, QDQ, CNNs), serialized, in a fixed order."""
    from suite import models

    return [(name, m.SerializeToString()) for name, (m, _) in sorted(models().items())]


# ---- field-level mutations ------------------------------------------------------------------------------------
def _names(g) -> list[str]:
    names = [i.name for i in g.input] + [i.name for i in g.initializer]
    for n in g.node:
        names += [o for o in n.output if o]
    return names


def _pick_node(g, rng, where=None):
    nodes = [n for n in g.node if where is None or where(n)]
    return rng.choice(nodes) if nodes else None


def _special_array(arr: np.ndarray, value, rng) -> np.ndarray:
    """arr with one element (or all) set to `value`, cast into arr's dtype where it fits."""
    out = np.array(arr, copy=True)
    if np.issubdtype(out.dtype, np.integer) or out.dtype == bool:
        if isinstance(value, float) and not math.isfinite(value):
            out = out.astype(np.float32)
        else:
            info = np.iinfo(out.dtype) if out.dtype != bool else None
            v = int(value) if info is None else int(min(max(int(value), info.min), info.max))
            value = v
    flat = out.reshape(-1)
    if flat.size == 0:
        return out
    if rng.random() < 0.5:
        flat[rng.randrange(flat.size)] = value
    else:
        flat[:] = value
    return flat.reshape(out.shape)


def mutate_tensor(t: TensorProto, rng: random.Random) -> str:
    """One mutation of a tensor's type, dims or data (an initializer or a Constant's value)."""
    kind = rng.choice(["dims", "dims", "rank", "dtype", "truncate", "extend", "typed_count", "values", "values",
                       "external", "segment"])
    if kind == "dims" and len(t.dims):
        k = rng.randrange(len(t.dims))
        t.dims[k] = rng.choice(DIMS)
    elif kind in ("dims", "rank"):
        if len(t.dims) and rng.random() < 0.5:
            del t.dims[rng.randrange(len(t.dims))]
        else:
            t.dims.insert(rng.randrange(len(t.dims) + 1), rng.choice([1, 1, 2, 0, 1 << 20]))
    elif kind == "dtype":
        t.data_type = rng.choice(list(range(0, 27)) + [99, -1])
    elif kind in ("truncate", "extend", "typed_count"):
        try:
            arr = numpy_helper.to_array(t)
        except Exception:
            return f"{kind} skipped"
        if kind == "typed_count":
            flat = arr.reshape(-1).tolist()
            flat = flat[:-1] if flat and rng.random() < 0.5 else flat + flat[:1] + [0]
            dims = list(t.dims)
            try:
                new = helper.make_tensor(t.name, t.data_type, [len(flat)], flat)
            except Exception:
                return "typed_count skipped"
            t.CopyFrom(new)
            del t.dims[:]
            t.dims.extend(dims)
        else:
            t.CopyFrom(numpy_helper.from_array(arr, t.name))
            raw = t.raw_data
            if kind == "truncate":
                t.raw_data = raw[:rng.randrange(len(raw))] if raw else b""
            else:
                t.raw_data = raw + bytes(rng.randrange(1, 9))
    elif kind == "values":
        try:
            arr = numpy_helper.to_array(t)
            t.CopyFrom(numpy_helper.from_array(_special_array(arr, rng.choice(SPECIAL_FLOATS + SPECIAL_INTS), rng),
                                               t.name))
        except Exception:
            return "values skipped"
    elif kind == "external":
        t.data_location = TensorProto.EXTERNAL
        entry = t.external_data.add()
        entry.key, entry.value = "location", rng.choice(["../../etc/passwd", "missing.bin", ""])
    else:
        t.segment.begin, t.segment.end = 0, 1
    return f"tensor {t.name!r}: {kind}"


def m_drop_node(m, rng):
    g = m.graph
    if not g.node:
        return "no node"
    k = rng.randrange(len(g.node))
    name = g.node[k].name
    del g.node[k]
    return f"drop node {name!r}"


def m_duplicate_node(m, rng):
    g = m.graph
    if not g.node:
        return "no node"
    k = rng.randrange(len(g.node))
    copy = onnx.NodeProto()
    copy.CopyFrom(g.node[k])
    g.node.insert(rng.randrange(len(g.node) + 1), copy)
    return f"duplicate node {copy.name!r}"


def m_swap_nodes(m, rng):
    g = m.graph
    if len(g.node) < 2:
        return "too few nodes"
    i, j = rng.sample(range(len(g.node)), 2)
    a, b = onnx.NodeProto(), onnx.NodeProto()
    a.CopyFrom(g.node[i])
    b.CopyFrom(g.node[j])
    g.node[i].CopyFrom(b)
    g.node[j].CopyFrom(a)
    return f"swap nodes {i} and {j}"


def m_rewire_input(m, rng):
    n = _pick_node(m.graph, rng, lambda n: len(n.input))
    if n is None:
        return "no input"
    k = rng.randrange(len(n.input))
    n.input[k] = rng.choice(_names(m.graph) + ["ghost", "", n.output[0] if n.output else "x"])
    return f"node {n.name!r} input {k} -> {n.input[k]!r}"


def m_drop_input(m, rng):
    n = _pick_node(m.graph, rng, lambda n: len(n.input))
    if n is None:
        return "no input"
    keep = rng.randrange(len(n.input))
    del n.input[keep:]
    return f"node {n.name!r} keeps {keep} inputs"


def m_add_input(m, rng):
    n = _pick_node(m.graph, rng)
    if n is None:
        return "no node"
    for _ in range(rng.choice([1, 1, 2, 5])):
        n.input.append(rng.choice(_names(m.graph) + ["ghost", ""]))
    return f"node {n.name!r} extra inputs"


def m_rename_output(m, rng):
    n = _pick_node(m.graph, rng, lambda n: len(n.output))
    if n is None:
        return "no output"
    k = rng.randrange(len(n.output))
    n.output[k] = rng.choice(_names(m.graph) + ["fresh", "", HOSTILE])
    return f"node {n.name!r} output {k} -> {n.output[k]!r}"


def m_drop_output(m, rng):
    n = _pick_node(m.graph, rng, lambda n: len(n.output))
    if n is None:
        return "no output"
    del n.output[rng.randrange(len(n.output)):]
    return f"node {n.name!r} drops outputs"


def m_add_output(m, rng):
    n = _pick_node(m.graph, rng)
    if n is None:
        return "no node"
    n.output.append(rng.choice(["extra", "", "x"] + _names(m.graph)))
    return f"node {n.name!r} extra output {n.output[-1]!r}"


def m_op_type(m, rng):
    n = _pick_node(m.graph, rng)
    if n is None:
        return "no node"
    n.op_type = rng.choice(OP_TYPES)
    return f"node {n.name!r} op -> {n.op_type}"


def m_domain(m, rng):
    n = _pick_node(m.graph, rng)
    if n is None:
        return "no node"
    n.domain = rng.choice(DOMAINS)
    return f"node {n.name!r} domain -> {n.domain!r}"


def m_cycle(m, rng):
    g = m.graph
    if not g.node:
        return "no node"
    i = rng.randrange(len(g.node))
    j = rng.randrange(i, len(g.node))
    if not g.node[i].input or not g.node[j].output:
        return "no cycle"
    g.node[i].input[rng.randrange(len(g.node[i].input))] = g.node[j].output[0]
    return f"cycle: node {i} reads node {j}'s output"


def m_node_name(m, rng):
    n = _pick_node(m.graph, rng)
    if n is None:
        return "no node"
    others = [o.name for o in m.graph.node]
    n.name = rng.choice(["", HOSTILE, "x" * 300] + others)
    return f"node renamed {n.name!r}"


def m_attribute(m, rng):
    n = _pick_node(m.graph, rng, lambda n: len(n.attribute))
    if n is None:
        return m_add_attribute(m, rng)
    a = rng.choice(list(n.attribute))
    ints = SMALL_INTS if rng.random() < 0.5 else SPECIAL_INTS
    if a.type == AttributeProto.INT:
        a.i = rng.choice(ints)
    elif a.type == AttributeProto.INTS:
        values = list(a.ints)
        op = rng.choice(["set", "set", "append", "drop", "clear"])
        if op == "set" and values:
            values[rng.randrange(len(values))] = rng.choice(ints)
        elif op == "append":
            values.append(rng.choice(ints))
        elif op == "drop" and values:
            del values[rng.randrange(len(values))]
        else:
            values = []
        del a.ints[:]
        a.ints.extend(values)
    elif a.type == AttributeProto.FLOAT:
        a.f = rng.choice(SPECIAL_FLOATS)
    elif a.type == AttributeProto.FLOATS:
        if a.floats:
            a.floats[rng.randrange(len(a.floats))] = rng.choice(SPECIAL_FLOATS)
    elif a.type == AttributeProto.STRING:
        a.s = rng.choice(STRINGS)
    elif a.type == AttributeProto.TENSOR:
        return mutate_tensor(a.t, rng)
    return f"node {n.name!r} attribute {a.name}"


def m_retype_attribute(m, rng):
    n = _pick_node(m.graph, rng, lambda n: len(n.attribute))
    if n is None:
        return "no attribute"
    k = rng.randrange(len(n.attribute))
    name = n.attribute[k].name
    if rng.random() < 0.3:
        n.attribute[k].type = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 99])
    else:
        n.attribute[k].CopyFrom(helper.make_attribute(name, rng.choice(ATTR_VALUES)))
    return f"node {n.name!r} attribute {name} retyped"


def m_drop_attribute(m, rng):
    n = _pick_node(m.graph, rng, lambda n: len(n.attribute))
    if n is None:
        return "no attribute"
    k = rng.randrange(len(n.attribute))
    name = n.attribute[k].name
    del n.attribute[k]
    return f"node {n.name!r} drops attribute {name}"


def m_add_attribute(m, rng):
    n = _pick_node(m.graph, rng)
    if n is None:
        return "no node"
    name = rng.choice(ATTR_NAMES)
    n.attribute.append(helper.make_attribute(name, rng.choice(ATTR_VALUES)))
    return f"node {n.name!r} adds attribute {name}"


def m_initializer(m, rng):
    g = m.graph
    if not g.initializer:
        return "no initializer"
    return mutate_tensor(rng.choice(list(g.initializer)), rng)


def m_initializer_list(m, rng):
    g = m.graph
    if not g.initializer:
        return "no initializer"
    k = rng.randrange(len(g.initializer))
    op = rng.choice(["drop", "duplicate", "rename", "shadow_input"])
    name = g.initializer[k].name
    if op == "drop":
        del g.initializer[k]
    elif op == "duplicate":
        t = g.initializer.add()
        t.CopyFrom(g.initializer[k])
        if rng.random() < 0.5:
            mutate_tensor(t, rng)
    elif op == "rename":
        g.initializer[k].name = rng.choice(_names(g) + ["ghost", ""])
    else:  # an initializer named like the graph input
        g.initializer[k].name = g.input[0].name if g.input else "x"
    return f"initializer {name!r}: {op}"


def m_reshape_initializer(m, rng):
    """An initializer replaced by valid random data of another shape: a layer's weights that no longer fit."""
    g = m.graph
    if not g.initializer:
        return "no initializer"
    t = rng.choice(list(g.initializer))
    try:
        arr = numpy_helper.to_array(t)
    except Exception:
        return "reshape skipped"
    shape = list(arr.shape)
    op = rng.choice(["grow", "shrink", "add_axis", "drop_axis", "scalar"])
    if op in ("grow", "shrink") and shape:
        k = rng.randrange(len(shape))
        shape[k] = max(shape[k] + (rng.choice([1, 2, 5]) if op == "grow" else -1), 0)
    elif op == "add_axis" or not shape:
        shape.insert(rng.randrange(len(shape) + 1), rng.choice([1, 2, 3]))
    elif op == "drop_axis":
        del shape[rng.randrange(len(shape))]
    else:
        shape = []
    values = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 1, size=shape)
    if np.issubdtype(arr.dtype, np.integer):
        values = np.round(values * 3)
    t.CopyFrom(numpy_helper.from_array(values.astype(arr.dtype), t.name))
    return f"initializer {t.name!r} {list(arr.shape)} -> {shape}"


def m_quant_param(m, rng):
    """A quantizer's scale, zero point or bit width set to 0, -1, 0.5, 1e9, NaN, inf, ..."""
    g = m.graph
    quants = [n for n in g.node if n.op_type in ("Quant", "QuantizeLinear", "DequantizeLinear") and len(n.input) > 1]
    if not quants:
        return m_initializer(m, rng)
    n = rng.choice(quants)
    name = rng.choice([i for i in n.input[1:] if i] or [n.input[1]])
    for t in g.initializer:
        if t.name == name:
            arr = numpy_helper.to_array(t)
            value = rng.choice(QUANT_PARAMS if rng.random() < 0.6 else PLAUSIBLE_PARAMS)
            if rng.random() < 0.2:   # another dtype or shape too
                new = np.full(rng.choice([(), (1,), (3,), (0,)]), value, dtype=rng.choice([np.float32, np.float64,
                                                                                           np.int8, np.int64]))
                t.CopyFrom(numpy_helper.from_array(new, name))
            else:
                t.CopyFrom(numpy_helper.from_array(_special_array(arr, value, rng).astype(arr.dtype)
                                                   if not (isinstance(value, float) and not math.isfinite(value)
                                                           and np.issubdtype(arr.dtype, np.integer))
                                                   else _special_array(arr, value, rng), name))
            return f"node {n.name!r} parameter {name!r} -> {value}"
    return "parameter is not an initializer"


def m_graph_input(m, rng):
    g = m.graph
    op = rng.choice(["dims", "dims", "dtype", "drop", "add", "duplicate", "no_shape", "rank", "sequence"])
    if not g.input:
        op = "add"
    vi = rng.choice(list(g.input)) if g.input else None
    if op == "dims":
        dims = vi.type.tensor_type.shape.dim
        if len(dims):
            d = dims[rng.randrange(len(dims))]
            if rng.random() < 0.2:
                d.dim_param = rng.choice(["N", "", "?"])
            else:
                d.dim_value = rng.choice(DIMS)
    elif op == "rank":
        dims = vi.type.tensor_type.shape.dim
        if len(dims) and rng.random() < 0.5:
            del dims[rng.randrange(len(dims))]
        else:
            dims.add().dim_value = rng.choice([1, 2, 3])
    elif op == "dtype":
        vi.type.tensor_type.elem_type = rng.choice(list(range(0, 27)) + [77])
    elif op == "drop":
        g.input.remove(vi)
    elif op == "add":
        g.input.append(helper.make_tensor_value_info(rng.choice(["x2", "x"] + _names(g)), TensorProto.FLOAT,
                                                     ["N", rng.choice([1, 4, 16])]))
    elif op == "duplicate":
        g.input.append(vi)
    elif op == "no_shape":
        vi.type.tensor_type.ClearField("shape")
    else:
        vi.type.CopyFrom(helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [1, 4])))
    return f"graph input: {op}"


def m_graph_output(m, rng):
    g = m.graph
    op = rng.choice(["drop", "rename", "add", "duplicate", "dtype", "dims"])
    if not g.output:
        op = "add"
    vo = rng.choice(list(g.output)) if g.output else None
    if op == "drop":
        g.output.remove(vo)
    elif op == "rename":
        vo.name = rng.choice(_names(g) + ["ghost", ""])
    elif op == "add":
        g.output.append(helper.make_tensor_value_info(rng.choice(_names(g) + ["ghost"]), TensorProto.FLOAT, None))
    elif op == "duplicate":
        g.output.append(vo)
    elif op == "dtype":
        vo.type.tensor_type.elem_type = rng.choice([0, 8, 14, 7])
    else:
        dims = vo.type.tensor_type.shape.dim
        if len(dims):
            dims[rng.randrange(len(dims))].dim_value = rng.choice(DIMS)
    return f"graph output: {op}"


def m_opset(m, rng):
    op = rng.choice(["version", "version", "domain", "drop", "duplicate", "ir_version", "qonnx"])
    std = [o for o in m.opset_import if o.domain in ("", "ai.onnx")]
    if op == "version" and std:
        std[0].version = rng.choice(OPSETS)
    elif op == "domain" and m.opset_import:
        rng.choice(list(m.opset_import)).domain = rng.choice(DOMAINS)
    elif op == "drop" and m.opset_import:
        del m.opset_import[rng.randrange(len(m.opset_import))]
    elif op == "duplicate":
        m.opset_import.append(helper.make_opsetid("", rng.choice(OPSETS)))
    elif op == "ir_version":
        m.ir_version = rng.choice([0, 1, 3, 7, 8, 10, 11, 1000])
    else:
        for o in m.opset_import:
            if o.domain not in ("", "ai.onnx"):
                o.version = rng.choice(OPSETS)
    return f"opset: {op}"


def m_constant_node(m, rng):
    """A Constant node (or a Constant made from an initializer) with a mutated value."""
    g = m.graph
    consts = [n for n in g.node if n.op_type == "Constant"]
    if not consts:
        if not g.initializer:
            return "no constant"
        k = rng.randrange(len(g.initializer))
        t = g.initializer[k]
        node = helper.make_node("Constant", [], [t.name], name=f"const_{t.name}", value=t)
        del g.initializer[k]
        g.node.insert(0, node)
        consts = [g.node[0]]
    n = rng.choice(consts)
    for a in n.attribute:
        if a.type == AttributeProto.TENSOR:
            return mutate_tensor(a.t, rng)
    return "constant without a tensor"


# ---- gentle mutations: plausible values that keep most models compilable, to reach the passes and the emitters --
def g_attribute(m, rng):
    n = _pick_node(m.graph, rng, lambda n: any(a.type in (AttributeProto.INT, AttributeProto.INTS,
                                                          AttributeProto.FLOAT, AttributeProto.STRING)
                                               for a in n.attribute))
    if n is None:
        return "no attribute"
    a = rng.choice([a for a in n.attribute if a.type in (AttributeProto.INT, AttributeProto.INTS,
                                                         AttributeProto.FLOAT, AttributeProto.STRING)])
    if a.type == AttributeProto.INT:
        a.i = rng.choice([0, 1, 2, 3, -1])
    elif a.type == AttributeProto.INTS and len(a.ints):
        a.ints[rng.randrange(len(a.ints))] = rng.choice([0, 1, 2, 3])
    elif a.type == AttributeProto.FLOAT:
        a.f = rng.choice([0.0, 0.001, 0.1, 0.25, 0.5, 1.0, 2.0, 10.0])
    elif a.type == AttributeProto.STRING:
        a.s = rng.choice(STRINGS)
    return f"node {n.name!r} attribute {a.name} (gently)"


def g_quantizer(m, rng):
    """A Quant's bit width, scale, signedness, narrowness or rounding set to another plausible value."""
    quants = [n for n in m.graph.node if n.op_type == "Quant"]
    if not quants:
        return g_values(m, rng)
    n = rng.choice(quants)
    what = rng.choice(["bits", "bits", "scale", "scale", "signed", "narrow", "rounding"])
    if what in ("bits", "scale"):
        name = n.input[3 if what == "bits" else 1]
        value = rng.choice([1, 2, 3, 4, 5, 8, 12, 16, 24, 32]) if what == "bits" else 2.0 ** rng.randint(-16, 8)
        for t in m.graph.initializer:
            if t.name == name:
                t.CopyFrom(numpy_helper.from_array(np.float32(value), name))
        return f"node {n.name!r} {what} -> {value}"
    for a in n.attribute:
        if a.name == {"signed": "signed", "narrow": "narrow", "rounding": "rounding_mode"}[what]:
            if a.type == AttributeProto.INT:
                a.i = 1 - a.i
            else:
                a.s = rng.choice([b"ROUND", b"CEIL", b"FLOOR", b"UP", b"DOWN", b"HALF_UP", b"HALF_DOWN"])
    return f"node {n.name!r} {what} changed"


def g_values(m, rng):
    """An initializer's values redrawn at another magnitude, its shape and type kept."""
    g = m.graph
    floats = [t for t in g.initializer if t.data_type in (TensorProto.FLOAT, TensorProto.DOUBLE)]
    if not floats:
        return "no float initializer"
    t = rng.choice(floats)
    arr = numpy_helper.to_array(t)
    draw = np.random.default_rng(rng.randrange(1 << 30))
    values = draw.normal(0, 10.0 ** rng.randint(-4, 4), size=arr.shape)
    if rng.random() < 0.3:
        values = np.round(values)
    t.CopyFrom(numpy_helper.from_array(values.astype(arr.dtype), t.name))
    return f"initializer {t.name!r} redrawn"


def g_input_dims(m, rng):
    """A graph input's non-batch dimension a little larger or smaller (shape-agnostic models still compile)."""
    if not m.graph.input:
        return "no input"
    dims = m.graph.input[0].type.tensor_type.shape.dim
    if len(dims) < 2:
        return "no dimension"
    d = dims[rng.randrange(1, len(dims))]
    d.dim_value = max(1, rng.choice([d.dim_value - 1, d.dim_value + 1, d.dim_value * 2, 1, 3]))
    return f"input dimension -> {d.dim_value}"


GENTLE_MUTATIONS = [(4, g_attribute), (5, g_quantizer), (3, g_values), (2, g_input_dims)]

FIELD_MUTATIONS = [  # (weight, mutation)
    (3, m_drop_node), (2, m_duplicate_node), (2, m_swap_nodes), (4, m_rewire_input), (2, m_drop_input),
    (2, m_add_input), (2, m_rename_output), (1, m_drop_output), (1, m_add_output), (3, m_op_type), (2, m_domain),
    (2, m_cycle), (1, m_node_name), (6, m_attribute), (2, m_retype_attribute), (2, m_drop_attribute),
    (2, m_add_attribute), (6, m_initializer), (3, m_initializer_list), (4, m_reshape_initializer),
    (8, m_quant_param), (4, m_graph_input), (3, m_graph_output), (3, m_opset), (2, m_constant_node),
]


# ---- byte-level corruption -------------------------------------------------------------------------------------
def corrupt_bytes(data: bytes, other: bytes, rng: random.Random) -> tuple[bytes, str]:
    kind = rng.choice(["truncate", "flip", "flip", "splice", "insert", "repeat", "zero"])
    n = len(data)
    if n == 0:
        return data, "empty"
    a = rng.randrange(n)
    if kind == "truncate":
        return data[:a], f"truncate at {a}"
    if kind == "flip":
        b = bytearray(data)
        for _ in range(rng.choice([1, 1, 2, 4, 16])):
            p = rng.randrange(n)
            b[p] = b[p] ^ (1 << rng.randrange(8)) if rng.random() < 0.6 else rng.randrange(256)
        return bytes(b), "flip bytes"
    if kind == "splice":
        return data[:a] + other[rng.randrange(len(other)):], f"splice at {a}"
    if kind == "insert":
        return data[:a] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32))) + data[a:], f"insert at {a}"
    if kind == "repeat":
        b = rng.randrange(a, min(n, a + 64) + 1)
        return data[:b] + data[a:b] + data[b:], f"repeat {a}:{b}"
    b = rng.randrange(a, min(n, a + 32) + 1)
    return data[:a] + bytes(b - a) + data[b:], f"zero {a}:{b}"


# ---- cases and their outcomes -------------------------------------------------------------------------------------
@dataclass
class Case:
    index: int
    base: str
    backend: str
    steps: list[str] = field(default_factory=list)
    data: bytes = b""


def make_case(index: int, seed: int, bases: list[tuple[str, bytes]], backend: str | None = None) -> Case:
    rng = random.Random(f"{seed}:{index}")
    base, data = bases[index % len(bases)]
    # by default the RTL emitter only on the MLPs: a CNN's RTL netlist takes up to seconds
    choice = rng.choice(["c", "hls"] if base.startswith("cnn") else ["c", "hls", "rtl"])
    backend = backend or choice
    case = Case(index, base, backend)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        _mutate(case, data, bases, rng)
    return case


def _mutate(case: Case, data: bytes, bases, rng: random.Random) -> None:
    model = onnx.ModelProto()
    model.ParseFromString(data)
    gentle = rng.random() < 0.25
    mutations = GENTLE_MUTATIONS if gentle else FIELD_MUTATIONS
    weights = [w for w, _ in mutations]
    fns = [f for _, f in mutations]
    if gentle or rng.random() < 0.85:
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            fn = rng.choices(fns, weights)[0]
            try:
                case.steps.append(f"{fn.__name__[2:]}: {fn(model, rng)}")
            except Exception as e:  # a mutation the protobuf refuses (e.g. a value out of a field's range)
                case.steps.append(f"{fn.__name__[2:]}: refused by protobuf ({type(e).__name__})")
    try:
        data = model.SerializeToString()
    except Exception as e:
        case.steps.append(f"unserializable ({type(e).__name__}); the base model instead")
    if not gentle and (rng.random() < 0.2 or not case.steps):
        other = bases[rng.randrange(len(bases))][1]
        data, what = corrupt_bytes(data, other, rng)
        case.steps.append(f"bytes: {what}")
    case.data = data


class CaseTimeout(BaseException):
    """Raised by SIGALRM inside a case that ran too long (a BaseException: no handler in edgecc catches it)."""


@dataclass
class Outcome:
    kind: str   # ok, refused, infeasible, or a failure: traceback, exit, stderr, out_left, out_missing, timeout
    code: object
    stderr: str
    seconds: float

    @property
    def where(self) -> str:
        """A failure's kind and its innermost edgecc frame: one class of bug per distinct value."""
        import re

        frames = re.findall(r'File "[^"]*/(edgecc/[^"]+)", line (\d+), in (\w+)', self.stderr)
        at = re.findall(r"\(at (edgecc/[^)]*)\)", self.stderr)
        last = [l for l in self.stderr.strip().splitlines() if l.strip()][-1:] or [""]
        error = re.match(r"(?:edgecc: internal error: )?(\w+)", last[0].strip())
        place = f"{frames[-1][0]}:{frames[-1][1]} {frames[-1][2]}" if frames else (at[-1] if at else "")
        return f"{self.kind} {error.group(1) if error else ''} {place}".strip()

    @property
    def failed(self) -> bool:
        return self.kind not in ("ok", "refused", "infeasible")


def run_case(case: Case, work: str, time_limit: float) -> Outcome:
    """Compile the case through `edgecc.cli.main` as the command line does, and judge the result."""
    from edgecc.cli import main

    path, out = os.path.join(work, "model.onnx"), os.path.join(work, "OUT")
    shutil.rmtree(out, ignore_errors=True)
    with open(path, "wb") as f:
        f.write(case.data)
    err = io.StringIO()

    def alarm(signum, frame):
        raise CaseTimeout()

    previous = signal.signal(signal.SIGALRM, alarm)
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(["compile", path, "-b", case.backend, "-o", out])
            except SystemExit as e:
                code = e.code
    except CaseTimeout:
        code = "timeout"
    except BaseException:  # escaped the command line: a user would see this traceback
        code = "traceback"
        err.write(traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - start
    text = err.getvalue()
    lines = [l for l in text.splitlines() if l.strip()]
    leftovers = [p for p in os.listdir(work) if p.startswith(".OUT.tmp")]
    for p in leftovers:
        shutil.rmtree(os.path.join(work, p), ignore_errors=True)
    if code in ("timeout", "traceback"):
        kind = code
    elif "Traceback" in text:
        kind = "traceback"
    elif code == 0:
        kind = "ok" if os.path.isfile(os.path.join(out, "report.json")) and not leftovers else "out_missing"
    elif code in (2, 3):
        if os.path.exists(out) or leftovers:
            kind = "out_left"
        elif len(lines) != 1 or not lines[0].startswith("edgecc: error: "):
            kind = "stderr"
        else:
            kind = "refused" if code == 2 else "infeasible"
    else:
        kind = "exit"
    shutil.rmtree(out, ignore_errors=True)
    return Outcome(kind, code, text, seconds)


def fuzz(cases: int, seed: int, work: str, time_limit: float = 5.0, only: int | None = None, verbose=False,
         backend: str | None = None):
    """Run `cases` cases (or the one `only`), on `backend` or each case's own pick; returns (summary dict,
    [(case, outcome)] of the failures)."""
    bases = suite_models()
    kinds, messages, classes, failures = Counter(), Counter(), Counter(), []
    start = time.perf_counter()
    slowest = (0.0, None)
    indices = [only] if only is not None else range(cases)
    with warnings.catch_warnings():
        # a warning is a line on stderr, as a user would see it: every case shows its own, whoever else (pytest)
        # records warnings meanwhile
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: sys.stderr.write(
            warnings.formatwarning(message, category, filename, lineno, line))
        for i in indices:
            case = make_case(i, seed, bases, backend)
            outcome = run_case(case, work, time_limit)
            kinds[outcome.kind] += 1
            if outcome.kind == "refused":
                messages[_message_class(outcome.stderr)] += 1
            if outcome.seconds > slowest[0]:
                slowest = (outcome.seconds, i)
            if outcome.failed:
                failures.append((case, outcome))
                classes[outcome.where] += 1
            if verbose:
                print(f"case {i} ({case.base}, -b {case.backend}): {'; '.join(case.steps)}\n  -> {outcome.kind} "
                      f"{outcome.code} in {outcome.seconds:.3f} s\n{outcome.stderr}")
    summary = {"cases": len(indices), "seed": seed, "seconds": round(time.perf_counter() - start, 2),
               "outcomes": dict(sorted(kinds.items())), "slowest_case": slowest[1],
               "slowest_seconds": round(slowest[0], 3), "top_refusals": messages.most_common(12),
               "failure_classes": classes.most_common()}
    return summary, failures


def _message_class(stderr: str) -> str:
    """The refusal's message with names and numbers cut: what kind of error it was."""
    import re

    line = stderr.strip().splitlines()[0] if stderr.strip() else ""
    line = re.sub(r"'[^']*'", "'…'", re.sub(r"\"[^\"]*\"", "'…'", line))
    return re.sub(r"-?\d[\d.e+-]*", "#", line)[:90]


def describe(case: Case, outcome: Outcome) -> str:
    return (f"case {case.index} ({case.base}, -b {case.backend}): {'; '.join(case.steps)} -> {outcome.kind} "
            f"(exit {outcome.code}, {outcome.seconds:.2f} s): {outcome.stderr.strip()[-600:]}")


if __name__ == "__main__":
    import argparse
    import json
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=2000)
    p.add_argument("--seed", type=int, default=20240609)
    p.add_argument("--only", type=int)
    p.add_argument("--time-limit", type=float, default=5.0)
    p.add_argument("-b", "--backend", choices=["c", "hls", "rtl"], help="every case on this backend")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as work:
        summary, failures = fuzz(a.cases, a.seed, work, a.time_limit, a.only, a.verbose, a.backend)
    for case, outcome in failures:
        print(describe(case, outcome), "\n")
    print(json.dumps(summary, indent=1))
    sys.exit(1 if failures else 0)
