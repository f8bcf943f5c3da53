"""Layout: the Transposes the frontend put between ONNX's (C, *spatial) order and the IR's channels-last one go
where they cost nothing. A Transpose and its inverse cancel; one right after a graph input's quantizer becomes
the order of the design's input port (the input quantizer's `perm`: the float input is permuted as it is
quantized); a Transpose that only feeds a flattening Reshape into a Dense (through per-element ops, if any)
becomes a permutation of the Dense's weight rows (exact: the same products, summed in another order)."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Tensor


def _only_user(g: Graph, tensor: str):
    users = g.consumers(tensor)
    return users[0] if len(users) == 1 and tensor not in g.outputs else None


def _compose(first: tuple, second: tuple) -> tuple:
    return tuple(first[p] for p in second)


def run(g: Graph, config) -> bool:
    changed = True
    any_change = False
    while changed:
        changed = _cancel_pairs(g) or _hoist(g) or _sink(g) or _absorb_input(g) or _fold_into_dense(g)
        any_change |= changed
    g.prune()
    return any_change


def _cancel_pairs(g: Graph) -> bool:
    for node in g.nodes:
        if node.op != "Transpose":
            continue
        for user in g.consumers(node.output):
            if user.op != "Transpose":
                continue
            perm = _compose(node.attrs["perm"], user.attrs["perm"])
            if perm == tuple(range(len(perm))):
                g.replace_uses(user.output, node.inputs[0])
                g.remove_node(user)
            else:
                user.inputs = [node.inputs[0]]
                user.attrs["perm"] = perm
            g.prune()
            return True
    return False


UNARY_LAYOUT_FREE = ("Relu", "Quantize", "Clip", "LeakyRelu", "Table", "Pad")


def _movable(g: Graph, p) -> bool:
    boundary = {id(n) for n in g.input_quantizers()}
    return p is not None and p.op in UNARY_LAYOUT_FREE and id(p) not in boundary


def _reaches_input(g: Graph, tensor: str) -> bool:
    """Whether only per-element ops lie between the design's input port and `tensor`."""
    while tensor not in g.hw_inputs():
        p = g.producer(tensor)
        if not _movable(g, p) or _only_user(g, p.output) is None:
            return False
        tensor = p.inputs[0]
    return True


def _reaches_flatten(g: Graph, tensor: str) -> bool:
    """Whether only per-element ops lie between `tensor` and a flattening Reshape into a Dense."""
    while True:
        u = _only_user(g, tensor)
        if u is None:
            return False
        if u.op == "Reshape":
            return len(g.tensor(u.output).shape) == 1
        if not _movable(g, u):
            return False
        tensor = u.output


def _swap(g: Graph, p, t) -> None:
    """x -> P -> T (T a Transpose, P per-element) becomes x -> T -> P, P's output keeping its type."""
    perm = tuple(t.attrs["perm"])
    x = g.tensor(p.inputs[0])
    moved = g.fresh_name(f"{x.name}_t")
    g.add_tensor(Tensor(moved, tuple(x.shape[k] for k in perm), x.type, scale=x.scale))
    if p.op == "Pad":
        rank = len(perm)
        pads = p.attrs["pads"]
        p.attrs["pads"] = tuple(pads[k] for k in perm) + tuple(pads[rank + k] for k in perm)
    out = t.output
    g.tensors[out] = Tensor(out, g.tensor(out).shape, g.tensor(p.output).type,   # a quantizer's type stays
                            scale=g.tensor(p.output).scale)
    t.inputs, t.outputs = [x.name], [moved]
    p.inputs, p.outputs = [moved], [out]
    g.toposort()
    g.prune()


def _hoist(g: Graph) -> bool:
    """A Transpose moves up through per-element ops where that brings it to the input port (absorbed there)."""
    for t in g.nodes:
        p = g.producer(t.inputs[0]) if t.op == "Transpose" else None
        if _movable(g, p) and _only_user(g, p.output) is t and _reaches_input(g, t.inputs[0]):
            _swap(g, p, t)
            return True
    return False


def _sink(g: Graph) -> bool:
    """A Transpose moves down through per-element ops where that brings it to a flattening Reshape into a Dense
    (folded into the weights there): x -> T -> P becomes x -> P' -> T."""
    for t in g.nodes:
        u = _only_user(g, t.output) if t.op == "Transpose" else None
        if not _movable(g, u) or not _reaches_flatten(g, t.output):
            continue
        inverse = tuple(int(i) for i in np.argsort(t.attrs["perm"]))
        x = g.tensor(t.inputs[0])
        if u.op == "Pad":   # P' pads the untransposed axes
            rank = len(inverse)
            pads = u.attrs["pads"]
            u.attrs["pads"] = tuple(pads[k] for k in inverse) + tuple(pads[rank + k] for k in inverse)
        mid = g.fresh_name(f"{u.output}_t")
        out = g.tensor(u.output)
        g.add_tensor(Tensor(mid, tuple(out.shape[k] for k in inverse), out.type, scale=out.scale))
        final = u.output
        u.inputs, u.outputs = [x.name], [mid]
        t.inputs, t.outputs = [mid], [final]
        g.toposort()
        g.prune()
        return True
    return False


def _absorb_input(g: Graph) -> bool:
    for q in g.input_quantizers():
        t = _only_user(g, q.output)
        if t is None or t.op != "Transpose":
            continue
        perm = tuple(t.attrs["perm"])
        prior = tuple(q.attrs.get("perm") or range(len(perm)))
        q.attrs["perm"] = _compose(prior, perm)
        old = g.tensor(q.output)
        g.tensors[old.name] = Tensor(old.name, g.tensor(t.output).shape, old.type, old.data, old.scale)
        g.replace_uses(t.output, q.output)
        g.remove_node(t)
        return True
    return False


def _per_element(node) -> bool:
    if node.op == "Requantize":
        return len(node.attrs.get("ratio", node.attrs.get("multiplier", ()))) == 1
    return node.op in ("Relu", "Quantize", "Clip", "LeakyRelu", "Table")


def _fold_into_dense(g: Graph) -> bool:
    for t in g.nodes:
        if t.op != "Transpose":
            continue
        r = _only_user(g, t.output)
        if r is None or r.op != "Reshape" or len(g.tensor(r.output).shape) != 1:
            continue
        # per-element ops with one constant for every element may sit between (a QDQ model's Flatten has its own
        # quantizer): they give the same values in any order
        flat = r.output
        dense = _only_user(g, flat)
        while dense is not None and _per_element(dense):
            flat = dense.output
            dense = _only_user(g, flat)
        if dense is None or dense.op not in ("Dense", "MatMul") or dense.inputs[0] != flat:
            continue
        src = g.tensor(t.inputs[0])
        # position i of the flat vector read after the transpose = source flat position order[i]
        order = np.transpose(np.arange(src.size).reshape(src.shape), t.attrs["perm"]).ravel()
        w = g.tensor(dense.inputs[1])
        rows = np.empty_like(np.asarray(w.data))
        rows[order] = np.asarray(w.data)        # the weight row for source position order[i] is row i
        name = g.fresh_name(f"{w.name}_rows")
        g.add_tensor(Tensor(name, w.shape, w.type, rows, w.scale))
        dense.inputs[1] = name
        r.inputs = [t.inputs[0]]
        g.remove_node(t)
        return True
    return False
