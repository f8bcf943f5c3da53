"""The quantized dataflow IR: tensors with exact fixed-point types, nodes in topological order, and the graph."""
from __future__ import annotations

import json
import math
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelError
from .scales import factors_from_json, factors_to_json
from .types import FixedType


@dataclass
class Tensor:
    """A value without its batch dimension. `type` None means float (only before quantization).

    Constants carry `data`: integer codes once typed, float values before their quantizer is folded.
    `scale`: where a quantizer's scale is not a power of two, the factor a code stands for beyond 2**-frac (exact
    Fractions in an array that broadcasts against `shape`; see ir/scales.py). None means 1.
    """

    name: str
    shape: tuple[int, ...]
    type: FixedType | None = None
    data: np.ndarray | None = None
    scale: np.ndarray | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def is_const(self) -> bool:
        return self.data is not None


@dataclass
class Node:
    name: str  # as the model names it: untrusted text, sanitized by each backend
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.outputs[0]


class Graph:
    def __init__(self, name: str = "model"):
        self.name = name
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.meta: dict[str, Any] = {}  # provenance: source file, passes applied, precision defaults
        self.config = None  # the CompileConfig it was lowered with (per-layer reuse factors for the scheduler)

    # ---- construction ---------------------------------------------------------------------------
    def add_tensor(self, tensor: Tensor) -> Tensor:
        self.tensors[tensor.name] = tensor
        return tensor

    def add_node(self, node: Node) -> Node:
        self.nodes.append(node)
        return node

    def fresh_name(self, base: str) -> str:
        name, k = base, 1
        while name in self.tensors:
            name, k = f"{base}_{k}", k + 1
        return name

    def fresh_node_name(self, base: str) -> str:
        """`base`, or `base_2`, `base_3`, ... if a node has that name: for nodes a pass adds."""
        taken = {n.name for n in self.nodes}
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        return name

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    # ---- queries --------------------------------------------------------------------------------
    def producer(self, tensor: str) -> Node | None:
        for n in self.nodes:
            if tensor in n.outputs:
                return n
        return None

    def consumers(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes if tensor in n.inputs]

    def replace_uses(self, old: str, new: str) -> None:
        for n in self.nodes:
            n.inputs = [new if t == old else t for t in n.inputs]
        self.outputs = [new if t == old else t for t in self.outputs]

    def remove_node(self, node: Node) -> None:
        self.nodes.remove(node)

    def prune(self) -> None:
        """Drop nodes whose outputs nobody uses and tensors nobody references."""
        changed = True
        while changed:
            used = set(self.outputs) | {t for n in self.nodes for t in n.inputs}
            dead = [n for n in self.nodes if not any(o in used for o in n.outputs)]
            for n in dead:
                self.nodes.remove(n)
            changed = bool(dead)
        live = set(self.inputs) | set(self.outputs) | {t for n in self.nodes for t in n.inputs + n.outputs}
        self.tensors = {k: v for k, v in self.tensors.items() if k in live}

    def toposort(self) -> None:
        ready = set(self.inputs) | {t for t, v in self.tensors.items() if v.is_const}
        ordered, pending = [], list(self.nodes)
        while pending:
            progress = False
            for n in list(pending):
                if all(i in ready for i in n.inputs):
                    ordered.append(n)
                    ready.update(n.outputs)
                    pending.remove(n)
                    progress = True
            if not progress:
                raise ModelError("the graph has a cycle or an input nobody produces", pending[0].name)
        self.nodes = ordered

    def input_quantizers(self) -> list[Node]:
        """The Quantize nodes that turn a float graph input into the design's fixed-point input port."""
        return [n for n in self.nodes if n.op == "Quantize" and n.inputs[0] in self.inputs]

    def compute_nodes(self) -> list[Node]:
        """Every node the hardware implements (all but the input quantizers)."""
        boundary = {id(n) for n in self.input_quantizers()}
        return [n for n in self.nodes if id(n) not in boundary]

    def hw_inputs(self) -> list[str]:
        return [n.output for n in self.input_quantizers()]

    # ---- golden model ---------------------------------------------------------------------------
    def golden(self, x: np.ndarray, *more: np.ndarray) -> np.ndarray | list[np.ndarray]:
        """Run the bit-exact golden model on float inputs [N, *shape]; returns exact float64 outputs."""
        from .golden import run_float

        outs = run_float(self, [x, *more])
        return outs[0] if len(outs) == 1 else outs

    # ---- text -----------------------------------------------------------------------------------
    def dump(self) -> str:
        lines = [f"graph {self.name}"]
        for t in self.inputs:
            lines.append(f"  input  {t}: {_fmt_tensor(self.tensors[t])}")
        for n in self.nodes:
            ins = ", ".join(self._fmt_use(t) for t in n.inputs)
            outs = ", ".join(f"{o}: {_fmt_tensor(self.tensors[o])}" for o in n.outputs)
            shown = {k: v for k, v in n.attrs.items() if not isinstance(v, np.ndarray)}
            attrs = " ".join(f"{k}={v}" for k, v in sorted(shown.items(), key=lambda kv: kv[0]))
            lines.append(f"  {n.op:<9} {n.name!r} ({ins}) -> {outs} {attrs}".rstrip())
        for t in self.outputs:
            lines.append(f"  output {t}: {_fmt_tensor(self.tensors[t])}")
        return "\n".join(lines)

    def _fmt_use(self, name: str) -> str:
        t = self.tensors[name]
        return f"{name}=const{list(t.shape)}:{t.type or 'float'}" if t.is_const else name

    # ---- serialization (deterministic JSON; constants as integer lists) --------------------------
    def to_json(self) -> str:
        def tensor_json(t: Tensor) -> dict:
            d: dict[str, Any] = {"name": t.name, "shape": list(t.shape),
                                 "type": t.type.to_json() if t.type else None}
            if t.data is not None:
                if t.type is None:
                    raise ModelError(f"constant {t.name!r} was never quantized", None)
                d["data"] = [int(v) for v in np.ravel(t.data)]
            if t.scale is not None:
                d["scale"] = factors_to_json(t.scale)
            return d

        def attr_json(v: Any) -> Any:
            if isinstance(v, FixedType):
                return {"__fixed__": v.to_json()}
            if isinstance(v, np.ndarray):
                return {"__array__": v.tolist()}
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (np.floating,)):
                return float(v)
            if isinstance(v, Fraction):
                return {"__fraction__": [v.numerator, v.denominator]}
            if isinstance(v, (tuple, list)) and any(isinstance(e, Fraction) for e in v):
                return [attr_json(e) for e in v]
            return v

        doc = {
            "name": self.name,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "tensors": [tensor_json(self.tensors[k]) for k in sorted(self.tensors)],
            "nodes": [{"name": n.name, "op": n.op, "inputs": n.inputs, "outputs": n.outputs,
                       "attrs": {k: attr_json(v) for k, v in sorted(n.attrs.items())}} for n in self.nodes],
            "meta": self.meta,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))  # compact: the C encoder, fast

    @staticmethod
    def from_json(text: str) -> "Graph":
        doc = json.loads(text)
        g = Graph(doc["name"])
        g.inputs, g.outputs, g.meta = doc["inputs"], doc["outputs"], doc.get("meta", {})
        for d in doc["tensors"]:
            ftype = FixedType.from_json(d["type"]) if d["type"] else None
            data = None
            if "data" in d:
                data = np.array(d["data"], dtype=ftype.int_dtype() if ftype else np.int64)
                data = data.reshape(d["shape"])
            g.add_tensor(Tensor(d["name"], tuple(d["shape"]), ftype, data, factors_from_json(d.get("scale"))))

        def attr_value(v: Any) -> Any:
            if isinstance(v, dict) and "__fixed__" in v:
                return FixedType.from_json(v["__fixed__"])
            if isinstance(v, dict) and "__array__" in v:
                return np.array(v["__array__"])
            if isinstance(v, dict) and "__fraction__" in v:
                return Fraction(*v["__fraction__"])
            if isinstance(v, list) and any(isinstance(e, dict) and "__fraction__" in e for e in v):
                return tuple(attr_value(e) for e in v)
            return v

        for d in doc["nodes"]:
            g.add_node(Node(d["name"], d["op"], d["inputs"], d["outputs"],
                            {k: attr_value(v) for k, v in d["attrs"].items()}))
        return g


def _fmt_tensor(t: Tensor) -> str:
    scale = ""
    if t.scale is not None:
        values = np.ravel(t.scale)
        scale = f" x{float(values[0]):.6g}" if values.size == 1 else f" x[{values.size} scales]"
    return f"{list(t.shape)} {t.type if t.type else 'float'}{scale}"
