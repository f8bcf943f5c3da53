"""The exact scheduler: the choice it makes is the optimum an exhaustive enumeration finds; the cost never rises as a
latency target relaxes; with no target, the fastest design that fits the board; nothing fits: exit 3 naming what
binds."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest

import edgecc
from edgecc.boards import get_board
from edgecc.config import CompileConfig
from edgecc.errors import InfeasibleTarget
from edgecc.schedule import Targets, schedule_graph
from edgecc.schedule.hls import HlsCostModel
from edgecc.schedule.rtl import RtlCostModel
from edgecc.schedule.search import unit_candidates, weighted_cost
from edgecc.schedule.plan import add_resources
from models import qonnx_mlp


@pytest.fixture(scope="module")
def small():
    return edgecc.load(qonnx_mlp(sizes=(6, 5, 4, 3), seed=7))


def _exhaustive(g, cost_model, board, latency, ii):
    """Every combination of every unit's candidates, composed exactly: the least cost that meets the targets and
    fits the board (None if none does)."""
    cost = cost_model.for_board(board, board.clock_ns)
    units = cost.units(g)
    cands = [unit_candidates(g, cost, u, None, ii) for u in units]
    budget = {k: v for k, v in board.resources.items() if v}
    best = None
    for combo in itertools.product(*cands):
        chosen = {u.name: p for u, p in zip(units, combo)}
        d = cost.compose(g, units, chosen)
        if (latency is not None and d.latency_cycles > latency) or (ii is not None and d.ii_cycles > ii):
            continue
        total = add_resources([p.resources for p in combo] + [d.buffer_resources or {}], keys=cost.resource_keys)
        if any(total[k] > budget[k] for k in budget if k in total):
            continue
        c = weighted_cost(total, budget)
        best = c if best is None else min(best, c)
    return best, [len(c) for c in cands]


@pytest.mark.parametrize("cost_model", [RtlCostModel, HlsCostModel], ids=lambda c: c.backend)
def test_the_chosen_cost_is_the_exhaustive_optimum(small, cost_model):
    board = get_board("zcu104")
    fast = schedule_graph(small, cost_model, board, CompileConfig())
    checked = 0
    for latency in (fast.latency_cycles, fast.latency_cycles + 3, fast.latency_cycles + 9, 4 * fast.latency_cycles,
                    10**6):
        for ii in (None, 2, 5):
            best, sizes = _exhaustive(small, cost_model, board, latency, ii)
            assert max(sizes) > 2   # a real choice per layer
            if best is None:
                with pytest.raises(InfeasibleTarget):
                    schedule_graph(small, cost_model, board, CompileConfig(), Targets(latency_cycles=latency, ii=ii))
                continue
            s = schedule_graph(small, cost_model, board, CompileConfig(), Targets(latency_cycles=latency, ii=ii))
            assert s.solver == "milp" and s.objective == "cost"
            assert s.latency_cycles <= latency and (ii is None or s.ii_cycles <= ii)
            assert s.cost == pytest.approx(best, abs=0.11), (latency, ii)  # the schedule's cost is rounded to 0.1
            checked += 1
    assert checked >= 8


def test_cost_never_rises_as_the_latency_target_relaxes():
    g = edgecc.load(qonnx_mlp(sizes=(16, 64, 32, 5), seed=1))
    result = edgecc.sweep(g, backend="rtl", board="pynq-z2", points=10)
    rows = [r for r in result["points"] if "error" not in r]
    assert len(rows) >= 8 and result["cost_monotone"]
    for a, b in zip(rows, rows[1:]):
        assert b["target_cycles"] > a["target_cycles"] and b["cost"] <= a["cost"]
        assert a["latency_cycles"] <= a["target_cycles"]
    assert rows[-1]["cost"] < rows[0]["cost"]


def test_no_target_is_the_fastest_design_that_fits_the_board():
    g = edgecc.load(qonnx_mlp(sizes=(16, 64, 32, 32, 5), seed=2))
    big = get_board("zcu104")
    parallel = schedule_graph(g, RtlCostModel, big, CompileConfig())
    assert parallel.solver == "preferred" and parallel.ii_cycles == 1
    small = get_board("pynq-z2")
    budget = small.resources["lut"]
    if parallel.resources["lut"] <= budget:
        pytest.skip("the parallel design fits the smaller board too")
    fitted = schedule_graph(g, RtlCostModel, small, CompileConfig())
    assert fitted.solver == "milp" and fitted.objective == "fastest"
    assert all(fitted.resources[k] <= v for k, v in small.resources.items() if v)
    # no design that fits has a smaller II, nor (at that II) a smaller latency. Without a target the candidates
    # fold by powers of two; an II target adds its own reuse (a reuse-6 layer can fit where no power of two does)
    for ii in (r for r in (1, 2, 4, 8, 16, 32, 64) if r < fitted.ii_cycles):
        with pytest.raises(InfeasibleTarget):
            schedule_graph(g, RtlCostModel, small, CompileConfig(), Targets(ii=ii))
    with pytest.raises(InfeasibleTarget):
        schedule_graph(g, RtlCostModel, small, CompileConfig(),
                       Targets(ii=fitted.ii_cycles, latency_cycles=fitted.latency_cycles - 1))


def test_a_target_the_board_cannot_hold_names_the_resource_that_binds(small):
    board = get_board("icebreaker")
    with pytest.raises(InfeasibleTarget, match=r"exceeds icebreaker's \d+ for II 1; largest layer .*; \w+ binds"):
        schedule_graph(edgecc.load(qonnx_mlp(sizes=(16, 64, 32, 5), seed=1)), RtlCostModel, board, CompileConfig(),
                       Targets(ii=1))
    with pytest.raises(InfeasibleTarget, match=r"latency target 2 cycles .* not reachable: best is \d+ cycles"):
        schedule_graph(small, RtlCostModel, board, CompileConfig(), Targets(latency_cycles=2))


def test_the_cli_prints_the_schedule_and_exits_3_when_nothing_fits(tmp_path):
    model = tmp_path / "mlp.onnx"
    import onnx

    onnx.save(qonnx_mlp(sizes=(16, 64, 32, 5), seed=1), model)
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-m", "edgecc", "compile", str(model), "-b", "rtl", "--board", "pynq-z2",
                           "-o", str(out), "--latency-cycles", "60"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "folding" in proc.stdout and "schedule: least cost within the targets; solved exact (MILP" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["schedule"]["solver"] == "milp" and report["latency_cycles"] <= 60
    bad = tmp_path / "bad"
    proc = subprocess.run([sys.executable, "-m", "edgecc", "compile", str(model), "-b", "rtl", "--board", "icebreaker",
                           "-o", str(bad), "--ii", "1"], capture_output=True, text=True)
    assert proc.returncode == 3 and "binds" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not bad.exists()


def test_sweep_writes_json_and_png(tmp_path):
    model = tmp_path / "mlp.onnx"
    import onnx

    onnx.save(qonnx_mlp(sizes=(16, 32, 5), seed=3), model)
    proc = subprocess.run([sys.executable, "-m", "edgecc", "sweep", str(model), "--board", "pynq-z2", "--points", "8",
                           "-o", str(tmp_path / "sw")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert len(data["points"]) >= 2 and data["pareto"] and data["cost_monotone"]
    png = (tmp_path / "sw" / "sweep.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert "Pareto front" in proc.stdout


def test_hls_reads_an_rtl_folding_as_the_reuse_factor_with_as_many_multipliers():
    from edgecc.config import LayerConfig

    g = edgecc.load(qonnx_mlp(sizes=(16, 12, 6), seed=3, layer_names=["fc1", "fc2"]))
    cfg = CompileConfig(layers={"fc1": LayerConfig(pe=4, simd=2)})
    s = schedule_graph(g, HlsCostModel, get_board("zcu104"), cfg)
    assert s.unit("fc1").point.reuse == (16 * 12) // (4 * 2)   # 8 multipliers for 192 products
