"""Run the pass pipeline up to (not including) one pass, so a test can look at that pass alone."""
from __future__ import annotations

from edgecc.config import CompileConfig
from edgecc.frontend import read_model
from edgecc.ir.passes import PIPELINE


def lowered_until(model, name: str, config: CompileConfig | None = None):
    """The model-level graph after every pass before `name`; returns (graph, config, that pass's run function)."""
    config = config or CompileConfig()
    graph = read_model(model)
    for step, fn in PIPELINE:
        if step == name:
            return graph, config, fn
        fn(graph, config)
    raise KeyError(name)
