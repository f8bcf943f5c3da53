"""Every layer the config names is a node of the model: a misspelt name is an error, not a silent no-op."""
from __future__ import annotations

import difflib

from ...errors import ModelError
from ..graph import Graph


def run(g: Graph, config) -> bool:
    names = [n.name for n in g.nodes]
    for layer in sorted(config.layers):
        if layer not in names:
            close = difflib.get_close_matches(layer, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (nodes: {', '.join(names[:12])})"
            raise ModelError(f"config names layer {layer!r}, which the model does not have{hint}")
    return False
