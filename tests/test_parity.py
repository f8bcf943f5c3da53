"""Parity: every IR op x every backend x the suite. A backend without an emitter for an op, an op no suite model
exercises, or a suite case that is not bit-exact on a backend is a failing test here, not a gap in a README."""
from __future__ import annotations

import pytest

import edgecc
from conftest import require_tool
from edgecc.backends import available
from edgecc.ir.ops import OPS
from helpers import probe_inputs
from suite import cases

BACKENDS = sorted(available())
CASES = cases()
N = 1000


def ops_of(graph) -> set[str]:
    return {n.op for n in graph.compute_nodes()}


@pytest.fixture(scope="module")
def suite_ops() -> dict[str, set[str]]:
    return {name: ops_of(case.graph()) for name, case in CASES.items()}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", sorted(OPS))
def test_every_ir_op_has_an_emitter_on_every_backend(op, backend):
    assert op in available()[backend].ops(), f"the {backend} backend has no emitter for IR op {op}"


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_ir_op_is_exercised_by_the_suite(op, suite_ops):
    users = sorted(name for name, ops in suite_ops.items() if op in ops)
    assert users, f"no suite case exercises IR op {op}"


@pytest.mark.parametrize("name, backend", [(name, backend) for name in sorted(CASES) for backend in BACKENDS
                                           if CASES[name].runs_on(available()[backend])])
def test_suite_case_is_bit_exact_on_every_backend(name, backend, tmp_path):
    """The backend's own simulator (C simulation, Verilator) against the golden model, on inputs with rounding
    ties, saturation and negatives; a cycle-accurate simulator's latency and II must be the predicted ones."""
    for tool in available()[backend].sim_tools:
        require_tool(tool)
    case = CASES[name]
    graph = case.graph()
    project = edgecc.compile(graph, backend=backend, out=str(tmp_path / name),
                             **case.options_for(available()[backend]))
    result = project.run_result(probe_inputs(graph, N, seed=len(name)))
    result.check()  # raises MismatchError on any differing output, or on a latency/II other than predicted
    assert result.vectors == N and result.mismatches == 0
    assert project.report["sim"]["mismatches"] == 0
