"""A latency sweep: the scheduler's choice at targets from the fastest design that fits the board to the most
folded (cheapest) one, the Pareto curve of latency against cost, as a table, JSON and a PNG."""
from __future__ import annotations

import json
import math
import os

from ..errors import InfeasibleTarget
from . import Targets, schedule_graph

BIG = 1 << 40   # a latency target no design misses: the cheapest design


def _row(s, target) -> dict:
    return {"target_cycles": target, "latency_cycles": s.latency_cycles, "latency_ns": s.latency_cycles * s.clock_ns,
            "ii_cycles": s.ii_cycles, "cost": s.cost, "resources": dict(s.resources), "solver": s.solver,
            "composition": s.composition,
            "layers": [{"name": l.name, "microarch": l.microarch, "folding": l.folding, "ii_cycles": l.ii_cycles}
                       for l in s.layers if l.microarch not in ("fused", "wiring")]}


def targets_between(fast: int, slow: int, points: int) -> list[int]:
    """`points` latency targets from fast to slow, geometrically spaced (whole cycles, no repeats)."""
    if slow <= fast or points < 2:
        return [fast]
    ratio = (slow / fast) ** (1 / (points - 1))
    out = sorted({min(slow, max(fast, round(fast * ratio ** i))) for i in range(points)})
    return out


def run_sweep(g, cost_model, board, config, points: int = 12, clock_ns: float | None = None, options=None) -> dict:
    fastest = schedule_graph(g, cost_model, board, config, Targets(clock_ns=clock_ns), options)
    cheapest = schedule_graph(g, cost_model, board, config, Targets(clock_ns=clock_ns, latency_cycles=BIG), options)
    rows = []
    for t in targets_between(fastest.latency_cycles, max(cheapest.latency_cycles, fastest.latency_cycles), points):
        try:
            s = schedule_graph(g, cost_model, board, config, Targets(clock_ns=clock_ns, latency_cycles=t), options)
        except InfeasibleTarget as e:
            rows.append({"target_cycles": t, "error": str(e)})
            continue
        rows.append(_row(s, t))
    feasible = [r for r in rows if "error" not in r]
    pareto, best = [], math.inf
    for r in sorted(feasible, key=lambda r: (r["latency_cycles"], r["cost"])):
        if r["cost"] < best:
            pareto.append(r)
            best = r["cost"]
    monotone = all(b["cost"] <= a["cost"] + 1e-9 for a, b in zip(feasible, feasible[1:]))
    return {"board": board.name, "clock_ns": fastest.clock_ns, "budget": dict(board.resources),
            "fastest": _row(fastest, None), "cheapest": _row(cheapest, None), "points": rows, "pareto": pareto,
            "cost_monotone": monotone}


def table(result: dict) -> str:
    keys = list(result["fastest"]["resources"])
    measured = any("measured" in r for r in result["points"])
    head = f"{'target':>9} {'latency':>9} {'II':>7} {'cost':>10} " + " ".join(f"{k.upper():>7}" for k in keys) + \
        "  solver" + ("  measured latency/II (mismatches)" if measured else "")
    lines = [head]
    for r in result["points"]:
        if "error" in r:
            lines.append(f"{r['target_cycles']:>9} {'-':>9}  {r['error']}")
            continue
        lines.append(f"{r['target_cycles']:>9} {r['latency_cycles']:>9} {r['ii_cycles']:>7} {r['cost']:>10.1f} "
                     + " ".join(f"{r['resources'][k]:>7}" for k in keys) + f"  {r['solver']:<6}"
                     + (f"  {r['measured']['latency_cycles']}/{r['measured']['ii_cycles']} "
                        f"({r['measured']['mismatches']})" if "measured" in r else ""))
    return "\n".join(lines)


def write_sweep(result: dict, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "sweep.json"), "w", newline="\n") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    plot(result, os.path.join(out, "sweep.png"))


def plot(result: dict, path: str) -> None:
    """The Pareto curve (latency in cycles against cost, every point swept marked) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401

    feasible = [r for r in result["points"] if "error" not in r]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    ax.scatter([r["latency_cycles"] for r in feasible], [r["cost"] for r in feasible], s=18, color="#999999",
               label="scheduled points", zorder=2)
    front = result["pareto"]
    ax.step([r["latency_cycles"] for r in front], [r["cost"] for r in front], where="post", color="#1f77b4",
            marker="o", label="Pareto front", zorder=3)
    if feasible and max(r["latency_cycles"] for r in feasible) > 4 * min(r["latency_cycles"] for r in feasible):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(f"latency (cycles at {result['clock_ns']:g} ns)")
    ax.set_ylabel("cost (LUT equivalents)" if result["budget"].get("lut") else "cost (fraction of the board)")
    ax.set_title(f"{os.path.basename(str(result.get('model', '')))} on {result['board']} ({result.get('backend', '')})")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
