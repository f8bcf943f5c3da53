"""The search: each unit's candidate points are asked for once; a choice per unit meets the targets at least cost."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InfeasibleTarget
from ..ir.graph import Graph
from .cost import Composition, CostModel, UnitSpec
from .plan import Point, add_resources

# Cost weights where a board gives no budget for a resource (a DSP or a block RAM stands for many LUTs).
FALLBACK_WEIGHTS = {"lut": 1.0, "ff": 0.5, "dsp": 100.0, "bram": 200.0}


@dataclass
class Choice:
    units: list[UnitSpec]
    points: dict[str, dict[int, Point]]   # unit -> reuse -> point: every candidate, computed once
    chosen: dict[str, Point]
    design: Composition


def reuse_candidates(cap: int, *wanted: int | None) -> list[int]:
    """Powers of two up to the cap, the cap itself, and any reuse a target or the config asks for (capped)."""
    out, r = {1, cap}, 2
    while r < cap:
        out.add(r)
        r *= 2
    out.update(min(w, cap) for w in wanted if w)
    return sorted(out)


def weighted_cost(resources, budget: dict) -> float:
    """The fraction of the board a set of resources takes (summed over kinds); fixed weights where no budget."""
    return sum(v / budget[k] if budget.get(k) else v * FALLBACK_WEIGHTS.get(k, 1.0) for k, v in resources.items())


def search(g: Graph, cost: CostModel, budget: dict, fixed: dict[str, int], latency_target: int | None,
           ii_target: int | None, clock_ns: float) -> Choice:
    """Start fully parallel (or at the configured / II-allowed folding), then fold the unit whose next point saves
    the most while the design still meets the latency target. Raises InfeasibleTarget when no choice meets it."""
    units = cost.units(g)
    caps = {u.name: cost.max_reuse(g, u) for u in units}
    points = {u.name: cost.points(g, u, reuse_candidates(caps[u.name], ii_target, fixed.get(u.head)))
              for u in units}

    def point_at_most(u: UnitSpec, reuse: int) -> Point:
        return points[u.name][max(r for r in points[u.name] if r <= reuse)]

    chosen: dict[str, Point] = {}
    for u in units:
        if u.head in fixed:
            chosen[u.name] = point_at_most(u, fixed[u.head])
        elif ii_target and latency_target is None:  # II alone: the cheapest folding that keeps the II
            chosen[u.name] = min((p for p in points[u.name].values() if p.ii_cycles <= ii_target),
                                 key=lambda p: weighted_cost(p.resources, budget),
                                 default=points[u.name][1])
        elif latency_target is None:
            chosen[u.name] = point_at_most(u, cost.preferred_reuse(g, u))
        else:  # a latency target: the fastest first, then folded while the target holds
            chosen[u.name] = points[u.name][1]
    design = cost.compose(g, units, chosen)

    if ii_target is not None and design.ii_cycles > ii_target:
        worst = max(units, key=lambda u: chosen[u.name].ii_cycles)
        raise InfeasibleTarget(f"II {ii_target} is not reachable: best is {design.ii_cycles} cycles, "
                               f"bottleneck layer {worst.head!r} (reuse fixed by the config)")
    if latency_target is not None:
        if design.latency_cycles > latency_target:
            worst = max(critical_path(g, units, design), key=lambda u: design.unit_latency(u.name))
            raise InfeasibleTarget(
                f"latency target {latency_target} cycles ({latency_target * clock_ns:g} ns) is not reachable: "
                f"best is {design.latency_cycles} cycles ({design.latency_cycles * clock_ns:g} ns), "
                f"bottleneck layer {worst.head!r} ({design.unit_latency(worst.name)} cycles)")
        design = _fold_within(g, cost, units, points, chosen, fixed, budget, latency_target, ii_target)
    elif cost.always_check_budget and _over(cost, chosen, design, budget):
        design = _fold_to_fit(g, cost, units, points, chosen, fixed, budget, ii_target, design)
    return Choice(units, points, chosen, design)


def _totals(cost: CostModel, chosen: dict[str, Point], design: Composition) -> dict:
    return add_resources([p.resources for p in chosen.values()] + [design.buffer_resources or {}],
                         keys=cost.resource_keys)


def _over(cost: CostModel, chosen: dict[str, Point], design: Composition, budget: dict) -> dict:
    """How far each budgeted resource exceeds the board (only those that do)."""
    totals = _totals(cost, chosen, design)
    return {k: totals[k] - budget[k] for k in cost.resource_keys if budget.get(k) and totals[k] > budget[k]}


def _refoldings(units, points, chosen, fixed, ii_target):
    """(unit, its current point, a more folded point) for every unit the config leaves free, within the II."""
    for u in units:
        if u.head in fixed:
            continue
        current = chosen[u.name]
        for reuse in sorted(r for r in points[u.name] if r > current.reuse):
            nxt = points[u.name][reuse]
            if ii_target is not None and nxt.ii_cycles > ii_target:
                break
            yield u, current, nxt


def _fold_to_fit(g, cost, units, points, chosen, fixed, budget, ii_target, design) -> Composition:
    """No latency target, but the design does not fit a board whose budget is a hard limit (a microcontroller's
    flash): refold, the unit that takes back the most of the excess first, until it fits or nothing is left to
    fold (the caller then reports the excess)."""
    while True:
        excess = _over(cost, chosen, design, budget)
        if not excess:
            return design
        best = None
        for u, current, nxt in _refoldings(units, points, chosen, fixed, ii_target):
            gain = sum(min(current.resources.get(k, 0) - nxt.resources.get(k, 0), excess[k]) / budget[k]
                       for k in excess)
            if gain > 0 and (best is None or gain > best[0]):
                best = (gain, u.name, nxt)
        if best is None:
            return design
        _, name, nxt = best
        chosen[name] = nxt
        design = cost.compose(g, units, chosen)


def _fold_within(g, cost, units, points, chosen, fixed, budget, latency_target, ii_target) -> Composition:
    """Greedy: repeatedly take the one refolding of one unit (to any more folded point: a little folding can cost
    more than none, as multipliers replace a shift-add graph) that saves the most and still meets both targets."""
    design = cost.compose(g, units, chosen)
    while True:
        best = None
        for u, current, nxt in _refoldings(units, points, chosen, fixed, ii_target):
            saving = weighted_cost(current.resources, budget) - weighted_cost(nxt.resources, budget)
            if saving <= 0 or (best is not None and saving <= best[0]):
                continue
            trial = dict(chosen)
            trial[u.name] = nxt
            d = cost.compose(g, units, trial)
            if d.latency_cycles <= latency_target and (ii_target is None or d.ii_cycles <= ii_target):
                best = (saving, u.name, nxt, d)
        if best is None:
            return design
        _, name, nxt, design = best
        chosen[name] = nxt


def critical_path(g: Graph, units: list[UnitSpec], design: Composition) -> list[UnitSpec]:
    """The units on the longest path to an output, last first."""
    by_output = {u.output: u for u in units}

    def ready(t: str) -> int:
        return design.ready[by_output[t].name] if t in by_output else 0

    path, tensor = [], max(g.outputs, key=ready)
    while tensor in by_output:
        unit = by_output[tensor]
        path.append(unit)
        if not unit.inputs:
            break
        tensor = max(unit.inputs, key=ready)
    return path
