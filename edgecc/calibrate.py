"""Precisions for a float model from data: `--calibrate X.npy` and `--accuracy-budget F`.

Calibration runs the model once at a wide fixed-point type (WIDE: 2^-20 steps, so its outputs are the float model's
to about a millionth; it is the reference "float model" below) on representative inputs and gives each layer whose
result a float model leaves unquantized (Dense, Conv, Add, Mul, LeakyRelu, AvgPool), its weights and the model's
input a type of `width` bits: the integer bits hold the largest magnitude observed times (1 + margin) (unsigned where
no negative value was seen), the rest are fractional bits. Biases get twice the width.

With an accuracy budget F, the per-layer widths are then searched, greedily: starting from `width` everywhere, the
step that saves the most of the board (the backend's cost model, `schedule.search.weighted_cost`) while the
calibration set's top-1 agreement with the float model stays at or above (uniform width's agreement - F) is taken,
two bits then one bit at a time, until no layer can narrow. The widths chosen are printed and go into report.json
(`calibration`).
"""
from __future__ import annotations

import math
import sys
from dataclasses import replace

import numpy as np

from .config import CompileConfig, LayerConfig
from .errors import ModelError
from .ir.types import FixedType

WIDE = FixedType(40, 20, True, "ROUND", "SAT")
RESULT_OPS = ("Dense", "Conv", "Add", "Mul", "LeakyRelu", "AvgPool")
MIN_WIDTH = 3


def _type_for(lo: float, hi: float, width: int, margin: float) -> FixedType:
    """`width` bits whose integer part holds [lo, hi] with the margin; unsigned when lo >= 0."""
    signed = lo < 0
    m = max(abs(lo), abs(hi)) * (1 + margin)
    integer = (math.floor(math.log2(m)) + 1 if m > 0 else 0) + (1 if signed else 0)
    integer = max(integer, 1 if signed else 0)
    if integer >= width:
        raise ModelError(f"a calibrated range of +-{m:g} needs {integer} integer bits, more than the width {width}")
    return FixedType(width, integer, signed, "ROUND", "SAT")


def _inputs(x) -> np.ndarray:
    if isinstance(x, str):
        try:
            x = np.load(x, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot read calibration data {x!r}: {str(e).splitlines()[0]}") from None
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or len(x) == 0 or not np.all(np.isfinite(x)):
        raise ModelError("calibration data must be a finite float array [N, *input shape] with N >= 1")
    return x


def observe(model, x: np.ndarray) -> tuple[dict, dict]:
    """Ranges (lo, hi) of each result layer's output and weights at the WIDE type, and the wide graph."""
    from .api import load
    from .ir.golden import quantize_inputs

    wide = load(model, config=CompileConfig(default_type=WIDE, input_type=WIDE))
    if wide.meta.get("quantized", False):
        raise ModelError("--calibrate is for float models: this model has its own quantizers")
    env = dict(zip(wide.hw_inputs(), quantize_inputs(wide, [x])))
    from .ir.ops import op_def

    ranges, weights = {}, {}
    for node in wide.compute_nodes():
        args = [env[t] if t in env else wide.tensor(t).data for t in node.inputs]
        env[node.output] = op_def(node).evaluate(wide, node, args)
        if node.op in RESULT_OPS:
            v = wide.tensor(node.output).type.to_float(np.asarray(env[node.output]))
            ranges[node.name] = (float(np.min(v)), float(np.max(v)))
            if node.op in ("Dense", "Conv", "Mul") and len(node.inputs) > 1 and wide.tensor(node.inputs[1]).is_const:
                w = wide.tensor(node.inputs[1])
                wv = w.type.to_float(np.asarray(w.data))
                weights[node.name] = (float(np.min(wv)), float(np.max(wv)))
    return ranges, weights


def calibrated_config(ranges: dict, weights: dict, x: np.ndarray, widths: dict[str, int], width: int,
                      margin: float) -> CompileConfig:
    layers = {}
    for name, (lo, hi) in ranges.items():
        w = widths.get(name, width)
        wt = _type_for(*weights[name], w, 0.0) if name in weights else None
        if wt is not None and not wt.signed:
            wt = replace(wt, width=wt.width + 1, integer=wt.integer + 1, signed=True)
        bias = FixedType(2 * w, _type_for(lo, hi, w, margin).integer + (0 if lo < 0 else 1), True, "ROUND", "SAT")
        layers[name] = LayerConfig(result_type=_type_for(lo, hi, w, margin), weight_type=wt, bias_type=bias)
    input_type = _type_for(float(x.min()), float(x.max()), width, margin)
    # anything else a float model leaves untyped (a table's result): twice the width, half of it integer bits
    return CompileConfig(default_type=FixedType(2 * width, width, True, "ROUND", "SAT"), input_type=input_type,
                         layers=layers)


def top1_agreement(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a).reshape(len(a), -1), np.asarray(b).reshape(len(b), -1)
    if a.shape[1] < 2:
        raise ModelError("--accuracy-budget compares top-1 answers: the model's output must have 2 or more values")
    return float(np.mean(np.argmax(a, axis=1) == np.argmax(b, axis=1)))


def calibrate(model, x, width: int = 16, margin: float = 0.25, budget: float | None = None, backend: str = "hls",
              board=None, quiet: bool = True):
    """A lowered graph of the float model with calibrated types (and, with a budget, searched widths); its
    `meta["calibration"]` says what was chosen and measured."""
    from .api import load
    from .backends import get_backend
    from .boards import get_board
    from .schedule import schedule_graph
    from .schedule.search import weighted_cost

    if not 4 <= width <= 32:
        raise ModelError(f"the calibration width must be 4..32 bits, got {width}")
    x = _inputs(x)
    ranges, weights = observe(model, x)
    wide = load(model, config=CompileConfig(default_type=WIDE, input_type=WIDE))
    reference = wide.golden(x)
    be = get_backend(backend)
    board_def = get_board(board or be.default_board)

    def build(widths):
        g = load(model, config=calibrated_config(ranges, weights, x, widths, width, margin))
        return g, g.golden(x)

    def cost(g):
        s = schedule_graph(g, be.cost_model, board_def, g.config, options=be.compile_settings({}))
        return weighted_cost(s.resources, board_def.resources)

    widths = {name: width for name in ranges}
    graph, out = build(widths)
    info = {"width": width, "margin": margin, "samples": len(x), "layers": {}}
    if budget is not None:
        if not 0 <= budget < 1:
            raise ModelError(f"--accuracy-budget is a fraction of top-1 answers, 0 <= F < 1, got {budget}")
        floor = top1_agreement(out, reference) - budget
        best = cost(graph)
        info.update({"budget": budget, "uniform_agreement": top1_agreement(out, reference), "uniform_cost": best})
        for step in (2, 1):
            while True:
                trials = []
                for name in widths:
                    if widths[name] - step < MIN_WIDTH:
                        continue
                    trial = {**widths, name: widths[name] - step}
                    try:
                        g, o = build(trial)
                    except ModelError:
                        continue
                    if top1_agreement(o, reference) >= floor:
                        trials.append((cost(g), name, trial, g, o))
                if not trials:
                    break
                c, name, trial, g, o = min(trials, key=lambda t: t[0])
                if c > best:
                    break
                best, widths, graph, out = c, trial, g, o
                if not quiet:
                    print(f"edgecc: calibrate: {name} -> {widths[name]} bits (cost {c:.4f})", file=sys.stderr)
        info["cost"] = best
    info["agreement"] = top1_agreement(out, reference) if np.asarray(out).reshape(len(x), -1).shape[1] > 1 else None
    cfg = graph.config
    for name in ranges:
        layer = cfg.layer(name)
        info["layers"][name] = {"width": widths[name], "result": str(layer.result_type),
                                "weight": str(layer.weight_type) if layer.weight_type else None}
    info["input"] = str(cfg.input_type)
    graph.meta["calibration"] = info
    return graph
