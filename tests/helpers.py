"""The one shared "compile, run, compare bit for bit" helper, and input sets that probe rounding and saturation."""
from __future__ import annotations

import numpy as np

import edgecc


def probe_inputs(graph, n: int, seed: int = 0) -> np.ndarray:
    """Float inputs for a graph's input quantizer: a quarter exact rounding ties, a quarter on the grid, a quarter
    off-grid, and a quarter beyond the range (saturating), all signs."""
    q = graph.input_quantizers()[0]
    t = graph.tensor(q.output).type
    shape = graph.tensor(graph.inputs[0]).shape
    rng = np.random.default_rng(seed)
    lo, hi = int(q.attrs["lo"]), int(q.attrs["hi"])
    codes = rng.integers(lo, hi, size=(n,) + tuple(shape), endpoint=True)
    kind = np.arange(n) % 4
    x = codes.astype(np.float64)
    x[kind == 0] += 0.5                                                     # ties
    x[kind == 2] += rng.uniform(-0.5, 0.5, size=x[kind == 2].shape)        # off-grid
    span = (hi - lo + 1)
    x[kind == 3] = rng.choice([-1, 1], size=x[kind == 3].shape) * rng.uniform(1, 3, size=x[kind == 3].shape) * span
    if "scale" in q.attrs:   # a scale that is not a power of two: the codes' values are code * scale (float32)
        return (x * np.float32(q.attrs["scale"])).astype(np.float32).astype(np.float64)
    return np.ldexp(x, -t.frac).astype(np.float32).astype(np.float64)


def compile_run_compare(model, x, tmp_path, backend="hls", name="out", **options):
    """Compile `model` (path, ModelProto or Graph), run its simulation on x and require 0 mismatches against
    the golden model; returns (graph, exact float64 outputs)."""
    graph = model if isinstance(model, edgecc.ir.graph.Graph) else edgecc.load(model, **{
        k: options.pop(k) for k in ("precision", "config") if k in options})
    project = edgecc.compile(graph, backend=backend, out=str(tmp_path / name), **options)
    result = project.run_result(x)
    assert result.vectors == len(x)
    assert result.mismatches == 0, f"{result.mismatches} of {result.vectors} vectors differ from the golden model"
    np.testing.assert_array_equal(result.codes, result.golden_codes)
    assert project.report["sim"]["mismatches"] == 0
    return graph, result.outputs
