"""The IR passes, in the order they run; each is one file with one job: `run(graph, config) -> changed`."""
from __future__ import annotations

from typing import Callable

from . import (assign_default_precision, check_config_layers, check_quantized, fold_quantizers, fuse_bias_activation,
               fuse_result_quantizers, infer_accumulators, infer_scales, insert_requantization, make_names_unique,
               simplify_layout)

PIPELINE: list[tuple[str, Callable]] = [
    ("make_names_unique", make_names_unique.run),
    ("check_config_layers", check_config_layers.run),
    ("fuse_bias_activation", fuse_bias_activation.run),
    ("assign_default_precision", assign_default_precision.run),
    ("insert_requantization", insert_requantization.run),
    ("fold_quantizers", fold_quantizers.run),
    ("infer_scales", infer_scales.run),
    ("fuse_result_quantizers", fuse_result_quantizers.run),
    ("simplify_layout", simplify_layout.run),
    ("infer_accumulators", infer_accumulators.run),
    ("check_quantized", check_quantized.run),
]


def run_passes(graph, config, trace: Callable[[str, object], None] | None = None):
    """Lower a model-level graph to the hardware IR in place; `trace(name, graph)` sees each step."""
    applied = []
    for name, fn in PIPELINE:
        fn(graph, config)
        applied.append(name)
        if trace:
            trace(name, graph)
    graph.meta["passes"] = applied
    return graph
