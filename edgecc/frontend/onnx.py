"""ONNX (float, QONNX, QDQ) -> ir.Graph: loading, batch handling, constants, and the op-handler registry."""
from __future__ import annotations

import math
import os
import warnings
from typing import Callable

import numpy as np

from ..errors import ModelError, UnsupportedOp
from ..ir.graph import Graph, Node, Tensor
from ..ir.scales import compact, transform
from ..ir.types import FixedType

OPSET_MIN, OPSET_MAX = 11, 21
QUANTIZER_OPS = ("Quant", "BipolarQuant", "Trunc", "QuantizeLinear", "DequantizeLinear")

HANDLERS: dict[str, Callable[["OnnxContext", object], None]] = {}


def onnx_handler(*op_types: str):
    """Register a handler for ONNX op types: handler(ctx, onnx_node) adds IR nodes or constants."""
    def deco(fn):
        for op in op_types:
            HANDLERS[op] = fn
        return fn
    return deco


def supported_ops() -> list[str]:
    from . import onnx_handlers, onnx_handlers_spatial  # noqa: F401  (fill HANDLERS)
    return sorted(HANDLERS)


class OnnxContext:
    """What handlers see: the IR graph being built, constant values, and attribute helpers."""

    def __init__(self, graph: Graph, opset: int):
        self.graph = graph
        self.opset = opset
        self.alias: dict[str, str] = {}         # ONNX name -> IR tensor name (Identity, Dropout, Q/DQ pairs)
        self.qlinear: dict[str, tuple] = {}     # QuantizeLinear output -> (scale, zero_point, IR tensor)
        self.node_name = ""
        # IR tensors that hold an ONNX (C, *spatial) activation channels-last, as (*spatial, C); and the
        # channels-last / ONNX-order twin of a tensor once a Transpose has made it
        self.onnx_uses: dict[str, int] = {}    # ONNX tensor -> how many nodes (and graph outputs) read it
        self.channels_last: set[str] = set()
        self._twin: dict[tuple[str, bool], str] = {}

    # -- tensors ---------------------------------------------------------------------------------
    def name(self, onnx_name: str) -> str:
        while onnx_name in self.alias:
            onnx_name = self.alias[onnx_name]
        return onnx_name

    def tensor(self, onnx_name: str) -> Tensor:
        name = self.name(onnx_name)
        if name not in self.graph.tensors:
            raise ModelError(f"input {onnx_name!r} is not produced by any node", self.node_name)
        return self.graph.tensors[name]

    def const(self, onnx_name: str, what: str = "this input") -> np.ndarray:
        """A constant's float or integer value; an activation here is an error (e.g. a dynamic Reshape shape)."""
        t = self.tensor(onnx_name)
        if t.data is None:
            raise UnsupportedOp(f"{what} ({onnx_name!r}) must be a constant", self.node_name)
        if t.type is not None:
            values = t.type.to_float(t.data)
            return values if t.scale is None else values * np.asarray(t.scale, dtype=np.float64)
        return t.data

    def is_const(self, onnx_name: str) -> bool:
        return self.tensor(onnx_name).data is not None

    def add_const(self, onnx_name: str, data: np.ndarray, ftype: FixedType | None = None,
                  scale: np.ndarray | None = None) -> Tensor:
        data = np.asarray(data)
        return self.graph.add_tensor(Tensor(onnx_name, tuple(int(d) for d in data.shape), ftype, data, scale))

    def add_const_moved(self, onnx_name: str, src: Tensor, fn) -> Tensor:
        """A constant whose elements are `src`'s moved by the layout function fn (transpose, reshape, ...): its codes
        or float values, its type, and its scale factor moved alike."""
        data = np.asarray(src.data)
        return self.add_const(onnx_name, fn(data), src.type, transform(src.scale, data.shape, fn))

    def add_node(self, op: str, inputs: list[str], output: str, shape, attrs=None, channels_last: bool = False,
                 name: str | None = None) -> Node:
        """A model-level IR node; its output keeps the ONNX name (bound to a fresh one if that is taken)."""
        shape = self.check_shape(output, shape, channels_last)
        ir_out = self.graph.fresh_name(output) if output in self.graph.tensors else output
        self.graph.add_tensor(Tensor(ir_out, shape))
        if channels_last:
            self.channels_last.add(ir_out)
        node = self.graph.add_node(Node(name or self.node_name, op, [self.name(i) for i in inputs], [ir_out],
                                        attrs or {}))
        self.bind(output, ir_out)
        return node

    def check_shape(self, output: str, shape, channels_last: bool = False) -> tuple[int, ...]:
        """An activation's shape (batch stripped), refused where a dimension is below 1 or it is too large to
        compile: before a handler builds anything of that size."""
        from .onnx_validate import MAX_ACTIVATION_ELEMENTS

        shape = tuple(int(d) for d in shape)
        if any(d < 1 for d in shape) or math.prod(shape) > MAX_ACTIVATION_ELEMENTS:
            onnx_shape = [1, shape[-1], *shape[:-1]] if channels_last and shape else [1, *shape]
            raise ModelError(f"output {output!r} would have shape {onnx_shape}; edgecc needs every dimension "
                             f">= 1 and at most {MAX_ACTIVATION_ELEMENTS} elements", self.node_name)
        return shape

    def bind(self, onnx_output: str, ir_tensor: str) -> None:
        if onnx_output != ir_tensor:
            self.alias[onnx_output] = ir_tensor

    # -- layout ----------------------------------------------------------------------------------
    def is_channels_last(self, onnx_name: str) -> bool:
        return self.name(onnx_name) in self.channels_last

    def onnx_shape(self, onnx_name: str) -> tuple[int, ...]:
        """The activation's shape as ONNX sees it, batch stripped."""
        t = self.tensor(onnx_name)
        if t.name in self.channels_last:
            return (t.shape[-1],) + tuple(t.shape[:-1])
        return tuple(t.shape)

    def spatial(self, onnx_name: str, what: str) -> str:
        """The IR name of an ONNX (C, *spatial) activation held channels-last (a Transpose where it is not)."""
        t = self.tensor(onnx_name)
        if t.data is not None:
            raise UnsupportedOp(f"{what} of a constant is not supported", self.node_name)
        if t.name in self.channels_last:
            return t.name
        if len(t.shape) < 2:
            raise UnsupportedOp(f"{what} needs an input of shape [N, C, ...spatial], got {list(t.shape)}",
                                self.node_name)
        rank = len(t.shape)
        return self._transposed(t.name, tuple(range(1, rank)) + (0,), True)

    def onnx_order(self, onnx_name: str) -> str:
        """The IR name of the activation in ONNX's axis order (a Transpose back where it is channels-last)."""
        t = self.tensor(onnx_name)
        if t.name not in self.channels_last:
            return t.name
        rank = len(t.shape)
        return self._transposed(t.name, (rank - 1,) + tuple(range(rank - 1)), False)

    def _transposed(self, name: str, perm: tuple[int, ...], to_channels_last: bool) -> str:
        key = (name, to_channels_last)
        if key not in self._twin:
            shape = tuple(self.graph.tensors[name].shape[p] for p in perm)
            out = self.graph.fresh_name(f"{name}_{'nhwc' if to_channels_last else 'nchw'}")
            node = Node(self.graph.fresh_node_name(f"{name}_layout"), "Transpose", [name], [out], {"perm": perm})
            self.graph.add_tensor(Tensor(out, shape))
            self.graph.add_node(node)
            if to_channels_last:
                self.channels_last.add(out)
            self._twin[key] = out
            self._twin[(out, not to_channels_last)] = name
        return self._twin[key]

    def to_ir_axis(self, onnx_name: str, axis: int) -> int:
        """An ONNX axis (counting the batch) of an activation -> the axis of its IR tensor (batch stripped)."""
        rank = len(self.tensor(onnx_name).shape) + 1
        a = axis + rank if axis < 0 else axis
        if not 1 <= a < rank:
            raise UnsupportedOp(f"axis {axis} is the batch axis or out of range", self.node_name)
        if self.is_channels_last(onnx_name):
            return rank - 2 if a == 1 else a - 2
        return a - 1

    def const_like(self, const_name: str, act_name: str, what: str) -> str:
        """A constant operand of an elementwise op on activation `act_name`: broadcast as ONNX does, put in the
        activation's IR layout, then cut to the smallest shape that broadcasts against its trailing axes."""
        t = self.tensor(const_name)
        full = (1,) + self.onnx_shape(act_name)
        data = np.asarray(t.data)
        try:
            if np.broadcast_shapes(data.shape, full) != full:
                raise ValueError
        except ValueError:
            raise UnsupportedOp(f"{what} of shape {list(data.shape)} does not broadcast to the activation "
                                f"{list(full)}", self.node_name) from None
        scale = None if t.scale is None else \
            np.broadcast_to(np.broadcast_to(np.asarray(t.scale, dtype=object), data.shape), full)[0]
        data = np.broadcast_to(data, full)[0]
        if self.is_channels_last(act_name):
            data = np.moveaxis(data, 0, -1)
            scale = None if scale is None else np.moveaxis(scale, 0, -1)
        # the IR takes a constant operand as a suffix of the activation's shape (element i pairs with
        # const[i % size]): drop the leading axes it does not vary along (nor does its scale)
        while data.ndim and np.all(data == np.take(data, [0], axis=0)) and \
                (scale is None or np.all(scale == np.take(scale, [0], axis=0))):
            data = data[0]
            scale = None if scale is None else scale[0]
        new = self.graph.fresh_name(f"{t.name}_b")
        self.add_const(new, np.ascontiguousarray(data), t.type, compact(scale))
        return new


def attrs_of(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def load_onnx(model) -> Graph:
    """Read an ONNX path or ModelProto into the model-level IR (quantizers not yet folded into types)."""
    import onnx

    from . import onnx_handlers, onnx_handlers_spatial  # noqa: F401  (fill HANDLERS)
    from .onnx_validate import validate_model

    source = "<ModelProto>"
    if not isinstance(model, onnx.ModelProto):
        source = os.fspath(model)
        try:
            with warnings.catch_warnings():  # e.g. unknown external-data keys: what matters is whether it loads
                warnings.simplefilter("ignore")
                model = onnx.load(source)
        except FileNotFoundError:
            raise ModelError(f"model file {source!r} does not exist") from None
        except Exception as e:  # a truncated or foreign file: protobuf raises its own DecodeError types
            raise ModelError(f"cannot read {source!r} as an ONNX model ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else 'corrupt protobuf'})") from None
    checked = validate_model(model)
    opset = checked.opset
    onnx_graph = model.graph
    graph = Graph(_model_name(model, source))
    graph.meta["source"] = os.path.basename(source)
    graph.meta["opset"] = opset
    ctx = OnnxContext(graph, opset)
    for node in onnx_graph.node:
        for i in node.input:
            ctx.onnx_uses[i] = ctx.onnx_uses.get(i, 0) + 1
    for out in onnx_graph.output:
        ctx.onnx_uses[out.name] = ctx.onnx_uses.get(out.name, 0) + 1

    for name, value in checked.constants.items():
        ctx.add_const(name, value)
    init_names = {i.name for i in onnx_graph.initializer}
    for vi in onnx_graph.input:
        if vi.name in init_names:
            continue
        graph.add_tensor(Tensor(vi.name, _strip_batch(vi)))
        graph.inputs.append(vi.name)
    if not graph.inputs:
        raise ModelError("the model has no (non-constant) input")

    for label, node in checked.nodes:
        ctx.node_name = label
        handler = HANDLERS[node.op_type]
        if node.op_type != "DequantizeLinear":
            for i in node.input:
                if i in ctx.qlinear:
                    raise UnsupportedOp(f"reads the raw integers of QuantizeLinear output {i!r}; "
                                        "edgecc reads Q/DQ pairs", ctx.node_name)
        handler(ctx, node)

    for out in onnx_graph.output:
        if out.name in ctx.qlinear and ctx.name(out.name) == out.name:
            raise UnsupportedOp(f"graph output {out.name!r} is a QuantizeLinear output with no DequantizeLinear; "
                                "edgecc reads Q/DQ pairs")
        t = ctx.tensor(out.name)
        if t.data is not None:
            raise UnsupportedOp(f"graph output {out.name!r} is a constant")
        graph.outputs.append(ctx.onnx_order(out.name))
    # a model with any quantizer fixes its own arithmetic; layers it leaves unquantized stay exact
    graph.meta["quantized"] = any(n.op_type in QUANTIZER_OPS for n in onnx_graph.node)
    graph.prune()
    graph.toposort()
    return graph


def _model_name(model, source: str) -> str:
    if model.graph.name:
        return model.graph.name
    return os.path.splitext(os.path.basename(source))[0] if source != "<ModelProto>" else "model"


def _strip_batch(vi) -> tuple[int, ...]:
    """Shape of a graph input without its batch dimension (the first, which must be 1 or symbolic)."""
    ttype = vi.type.tensor_type
    if not ttype.HasField("shape"):
        raise ModelError(f"input {vi.name!r} has no shape")
    dims = list(ttype.shape.dim)
    if not dims:
        raise ModelError(f"input {vi.name!r} is a scalar; edgecc needs a batch dimension")
    first = dims[0]
    if first.HasField("dim_value") and first.dim_value != 1:
        raise ModelError(f"input {vi.name!r} has batch dimension {first.dim_value}; edgecc needs 1 or a symbolic one")
    shape = []
    for k, d in enumerate(dims[1:], start=1):
        if d.HasField("dim_value") and d.dim_value <= 0:
            raise ModelError(f"input {vi.name!r} has dimension {d.dim_value} at axis {k}")
        if not d.HasField("dim_value"):
            label = d.dim_param or "?"
            raise ModelError(f"input {vi.name!r} has a dynamic dimension {label!r} at axis {k}; "
                             "only the batch dimension may be symbolic")
        shape.append(int(d.dim_value))
    return tuple(shape)
