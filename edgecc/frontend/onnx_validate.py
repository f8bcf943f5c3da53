"""Checks an ONNX ModelProto before it is lowered: each defect the handlers would trip over becomes one ModelError
or UnsupportedOp naming the node, tensor or graph input, and no array is made from dims that were not checked.

What it guarantees to the handlers: one standard opset in range; every node of a known op in its own domain, with
the inputs, outputs and attributes its ONNX schema allows (attributes of the schema's type, floats finite, text
readable); every tensor name produced once and every input produced somewhere, in an acyclic graph (the nodes are
returned in a topological order); graph inputs and outputs that exist, numeric and of a sane size; initializers and
Constant values numeric, of a sane size, whose data matches their dims, and non-empty and finite wherever a layer
reads them.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError, UnsupportedOp

# A constant or an activation beyond these is a corrupt or mistyped model, not a design for edgecc (a compile runs
# the golden model on every activation of its test vectors): refused before anything of that size is allocated.
MAX_CONSTANT_ELEMENTS = 1 << 24
MAX_ACTIVATION_ELEMENTS = 1 << 20
MAX_WINDOW_TAPS = 1 << 24      # values all windows of a Conv or pool read (output positions x kernel x channels)
MAX_RANK = 8
MAX_QUANT_BITS = 64

STANDARD_DOMAINS = ("", "ai.onnx")
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
QONNX_SIGNATURES = {  # op -> (inputs, outputs, {attribute: AttributeProto type})
    "Quant": (4, 1, {"signed": 2, "narrow": 2, "rounding_mode": 3}),
}
# (op, input) where a constant may hold +-inf (a bound that leaves a side open), or nothing (Resize's roi, scales and
# sizes, of which one is given)
INFINITY_ALLOWED = {("Clip", 1), ("Clip", 2)}
EMPTY_ALLOWED = {("Resize", 1), ("Resize", 2), ("Resize", 3)}

# ONNX TensorProto data types edgecc reads as numbers: type -> (bytes per element in raw_data, typed field); the
# 4-bit types pack two elements per byte (and per int32_data entry)
NUMERIC_TYPES = {
    1: (4, "float_data"), 2: (1, "int32_data"), 3: (1, "int32_data"), 4: (2, "int32_data"), 5: (2, "int32_data"),
    6: (4, "int32_data"), 7: (8, "int64_data"), 10: (2, "int32_data"), 11: (8, "double_data"),
    12: (4, "uint64_data"), 13: (8, "uint64_data"), 16: (2, "int32_data"), 21: (0.5, "int32_data"),
    22: (0.5, "int32_data"),
}
FLOAT_TYPES = (1, 10, 11, 16)


def type_name(data_type: int) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(data_type)
    except ValueError:
        return f"unknown type {data_type}"


class CheckedModel:
    """A model that passed the checks: its nodes in a topological order as (name for errors, NodeProto), and its
    initializers as arrays."""

    def __init__(self, opset: int, nodes: list[tuple[str, object]], constants: dict[str, np.ndarray]):
        self.opset = opset
        self.nodes = nodes
        self.constants = constants


def validate_model(model) -> CheckedModel:
    """Check a ModelProto as described in this module's docstring; raise ModelError/UnsupportedOp at the first
    defect."""
    _check_text(model)
    opset = _check_opsets(model)
    g = model.graph
    if len(g.sparse_initializer):
        raise UnsupportedOp(f"sparse initializer {g.sparse_initializer[0].values.name!r} is not supported")
    constants = _check_initializers(g)
    inputs = _check_graph_inputs(g, constants)
    producers = _check_nodes(g, opset, set(constants) | inputs)
    _check_graph_outputs(g, producers, set(constants) | inputs)
    _check_constant_uses(g, constants)
    return CheckedModel(opset, _topological_order(g, producers), constants)


def _check_text(model) -> None:
    """Every name and op is text: protobuf hands a string field that is not valid UTF-8 over as bytes."""
    def text(value, what: str) -> None:
        if not isinstance(value, str):
            raise ModelError(f"{what} {value!r} is not UTF-8 text")

    g = model.graph
    text(g.name, "the graph name")
    for o in model.opset_import:
        text(o.domain, "opset domain")
    for t in g.initializer:
        text(t.name, "initializer name")
    for vi in list(g.input) + list(g.output):
        text(vi.name, "graph input or output name")
    for node in g.node:
        text(node.name, "node name")
        for field, what in ((node.op_type, "op"), (node.domain, "domain")):
            text(field, f"{what} of node {node.name!r}")
        for name in list(node.input) + list(node.output):
            text(name, f"tensor name in node {node.name!r}")
        for a in node.attribute:
            text(a.name, f"attribute name in node {node.name!r}")


# ---- opsets ----------------------------------------------------------------------------------------------------
def _check_opsets(model) -> int:
    from .onnx import OPSET_MAX, OPSET_MIN

    versions: dict[str, int] = {}
    for o in model.opset_import:
        domain = "" if o.domain == "ai.onnx" else o.domain
        if domain in versions and versions[domain] != o.version:
            raise ModelError(f"the model imports opset domain {o.domain or 'ai.onnx'!r} twice, as versions "
                             f"{versions[domain]} and {o.version}")
        versions[domain] = o.version
    if "" not in versions:
        raise ModelError("the model imports no standard ONNX opset")
    opset = versions[""]
    if not OPSET_MIN <= opset <= OPSET_MAX:
        raise ModelError(f"opset {opset} is not supported; edgecc reads opsets {OPSET_MIN}-{OPSET_MAX}")
    return opset


# ---- tensors ---------------------------------------------------------------------------------------------------
def check_tensor(t, what: str, node: str | None = None) -> np.ndarray:
    """A TensorProto (an initializer or a Constant's value) as an array, once its type, dims and data agree."""
    from onnx import TensorProto, numpy_helper

    if t.data_type not in NUMERIC_TYPES:
        raise UnsupportedOp(f"{what} is of type {type_name(t.data_type)}; edgecc reads numeric tensors "
                            "(float, double, float16, bfloat16, int4 to int64, uint4 to uint64)", node)
    dims = list(t.dims)
    if len(dims) > MAX_RANK:
        raise ModelError(f"{what} has rank {len(dims)}; edgecc reads tensors of rank at most {MAX_RANK}", node)
    if any(d < 0 for d in dims):
        raise ModelError(f"{what} has a negative dimension in {dims}", node)
    n = math.prod(dims)
    if n > MAX_CONSTANT_ELEMENTS:
        raise ModelError(f"{what} of shape {dims} has {n} elements, more than the {MAX_CONSTANT_ELEMENTS} edgecc "
                         "accepts in one constant", node)
    if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
        raise UnsupportedOp(f"{what} keeps its data outside the model, which edgecc does not read (load the model "
                            "with its external data, or save it as one file)", node)
    if t.HasField("segment"):
        raise UnsupportedOp(f"{what} is split into segments, which edgecc does not read", node)
    size, field = NUMERIC_TYPES[t.data_type]
    packed = size < 1
    if t.raw_data:
        need = (n + 1) // 2 if packed else n * size
        if len(t.raw_data) != need:
            raise ModelError(f"{what} of shape {dims} and type {type_name(t.data_type)} needs {need} bytes of "
                             f"raw_data, has {len(t.raw_data)}", node)
    else:
        need = (n + 1) // 2 if packed else n
        have = len(getattr(t, field))
        if have != need:
            raise ModelError(f"{what} of shape {dims} has {have} values in {field}, needs {need}", node)
    try:
        return numpy_helper.to_array(t)
    except Exception as e:  # anything onnx cannot convert after these checks is still the model's defect
        raise ModelError(f"cannot read {what}: {_first_line(e)}", node) from None


def _check_initializers(g) -> dict[str, np.ndarray]:
    constants: dict[str, np.ndarray] = {}
    for t in g.initializer:
        if not t.name:
            raise ModelError("an initializer has no name")
        if t.name in constants:
            raise ModelError(f"initializer {t.name!r} is defined twice")
        constants[t.name] = check_tensor(t, f"initializer {t.name!r}")
    return constants


def _check_graph_inputs(g, constants) -> set[str]:
    names: set[str] = set()
    for vi in g.input:
        if not vi.name:
            raise ModelError("a graph input has no name")
        if vi.name in names:
            raise ModelError(f"graph input {vi.name!r} is listed twice")
        names.add(vi.name)
        if vi.name in constants:   # an initializer listed as an input too (IR version < 4): a constant
            continue
        if vi.type.WhichOneof("value") != "tensor_type":
            raise UnsupportedOp(f"input {vi.name!r} is not a tensor (it is a {vi.type.WhichOneof('value')})")
        elem = vi.type.tensor_type.elem_type
        if elem not in NUMERIC_TYPES:
            raise UnsupportedOp(f"input {vi.name!r} is of type {type_name(elem)}; edgecc reads numeric inputs")
        if vi.type.tensor_type.HasField("shape"):
            dims = [d.dim_value for d in vi.type.tensor_type.shape.dim if d.HasField("dim_value")]
            if len(vi.type.tensor_type.shape.dim) > MAX_RANK:
                raise ModelError(f"input {vi.name!r} has rank {len(vi.type.tensor_type.shape.dim)}; edgecc reads "
                                 f"tensors of rank at most {MAX_RANK}")
            if dims and min(dims) > 0 and math.prod(dims) > MAX_ACTIVATION_ELEMENTS:
                raise ModelError(f"input {vi.name!r} of shape {dims} has {math.prod(dims)} elements, more than "
                                 f"the {MAX_ACTIVATION_ELEMENTS} edgecc accepts in one activation")
    return names


# ---- nodes -----------------------------------------------------------------------------------------------------
def node_label(node, index: int) -> str:
    """The name errors give a node: its own, or op_index where the model leaves it unnamed (as load_onnx does)."""
    return node.name or f"{node.op_type}_{index}"


def _check_nodes(g, opset: int, defined: set[str]) -> dict[str, int]:
    """Each node's op, domain, arity and attributes; returns tensor name -> index of the node producing it."""
    from .onnx import HANDLERS, supported_ops

    producers: dict[str, int] = {}
    for index, node in enumerate(g.node):
        label = node_label(node, index)
        if node.op_type not in HANDLERS:
            raise UnsupportedOp(f"op {node.op_type or '(empty)'} is not supported (supported: "
                                f"{', '.join(supported_ops())})", label)
        n_in, n_out, attr_types, required = _signature(node, opset, label)
        inputs = list(node.input)
        if not n_in[0] <= len(inputs) <= n_in[1]:
            raise ModelError(f"{node.op_type} takes {_count(n_in, 'input')}, has {len(inputs)}", label)
        for k in required:
            if k >= len(inputs) or not inputs[k]:
                raise ModelError(f"{node.op_type} input {k} is required, and missing", label)
        outputs = list(node.output)
        if not n_out[0] <= len(outputs) <= n_out[1]:
            raise ModelError(f"{node.op_type} gives {_count(n_out, 'output')}, has {len(outputs)}", label)
        if not outputs or not outputs[0]:
            raise ModelError(f"{node.op_type} has no output", label)
        _check_attributes(node, attr_types, label)
        for out in outputs:
            if not out:
                continue
            if out in defined:
                raise ModelError(f"output {out!r} is also a graph input or an initializer", label)
            if out in producers:
                raise ModelError(f"tensor {out!r} is produced twice, by "
                                 f"{node_label(g.node[producers[out]], producers[out])!r} and this node", label)
            producers[out] = index
    for index, node in enumerate(g.node):
        for name in node.input:
            if name and name not in producers and name not in defined:
                raise ModelError(f"input {name!r} is no graph input, initializer or node output",
                                 node_label(node, index))
    return producers


def _count(bounds: tuple[int, int], noun: str) -> str:
    lo, hi = bounds
    text = str(lo) if lo == hi else f"{lo} or more" if hi > 1000 else f"{lo} to {hi}"
    return f"{text} {noun}{'' if text == '1' else 's'}"


def _signature(node, opset: int, label: str):
    """(input count bounds, output count bounds, {attribute: type}, indices of required inputs) for the node."""
    from onnx import defs

    domain = node.domain
    if node.op_type in QONNX_SIGNATURES:
        if domain not in QONNX_DOMAINS + STANDARD_DOMAINS:
            raise UnsupportedOp(f"{node.op_type} in domain {domain!r} is not supported (QONNX ops are in "
                                f"{', '.join(QONNX_DOMAINS)})", label)
        n_in, n_out, attrs = QONNX_SIGNATURES[node.op_type]
        return (n_in, n_in), (n_out, n_out), attrs, list(range(n_in))
    if domain not in STANDARD_DOMAINS:
        raise UnsupportedOp(f"{node.op_type} in domain {domain!r} is not supported (edgecc reads the standard "
                            "ONNX domain and QONNX quantizers)", label)
    try:
        schema = defs.get_schema(node.op_type, opset, "")
    except Exception:
        raise UnsupportedOp(f"{node.op_type} does not exist in ONNX opset {opset}", label) from None
    required = [k for k, p in enumerate(schema.inputs)
                if p.option == defs.OpSchema.FormalParameterOption.Single]
    attrs = {name: int(a.type) for name, a in schema.attributes.items()}
    missing = [name for name, a in schema.attributes.items() if a.required and name not in
               {x.name for x in node.attribute}]
    if missing:
        raise ModelError(f"{node.op_type} needs attribute {missing[0]!r}", label)
    return ((schema.min_input, schema.max_input), (schema.min_output, schema.max_output), attrs, required)


def _check_attributes(node, attr_types: dict[str, int], label: str) -> None:
    from onnx import AttributeProto

    seen: set[str] = set()
    for a in node.attribute:
        if a.name in seen:
            raise ModelError(f"attribute {a.name!r} is given twice", label)
        seen.add(a.name)
        if a.name not in attr_types:
            raise UnsupportedOp(f"{node.op_type} has no attribute {a.name!r} (in this opset)", label)
        want = attr_types[a.name]
        if a.type != want:
            raise ModelError(f"attribute {a.name!r} is of type {_attr_type(a.type)}, {node.op_type} needs "
                             f"{_attr_type(want)}", label)
        if a.type == AttributeProto.FLOAT and not math.isfinite(a.f):
            raise ModelError(f"attribute {a.name!r} is {a.f}", label)
        if a.type == AttributeProto.FLOATS and not all(math.isfinite(v) for v in a.floats):
            raise ModelError(f"attribute {a.name!r} holds {[v for v in a.floats if not math.isfinite(v)][0]}",
                             label)
        if a.type == AttributeProto.STRING:
            try:
                a.s.decode("utf-8")
            except UnicodeDecodeError:
                raise ModelError(f"attribute {a.name!r} is not text", label) from None
        if a.type == AttributeProto.TENSOR:
            check_tensor(a.t, f"attribute {a.name!r}", label)
        if a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
            raise UnsupportedOp(f"attribute {a.name!r} holds a subgraph, which edgecc does not read", label)


def _attr_type(t: int) -> str:
    from onnx import AttributeProto

    try:
        return AttributeProto.AttributeType.Name(t)
    except ValueError:
        return f"unknown type {t}"


# ---- graph outputs, values, order -------------------------------------------------------------------------------
def _check_graph_outputs(g, producers: dict[str, int], defined: set[str]) -> None:
    if not len(g.output):
        raise ModelError("the model has no output")
    seen: set[str] = set()
    for vo in g.output:
        if not vo.name:
            raise ModelError("a graph output has no name")
        if vo.name in seen:
            raise ModelError(f"graph output {vo.name!r} is listed twice")
        seen.add(vo.name)
        if vo.name not in producers and vo.name not in defined:
            raise ModelError(f"graph output {vo.name!r} is produced by no node")


def _check_constant_uses(g, constants: dict[str, np.ndarray]) -> None:
    """A constant a layer reads (an initializer or a Constant's value) must hold values, and finite ones: NaN has
    no fixed-point value and an infinite weight no meaning. Only where ONNX means it are these allowed: an empty
    Resize roi, scales or sizes, and +-inf as a Clip bound (a side left open)."""
    values = dict(constants)
    for node in g.node:
        if node.op_type == "Constant" and node.output:
            values[node.output[0]] = _constant_value(node)
    checked: set[tuple[str, int]] = set()
    for index, node in enumerate(g.node):
        for k, name in enumerate(node.input):
            arr = values.get(name)
            if arr is None or (name, k) in checked:
                continue
            checked.add((name, k))
            if arr.size == 0 and (node.op_type, k) not in EMPTY_ALLOWED:
                raise ModelError(f"constant {name!r} is empty (shape {list(arr.shape)})", node_label(node, index))
            if arr.dtype.kind != "f":
                continue
            with np.errstate(invalid="ignore"):
                bad = np.isnan(arr) if (node.op_type, k) in INFINITY_ALLOWED else ~np.isfinite(arr)
            if bad.any():
                what = "NaN" if np.isnan(arr).any() else "inf"
                raise ModelError(f"constant {name!r} holds {what} (at index {np.argwhere(bad)[0].tolist()}), "
                                 "which has no fixed-point value", node_label(node, index))


def _constant_value(node) -> np.ndarray | None:
    from onnx import numpy_helper

    for a in node.attribute:
        if a.name == "value" and a.HasField("t"):
            return numpy_helper.to_array(a.t)
        if a.name in ("value_float", "value_floats"):
            return np.asarray(a.f if a.name == "value_float" else list(a.floats), dtype=np.float32)
        if a.name in ("value_int", "value_ints"):
            return np.asarray(a.i if a.name == "value_int" else list(a.ints), dtype=np.int64)
    return None


def _topological_order(g, producers: dict[str, int]) -> list:
    """The nodes in an order where each comes after the producers of its inputs (the file's own order where it
    already is one); a cycle is an error naming a node on it."""
    import heapq

    deps = [{producers[i] for i in node.input if i in producers} for node in g.node]
    users: list[list[int]] = [[] for _ in g.node]
    for k, d in enumerate(deps):
        for p in d:
            users[p].append(k)
    waiting = [len(d) for d in deps]
    ready = [k for k, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        k = heapq.heappop(ready)
        order.append(k)
        for u in users[k]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(order) < len(g.node):
        stuck = min(k for k in range(len(g.node)) if waiting[k])
        on_cycle = _on_cycle(stuck, deps, waiting)
        names = ", ".join(repr(node_label(g.node[k], k)) for k in on_cycle[:4])
        raise ModelError(f"the graph has a cycle through nodes {names}{', ...' if len(on_cycle) > 4 else ''}",
                         node_label(g.node[on_cycle[0]], on_cycle[0]))
    return [(node_label(g.node[k], k), g.node[k]) for k in order]


def _on_cycle(start: int, deps: list[set[int]], waiting: list[int]) -> list[int]:
    """Follow unfinished dependencies from `start` until a node repeats: the nodes from there on form a cycle."""
    path, seen = [], {}
    k = start
    while k not in seen:
        seen[k] = len(path)
        path.append(k)
        k = min(p for p in deps[k] if waiting[p])
    return path[seen[k]:]


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__
