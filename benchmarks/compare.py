"""The table the peer benchmarks print: one row per metric, the peer's figure, edgecc's and their ratio."""
from __future__ import annotations

import contextlib
import importlib.util
import json
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


@contextlib.contextmanager
def environ(**values):
    """Temporarily set environment variables (restored afterwards, also on errors)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def hls4ml_ready_onnx(path: str):
    """A QONNX file as hls4ml 1.3's ONNX flow takes it: qonnx cleanup (which also names every node: hls4ml crashes
    on unnamed ones), channels-last, Gemm -> MatMul, cleanup again."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(onnx.load(path)))
    model = model.transform(ConvertToChannelsLastAndClean())
    return cleanup_model(model.transform(GemmToMatMul()))


def write_json(path: str, result: dict, root: str) -> None:
    """A benchmark's result as JSON (numpy scalars as numbers), and where it went."""
    with open(path, "w") as f:
        json.dump(result, f, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
        f.write("\n")
    print(f"wrote {os.path.relpath(path, root)}")


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
