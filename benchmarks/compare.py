"""The table the peer benchmarks print: one row per metric, the peer's figure, edgecc's and their ratio."""
from __future__ import annotations

import importlib.util
import os
import time

import numpy as np

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load_example(name: str):
    """examples/<name>.py as a module (the script that builds an example model)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn, *args, **kwargs):
    """fn's value and the seconds it took."""
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else (f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}")
    return str(v)


def make_row(metric: str, peer, ecc, note: str = "") -> dict:
    """A row; the ratio edgecc / peer where both are numbers."""
    ratio = ecc / peer if isinstance(peer, (int, float)) and isinstance(ecc, (int, float)) and peer else None
    return {"metric": metric, "peer": peer, "edgecc": ecc, "ratio": ratio, "note": note}


def format_table(rows: list[dict], peer: str) -> str:
    head = ["metric", peer, "edgecc", f"ratio (edgecc/{peer})"]
    body = [[r["metric"], fmt(r["peer"]), fmt(r["edgecc"]), "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"]
            for r in rows]
    widths = [max(len(str(c[i])) for c in [head] + body) for i in range(len(head))]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(head), "  ".join("-" * w for w in widths)] + [line(b) for b in body])
