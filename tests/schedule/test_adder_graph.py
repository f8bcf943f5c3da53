"""The adder-graph plan of a fully parallel Dense: every output's leaves sum to exactly its weights times x."""
from __future__ import annotations

import numpy as np
import pytest

from edgecc.schedule.adder_graph import csd_digits, dense_plan, paired_digits, plan_of


@pytest.mark.parametrize("value", list(range(-300, 301)) + [2**40 + 3, -(2**50) + 12345])
def test_canonical_signed_digits_are_exact_and_never_adjacent(value):
    digits = csd_digits(value)
    assert sum(sign << shift for sign, shift in digits) == value
    shifts = sorted(shift for _, shift in digits)
    assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))


@pytest.mark.parametrize("value", [0, 1, -7, 45, 255, -1000, 12345])
def test_paired_digits_stand_for_the_same_value(value):
    total = 0
    for sign, shift, pattern in paired_digits(value):
        base = 1 if pattern is None else (1 << pattern[0]) + pattern[1]
        total += sign * (base << shift)
    assert total == value


def _evaluate(plan, x):
    """The plan's arithmetic on integer inputs: multiples, shared pairs, leaves."""
    signals = {("x", i): int(v) for i, v in enumerate(x)}
    for i, k, s in plan.multiples:
        signals[("m", i, k, s)] = (signals[("x", i)] << k) + s * signals[("x", i)]
    for idx, (a, b, d, s) in enumerate(plan.pairs):
        signals[("p", idx)] = signals[a] + s * (signals[b] << d)
    return [sum(sign * (signals[sig] << shift) for sig, sign, shift in leaves) for leaves in plan.leaves]


@pytest.mark.parametrize("seed", range(4))
def test_plan_computes_x_times_w_exactly(seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, size=(12, 9))
    w[rng.random(w.shape) < 0.2] = 0
    plan = dense_plan(w, np.zeros(9, dtype=np.int64))
    for x in rng.integers(-128, 128, size=(20, 12)):
        assert _evaluate(plan, x) == [int(v) for v in x.astype(object) @ w.astype(object)]
    assert plan.depth == plan.pre_levels + plan.tree_depth


def test_plan_is_shared_and_immutable():
    w = np.arange(12).reshape(4, 3) - 5
    a, b = plan_of(w, None), plan_of(w.copy(), None)
    assert a is b
    with pytest.raises(AttributeError):
        a.tree_depth = 0
