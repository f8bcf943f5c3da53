"""The bit-exact golden model: numpy integer arithmetic over the IR, exact for any width."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from .graph import Graph
from .ops import op_def
from .scales import values_of_codes


def _check_batch(g: Graph, name: str, x: np.ndarray) -> np.ndarray:
    shape = g.tensor(name).shape
    x = np.asarray(x)
    if x.shape[1:] != tuple(shape):
        if x.shape == tuple(shape):  # a single vector without its batch axis
            return x[None]
        raise ModelError(f"input {name!r} must have shape [N, {', '.join(map(str, shape))}], got {list(x.shape)}")
    return x


def quantize_inputs(g: Graph, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Float inputs -> the integer codes the design's input ports receive."""
    if len(xs) != len(g.inputs):
        raise ModelError(f"the model has {len(g.inputs)} input(s), {len(xs)} given")
    env = {name: _check_batch(g, name, x) for name, x in zip(g.inputs, xs)}
    return [op_def(n).evaluate(g, n, [env[n.inputs[0]]]) for n in g.input_quantizers()]


def run_codes(g: Graph, hw_inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Integer codes at the input ports -> integer codes at the outputs (what every backend must return)."""
    env: dict[str, np.ndarray] = dict(zip(g.hw_inputs(), hw_inputs))
    n_batch = hw_inputs[0].shape[0] if hw_inputs else 1
    for node in g.compute_nodes():
        args = []
        for t in node.inputs:
            tensor = g.tensor(t)
            if t in env:
                args.append(env[t])
            elif tensor.is_const:
                args.append(tensor.data)
            else:
                raise ModelError(f"tensor {t!r} is used before it is computed", node.name)
        env[node.output] = op_def(node).evaluate(g, node, args)
    return [np.broadcast_to(env[o], (n_batch,) + tuple(g.tensor(o).shape)) for o in g.outputs]


def codes_to_float(g: Graph, codes: list[np.ndarray]) -> list[np.ndarray]:
    """Exact float64 values of output codes (times the output's scale factor, where it has one)."""
    return [values_of_codes(g.tensor(o).type, g.tensor(o).scale, c) for o, c in zip(g.outputs, codes)]


def run_float(g: Graph, xs: list[np.ndarray]) -> list[np.ndarray]:
    return codes_to_float(g, run_codes(g, quantize_inputs(g, xs)))
