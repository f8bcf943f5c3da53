"""Node names become unique, deterministically: the first node of a name keeps it, each later one gets the first
free `NAME_2`, `NAME_3`, ... in graph order. Names are keys (config layers, the report, the schedule)."""
from __future__ import annotations

from ..graph import Graph


def run(g: Graph, config) -> bool:
    taken = {n.name for n in g.nodes}
    seen: set[str] = set()
    changed = False
    for node in g.nodes:
        if node.name not in seen:
            seen.add(node.name)
            continue
        k = 2
        while f"{node.name}_{k}" in taken:
            k += 1
        node.name = f"{node.name}_{k}"
        taken.add(node.name)
        seen.add(node.name)
        changed = True
    return changed
