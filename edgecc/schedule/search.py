"""The search: every unit's candidate points are asked for once; one point per unit is chosen to meet the targets at
the least cost, within the board.

The cost of a design (what the scheduler minimizes, `weighted_cost`) is in LUT equivalents on an FPGA:

    cost = LUT + 0.5 FF + (board LUT / board DSP) DSP + (board LUT / board BRAM) BRAM

so a DSP slice or a block RAM weighs what the board has of LUTs per one of them (a Zynq-7020: 242 LUTs per DSP,
380 per BRAM; an iCE40 UP5K: 660 per DSP, 176 per EBR), and a flip-flop half a LUT (slices hold two per LUT). On a
microcontroller (flash, RAM) and for any resource a board gives no budget for, the fraction of the board (or a fixed
weight) is used.

How a choice is found, said in the schedule (`Schedule.solver`):
- "milp": exact. Where a design's latency is linear in its units' (a cost model's `latency_model` is "path": the
  input register plus the longest path of unit latencies; or "sum": units run one after another), the choice is a
  mixed-integer linear program solved by HiGHS (scipy.optimize.milp): one binary per (unit, point), a ready time per
  unit, the latency and II as variables; every resource within the board's budget. The composition the backend
  builds is then checked: where it needs more (a FIFO's cycle on a join, the registers that balance paths), that
  combination is cut off and the program solved again. Composed figures are never below the linear ones, so the
  first combination that passes is the optimum (after CUT_ROUNDS cuts the greedy search takes over).
- "greedy": where the latency comes from a cycle-exact model of the whole pipeline that is not linear (a streaming
  CNN's windows and line buffers; HLS dataflow), start from the fastest points and repeatedly take the one change of
  one unit that saves the most while the composed design still meets the targets.
- "preferred": no target and the default design (the fastest) fits the board: nothing to solve.

Objectives: with a latency or II target, the least cost that meets them; with none, the fastest design that fits
the board: the least II, then the least latency, then the least cost (three programs, each bounding the next).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InfeasibleTarget
from ..ir.graph import Graph
from .cost import Composition, CostModel, UnitSpec
from .plan import Point, add_resources

# Cost weights where a board gives no budget for a resource (a DSP or a block RAM stands for many LUTs).
FALLBACK_WEIGHTS = {"lut": 1.0, "ff": 0.5, "dsp": 100.0, "bram": 200.0}
FF_WEIGHT = 0.5          # a flip-flop in LUT equivalents (a slice has two per LUT)
MILP_TIME_LIMIT_S = 20.0
CUT_ROUNDS = 40          # re-solves after the composition needed more than the linear model said
GREEDY_POINTS = 24       # per unit, the candidates the greedy search walks (its Pareto front of II vs cost)


def weighted_cost(resources, budget: dict) -> float:
    """A design's cost: LUT equivalents on an FPGA (see the module docstring), else the fraction of the board
    (summed over kinds), with fixed weights where the board has no budget."""
    if budget.get("lut"):
        total = 0.0
        for k, v in resources.items():
            if k == "lut":
                total += v
            elif k == "ff":
                total += FF_WEIGHT * v
            elif budget.get(k):
                total += v * budget["lut"] / budget[k]
            else:
                total += v * FALLBACK_WEIGHTS.get(k, 1.0)
        return total
    return sum(v / budget[k] if budget.get(k) else v * FALLBACK_WEIGHTS.get(k, 1.0) for k, v in resources.items())


def reuse_candidates(cap: int, *wanted: int | None) -> list[int]:
    """Powers of two up to the cap, the cap itself, and any reuse a target or the config asks for (capped)."""
    out, r = {1, cap}, 2
    while r < cap:
        out.add(r)
        r *= 2
    out.update(min(w, cap) for w in wanted if w)
    return sorted(out)


@dataclass
class Choice:
    units: list[UnitSpec]
    candidates: dict[str, list[Point]]   # unit -> every point it may take (computed once)
    chosen: dict[str, Point]
    design: Composition
    solver: str = "preferred"
    objective: str = "fastest"
    notes: list[str] = field(default_factory=list)


# ---- candidates --------------------------------------------------------------------------------------------------
def unit_candidates(g: Graph, cost: CostModel, unit: UnitSpec, layer_config, ii_target: int | None = None
                    ) -> list[Point]:
    """The unit's points as the cost model offers them (and the reuse an II target names, so II 6 can be exactly
    6), narrowed to what the config fixes (a reuse factor: the most folded of the reuse-style points at or below
    it, as hls4ml reads it)."""
    points = list(cost.candidates(g, unit, layer_config))
    if ii_target and len(points) > 1 and not any(p.ii_cycles == ii_target for p in points):
        cap = cost.max_reuse(g, unit)
        points += [p for p in cost.points(g, unit, [min(ii_target, cap)]).values()
                   if all(p != q for q in points)]
    fixed = getattr(layer_config, "reuse_factor", None) if layer_config is not None else None
    if fixed and len(points) > 1:
        reuse_style = [p for p in points if p.microarch != "pe_array" and p.reuse <= fixed] or \
            [p for p in points if p.reuse <= fixed] or [min(points, key=lambda p: p.reuse)]
        top = max(p.reuse for p in reuse_style)
        points = [p for p in reuse_style if p.reuse == top]
    return points


def preferred_point(cost: CostModel, g: Graph, unit: UnitSpec, points: list[Point]) -> Point:
    """The point the cost model takes where nothing decides: its preferred reuse among the reuse-style points."""
    if len(points) == 1:
        return points[0]
    want = cost.preferred_reuse(g, unit)
    plain = [p for p in points if p.microarch != "pe_array"] or points
    at_most = [p for p in plain if p.reuse <= want] or plain
    top = max(p.reuse for p in at_most)
    return min((p for p in at_most if p.reuse == top), key=lambda p: (p.latency_cycles, p.ii_cycles))


# ---- the search --------------------------------------------------------------------------------------------------
def search(g: Graph, cost: CostModel, budget: dict, config, latency_target: int | None, ii_target: int | None,
           clock_ns: float, board_name: str = "the board") -> Choice:
    units = cost.units(g)
    cands = {u.name: unit_candidates(g, cost, u, config.layer(u.head) if config is not None else None, ii_target)
             for u in units}
    budget = {k: v for k, v in budget.items() if k in cost.resource_keys and v}
    solver = _Solver(g, cost, units, cands, budget, clock_ns, board_name)

    if latency_target is None and ii_target is None:
        chosen = {u.name: preferred_point(cost, g, u, cands[u.name]) for u in units}
        design = cost.compose(g, units, chosen)
        if not solver.over(chosen, design):
            return Choice(units, cands, chosen, design, "preferred", "fastest")
        return solver.fastest_that_fits()
    return solver.cheapest(latency_target, ii_target)


class _Solver:
    def __init__(self, g, cost, units, cands, budget, clock_ns, board_name):
        self.g, self.cost, self.units, self.cands = g, cost, units, cands
        self.budget, self.clock_ns, self.board_name = budget, clock_ns, board_name
        self.model = getattr(cost, "latency_model", None)
        self.notes: list[str] = []
        self.offset = getattr(cost, "latency_offset", 1)

    # -- checks -----------------------------------------------------------------------------------------------
    def totals(self, chosen: dict, design: Composition):
        return add_resources([p.resources for p in chosen.values()] + [design.buffer_resources or {}],
                             keys=self.cost.resource_keys)

    def over(self, chosen: dict, design: Composition) -> dict:
        totals = self.totals(chosen, design)
        return {k: totals[k] - self.budget[k] for k in self.budget if totals[k] > self.budget[k]}

    def meets(self, design: Composition, latency: int | None, ii: int | None) -> bool:
        return (latency is None or design.latency_cycles <= latency) and (ii is None or design.ii_cycles <= ii)

    # -- objectives -------------------------------------------------------------------------------------------
    def cheapest(self, latency: int | None, ii: int | None) -> Choice:
        found = self._solve(latency, ii, "cost")
        if found is None:
            self._explain(latency, ii)
        return found

    def fastest_that_fits(self) -> Choice:
        found = self._solve(None, None, "fastest")
        if found is None:
            self._explain(None, None)
        # the fastest II's latency comes from the first combination that composed within the board; another one
        # whose linear latency was no better may compose faster (fewer FIFO cycles): ask for one cycle less until
        # there is none
        while self.model in ("path", "sum"):
            faster = self._solve(found.design.latency_cycles - 1, found.design.ii_cycles, "cost")
            if faster is None or faster.design.latency_cycles >= found.design.latency_cycles:
                break
            found = replace(faster, objective="fastest")
        return found

    def _solve(self, latency, ii, objective) -> Choice | None:
        if self.model in ("path", "sum"):
            return self._milp(latency, ii, objective)
        return self._greedy(latency, ii, objective)

    # -- exact: a mixed-integer linear program ----------------------------------------------------------------
    def _milp(self, latency, ii, objective) -> Choice | None:
        """Solve, compose, check; cut off each combination seen and bound the points' cost below the best design's
        whole cost (its buffers included) until nothing cheaper is left: the optimum of the composed designs."""
        program = _Program(self, latency, ii)
        best = None   # (cost with buffers, chosen, design)
        for _ in range(CUT_ROUNDS):
            chosen = program.solve(objective if best is None else "cost")
            if chosen is None:
                break
            program.cuts.append(chosen)
            design = self.cost.compose(self.g, self.units, chosen)
            if self.over(chosen, design) or not self.meets(design, program.latency, program.ii):
                continue   # the composition needs more than the linear model said (a FIFO's cycle at a join)
            whole = weighted_cost(self.totals(chosen, design), self.budget)
            if best is None or whole < best[0]:
                best = (whole, chosen, design)
            if best is not None and objective != "cost" and program.fixed is None:
                # the fastest found: keep its II and latency, then look for the least cost at them
                program.fixed = (design.ii_cycles, design.latency_cycles)
                program.ii, program.latency = design.ii_cycles, design.latency_cycles
            program.cost_cap = best[0] * (1 - 1e-9) - 1e-9
        else:
            self.notes.append(f"stopped after {CUT_ROUNDS} rounds of cuts: the best design found is not proven "
                              "optimal")
        if best is None:
            return None if not self.notes else self._greedy(latency, ii, objective)
        return Choice(self.units, self.cands, best[1], best[2], "milp", "cost" if objective == "cost" else "fastest",
                      list(self.notes))

    # -- heuristic: greedy refolding with the composition as the oracle ---------------------------------------
    def _front(self, name: str) -> list[Point]:
        """The unit's points that no faster-or-equal point beats on cost, fastest first (at most GREEDY_POINTS)."""
        pts = sorted(self.cands[name], key=lambda p: (p.ii_cycles, p.latency_cycles, self._cost(p)))
        front, best = [], math.inf
        for p in pts:
            c = self._cost(p)
            if c < best:
                front.append(p)
                best = c
        if len(front) > GREEDY_POINTS:
            step = (len(front) - 1) / (GREEDY_POINTS - 1)
            front = [front[round(i * step)] for i in range(GREEDY_POINTS)]
        return front

    def _cost(self, p: Point) -> float:
        return weighted_cost(p.resources, self.budget)

    def _greedy(self, latency, ii, objective) -> Choice | None:
        fronts = {u.name: self._front(u.name) for u in self.units}
        chosen = {u.name: fronts[u.name][0] for u in self.units}
        design = self.cost.compose(self.g, self.units, chosen)
        if objective == "cost":
            if not self.meets(design, latency, ii):
                return None
            design = self._fold_while(chosen, design, fronts, lambda d: self.meets(d, latency, ii), fit=False)
        # fold (keeping the targets, if any) until the board holds it: the change that takes back most per cost
        design = self._fold_while(chosen, design, fronts, lambda d: self.meets(d, latency, ii), fit=True)
        if self.over(chosen, design) or not self.meets(design, latency, ii):
            return None
        return Choice(self.units, self.cands, chosen, design, "greedy", "cost" if objective == "cost" else "fastest")

    def _fold_while(self, chosen, design, fronts, ok, fit: bool) -> Composition:
        """Refold one unit at a time while `ok` holds. To fit the board (`fit`): one step down a unit's front (the
        next slower point), the step that takes back the most of the excess per unit of speed lost first. To save
        cost: the change to any point of one unit that saves the most."""
        while True:
            excess = self.over(chosen, design) if fit else None
            if fit and not excess:
                return design
            best = None
            for u in self.units:
                current = chosen[u.name]
                front = fronts[u.name]
                if fit:
                    at = next((i for i, p in enumerate(front) if p is current), None)
                    moves = front[at + 1:at + 2] if at is not None else [p for p in front
                                                                          if p.ii_cycles > current.ii_cycles][:1]
                else:
                    moves = [p for p in front if p is not current]
                for nxt in moves:
                    if fit:
                        gain = sum(min(current.resources.get(k, 0) - nxt.resources.get(k, 0), excess[k])
                                   / self.budget[k] for k in excess)
                    else:
                        gain = self._cost(current) - self._cost(nxt)
                    if gain <= 0:
                        continue
                    trial = dict(chosen)
                    trial[u.name] = nxt
                    d = self.cost.compose(self.g, self.units, trial)
                    if not ok(d):
                        continue
                    score = gain
                    if fit:   # speed lost: the relative growth of II and latency
                        slower = max(0, d.ii_cycles - design.ii_cycles) / max(1, design.ii_cycles) + \
                            max(0, d.latency_cycles - design.latency_cycles) / max(1, design.latency_cycles)
                        score = gain / (slower + 1e-3)
                    if best is None or score > best[0]:
                        best = (score, u.name, nxt, d)
            if best is None:
                return design
            _, name, nxt, design = best
            chosen[name] = nxt

    # -- when nothing is found: say why ----------------------------------------------------------------------
    def _exceeds(self, key: str, chosen: dict, design: Composition, context: str = "") -> str:
        """"estimated KEY n exceeds BOARD's b; <what takes it>" for a chosen design."""
        total = self.totals(chosen, design)[key]
        worst = max(self.units, key=lambda u: chosen[u.name].resources.get(key, 0))
        if chosen[worst.name].resources.get(key, 0):
            culprit = f"largest layer {worst.head!r} ({chosen[worst.name].resources.get(key, 0)})"
        else:   # the design's own (an MCU's arena of activations): the largest activation names it
            out = max((n for n in self.g.compute_nodes()), key=lambda n: self.g.tensor(n.output).size)
            culprit = (f"the activations between layers take it (the largest: the output of {out.name!r}, "
                       f"{self.g.tensor(out.output).size} values)")
        return f"estimated {key.upper()} {total} exceeds {self.board_name}'s {self.budget[key]}{context}; {culprit}"

    def _explain(self, latency, ii):
        """Raise InfeasibleTarget with the best achievable figures and the resource that binds."""
        unbounded = _Solver(self.g, self.cost, self.units, self.cands, {}, self.clock_ns, self.board_name)
        # 1. a resource that even the smallest point of every unit overflows
        smallest = {u.name: {k: min(p.resources.get(k, 0) for p in self.cands[u.name]) for k in self.budget}
                    for u in self.units}
        for k in self.budget:
            if sum(sm[k] for sm in smallest.values()) > self.budget[k]:
                least = {u.name: min(self.cands[u.name], key=lambda p: p.resources.get(k, 0)) for u in self.units}
                design = self.cost.compose(self.g, self.units, least)
                raise InfeasibleTarget(f"{self._exceeds(k, least, design)}, with every layer folded as far as it "
                                       f"goes: {k.upper()} binds")
        # 2. targets that no design meets, whatever the board
        best = unbounded._solve(None, None, "fastest")
        if best is None:  # no freedom at all: the first point of every unit
            chosen = {u.name: self.cands[u.name][0] for u in self.units}
            best = Choice(self.units, self.cands, chosen, self.cost.compose(self.g, self.units, chosen))
        d = best.design
        if latency is not None and d.latency_cycles > latency:
            path = critical_path(self.g, self.units, d)
            worst = max(path, key=lambda u: d.unit_latency(u.name)) if path else None
            where = f", bottleneck layer {worst.head!r} ({d.unit_latency(worst.name)} cycles)" if worst else ""
            raise InfeasibleTarget(
                f"latency target {latency} cycles ({latency * self.clock_ns:g} ns) is not reachable: best is "
                f"{d.latency_cycles} cycles ({d.latency_cycles * self.clock_ns:g} ns){where}")
        if ii is not None and d.ii_cycles > ii:
            worst = max(self.units, key=lambda u: best.chosen[u.name].ii_cycles)
            raise InfeasibleTarget(f"II {ii} is not reachable: best is {d.ii_cycles} cycles, bottleneck layer "
                                   f"{worst.head!r} (its folding is fixed by the config)")
        # 3. reachable, not on this board: the resource that binds in the cheapest design that meets the targets
        wanted = unbounded._solve(latency, ii, "cost") if (latency or ii) else None
        chosen, design = (wanted.chosen, wanted.design) if wanted else (best.chosen, d)
        totals = self.totals(chosen, design)
        key = max(self.budget, key=lambda k: totals[k] / self.budget[k])
        asked = ", ".join(x for x in (f"latency {latency} cycles" if latency else "",
                                      f"II {ii}" if ii else "") if x)
        message = self._exceeds(key, chosen, design, f" for {asked}" if asked else "") + f"; {key.upper()} binds"
        fit = self._solve(None, None, "fastest")
        if fit is not None:
            message += (f"; the fastest design within the board: latency {fit.design.latency_cycles} cycles, "
                        f"II {fit.design.ii_cycles}")
        raise InfeasibleTarget(message)


class _Program:
    """One mixed-integer linear program over the units' candidate points (see the module docstring)."""

    def __init__(self, solver: _Solver, latency: int | None, ii: int | None):
        self.s, self.latency, self.ii = solver, latency, ii
        self.cuts: list[dict] = []   # combinations already composed
        self.cost_cap: float | None = None   # the points' cost must stay below the best design's whole cost
        self.fixed = None            # the fastest (II, latency) found, once found

    def solve(self, objective: str) -> dict | None:
        if objective == "cost":
            return self._run("cost", None, None)
        if self.s.model == "sum":   # one unit after another: the latency is the II
            found = self._run("latency", None, None)
            return found and (self._run("cost", None, self._latency_of(found)) or found)
        found = self._run("ii", None, None)
        if found is None:
            return None
        best_ii = max(p.ii_cycles for p in found.values())
        found = self._run("latency", best_ii, None) or found
        best_lat = self._latency_of(found)
        return self._run("cost", best_ii, best_lat) or found

    def _latency_of(self, chosen: dict) -> int:
        s = self.s
        if s.model == "sum":
            return sum(p.latency_cycles for p in chosen.values())
        ready = {}
        producer = {u.output: u.name for u in s.units}
        for u in s.units:
            ready[u.name] = max((ready[producer[t]] for t in u.inputs if t in producer), default=0) \
                + chosen[u.name].latency_cycles
        return max([ready[producer[t]] for t in s.g.outputs if t in producer] or [0])

    def _run(self, objective: str, ii_cap: int | None, lat_cap: int | None) -> dict | None:
        from scipy.optimize import Bounds, LinearConstraint, milp

        s = self.s
        ii_bound = min(x for x in (self.ii, ii_cap) if x is not None) if (self.ii or ii_cap) else None
        lat_bound = None
        if self.latency is not None:
            lat_bound = self.latency - s.offset
        if lat_cap is not None:
            lat_bound = lat_cap if lat_bound is None else min(lat_bound, lat_cap)
        if lat_bound is not None and lat_bound < 0:
            return None
        # variables: x (one per unit point), t (a ready time per unit), L, I
        index, points = [], []
        for u in s.units:
            for p in s.cands[u.name]:
                if ii_bound is not None and p.ii_cycles > ii_bound:
                    continue
                index.append(u.name)
                points.append(p)
        nx, nu = len(points), len(s.units)
        unit_pos = {u.name: i for i, u in enumerate(s.units)}
        if any(u.name not in index for u in s.units):
            return None
        t0, L, I = nx, nx + nu, nx + nu + 1
        n = nx + nu + 2
        rows, lo, hi = [], [], []

        def row(coeffs: dict, low: float, high: float):
            r = np.zeros(n)
            for j, c in coeffs.items():
                r[j] += c
            rows.append(r)
            lo.append(low)
            hi.append(high)

        for u in s.units:   # one point per unit
            row({j: 1 for j, name in enumerate(index) if name == u.name}, 1, 1)
        lat = {j: p.latency_cycles for j, p in enumerate(points)}
        producer = {u.output: u.name for u in s.units}
        if s.model == "path":
            for u in s.units:
                mine = {j: -lat[j] for j, name in enumerate(index) if name == u.name}
                sources = [producer[t] for t in u.inputs if t in producer] or [None]
                for v in dict.fromkeys(sources):
                    coeffs = {t0 + unit_pos[u.name]: 1, **mine}
                    if v is not None:
                        coeffs[t0 + unit_pos[v]] = -1
                    row(coeffs, 0, np.inf)        # t_u >= t_v + latency of u's point
            outs = [producer[t] for t in s.g.outputs if t in producer]
            for v in dict.fromkeys(outs):
                row({L: 1, t0 + unit_pos[v]: -1}, 0, np.inf)
        else:
            row({L: 1, **{j: -lat[j] for j in range(nx)}}, 0, np.inf)
        for u in s.units:   # I >= the II of every unit's point
            row({I: 1, **{j: -points[j].ii_cycles for j, name in enumerate(index) if name == u.name}}, 0, np.inf)
        for k, cap in s.budget.items():
            row({j: p.resources.get(k, 0) for j, p in enumerate(points)}, -np.inf, cap)
        if self.cost_cap is not None:
            row({j: s._cost(p) for j, p in enumerate(points)}, -np.inf, self.cost_cap)
        for cut in self.cuts:   # not this combination again: at most nu - 1 of its points
            picked = {j for j, (name, p) in enumerate(zip(index, points)) if cut.get(name) is p}
            if len(picked) == nu:
                row(dict.fromkeys(picked, 1), -np.inf, nu - 1)
        upper = np.full(n, np.inf)
        upper[:nx] = 1
        if lat_bound is not None:
            upper[L] = lat_bound
        if ii_bound is not None:
            upper[I] = ii_bound
        c = np.zeros(n)
        if objective == "cost":
            costs = np.array([s._cost(p) for p in points])
            c[:nx] = costs
            # ties: the faster design (a weight on latency and II that stays below a millionth of the smallest cost)
            positive = costs[costs > 0]
            span = sum(max(p.latency_cycles + p.ii_cycles for p in s.cands[u.name]) for u in s.units) or 1
            c[L] = c[I] = 1e-6 * (float(positive.min()) if positive.size else 1.0) / span
        elif objective == "ii":
            c[I] = 1.0
            c[L] = 1e-7
        else:
            c[L] = 1.0
        integrality = np.zeros(n)
        integrality[:nx] = 1
        res = milp(c, constraints=LinearConstraint(np.array(rows), lo, hi), integrality=integrality,
                   bounds=Bounds(np.zeros(n), upper), options={"time_limit": MILP_TIME_LIMIT_S})
        if res.x is None:
            return None
        chosen = {}
        for j, name in enumerate(index):
            if res.x[j] > 0.5:
                chosen[name] = points[j]
        return chosen if len(chosen) == nu else None


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
