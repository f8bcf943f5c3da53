"""infer_accumulators: every computing node gets the exact type of its result; a Dense's accumulator holds every
partial and final sum its weights can produce, and no more."""
from __future__ import annotations

import numpy as np

from edgecc.ir.golden import run_codes
from models import qonnx_mlp

from .lowering import lowered_until


def test_every_tensor_is_typed_and_the_accumulator_holds_the_extreme_sums():
    graph, config, run = lowered_until(qonnx_mlp(sizes=(8, 6, 3), seed=2), "infer_accumulators")
    run(graph, config)
    assert all(graph.tensor(t).type is not None for n in graph.nodes for t in n.outputs)
    dense = next(n for n in graph.nodes if n.op == "Dense")
    acc = dense.attrs["accumulator_type"]
    x_t = graph.tensor(dense.inputs[0]).type
    w = graph.tensor(dense.inputs[1]).data.astype(object)
    worst_hi = sum(max(wi * x_t.min_int, wi * x_t.max_int) for wi in w[:, 0])
    worst_lo = sum(min(wi * x_t.min_int, wi * x_t.max_int) for wi in w[:, 0])
    shift = acc.frac - (x_t.frac + graph.tensor(dense.inputs[1]).type.frac)
    assert acc.min_int <= worst_lo << shift and worst_hi << shift <= acc.max_int
    assert acc.width == type(acc).covering(acc.min_int, acc.max_int, acc.frac).width


def test_the_inferred_types_hold_what_the_golden_model_computes():
    graph, config, run = lowered_until(qonnx_mlp(sizes=(8, 6, 3), seed=2), "infer_accumulators")
    run(graph, config)
    t = graph.tensor(graph.hw_inputs()[0]).type
    rng = np.random.default_rng(0)
    codes = rng.integers(t.min_int, t.max_int, size=(500, 8), endpoint=True)
    codes[:2] = [[t.min_int] * 8, [t.max_int] * 8]
    out_t = graph.tensor(graph.outputs[0]).type
    got = run_codes(graph, [codes])[0]
    assert got.min() >= out_t.min_int and got.max() <= out_t.max_int
