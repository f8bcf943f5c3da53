"""The fully parallel Dense as an adder graph of its constant weights: canonical signed digits, shared multiples and
shared pairs (one-pass common-subexpression elimination), one balanced tree per output.

This is the plan of the `adder_graph` micro-architecture: the RTL cost model reads its depth and adder count, and
the RTL emitter builds exactly this graph from the same object.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .timing import tree_depth


def csd_digits(value: int) -> list[tuple[int, int]]:
    """Canonical signed digits of an integer: [(sign, shift)], value = sum sign * 2**shift, fewest nonzero digits."""
    digits, shift, v = [], 0, int(value)
    while v:
        if v & 1:
            d = 2 - (v & 3)  # +1 if v = 1 mod 4, -1 if v = 3 mod 4
            digits.append((d, shift))
            v -= d
        v >>= 1
        shift += 1
    return digits


def paired_digits(value: int) -> list[tuple[int, int, tuple[int, int] | None]]:
    """The CSD digits of a weight, lowest first, taken two at a time: (sign, shift, pattern) stands for
    sign * (x * (2**k + s)) << shift with pattern (k, s), or sign * x << shift when pattern is None."""
    digits = sorted(csd_digits(value), key=lambda d: d[1])
    out = []
    for i in range(0, len(digits) - 1, 2):
        (s_lo, sh_lo), (s_hi, sh_hi) = digits[i], digits[i + 1]
        out.append((s_hi, sh_lo, (sh_hi - sh_lo, s_lo * s_hi)))
    if len(digits) % 2:
        out.append((digits[-1][0], digits[-1][1], None))
    return out


@dataclass(frozen=True)
class DensePlan:
    """How a fully parallel Dense is built from its constant weights, as an adder graph:

    level 1 (if any): per input, shared multiples x * (2**k + s) for digit pairs that recur in its row;
    next level (if any): shared sums a + s * (b << d) of two signals that recur across outputs (one-pass CSE);
    then per output a balanced tree over its leaves (signal, sign, shift), plus its bias.
    Signals are ("x", i), ("m", i, k, s) and ("p", index)."""

    multiples: tuple[tuple[int, int, int], ...]          # (input, k, s)
    pairs: tuple[tuple[tuple, tuple, int, int], ...]     # (signal a, signal b, d, s): a + s * (b << d)
    leaves: tuple[tuple[tuple[tuple, int, int], ...], ...]  # per output: (signal, sign, shift)
    tree_depth: int

    @property
    def pre_levels(self) -> int:
        return (1 if self.multiples else 0) + (1 if self.pairs else 0)

    @property
    def depth(self) -> int:
        return self.pre_levels + self.tree_depth

    @property
    def adders(self) -> int:
        return len(self.multiples) + len(self.pairs) + sum(max(len(l) - 1, 0) for l in self.leaves)


CSE_MAX_PAIRS = 4_000_000  # beyond this many candidate pairs a layer keeps its trees as they are


def _share_pairs(leaves: list[list[tuple]]) -> tuple[list, list[list[tuple]]]:
    """One greedy pass of common-subexpression elimination over pairs of leaves: the pairs that occur in the
    most outputs first; each becomes one adder shared by every output that still has both leaves."""
    if sum(len(l) ** 2 for l in leaves) // 2 > CSE_MAX_PAIRS:
        return [], leaves
    where: dict[tuple, list[int]] = {}
    for j, out in enumerate(leaves):
        seen = set()
        for a in range(len(out)):
            for b in range(a + 1, len(out)):
                u, v = sorted((out[a], out[b]), key=lambda t: (t[2], t[0]))
                key = (u[0], v[0], v[2] - u[2], u[1] * v[1])
                if key not in seen:
                    seen.add(key)
                    where.setdefault(key, []).append(j)
    order = sorted((k for k, js in where.items() if len(js) >= 2), key=lambda k: (-len(where[k]), k))
    remaining = [list(out) for out in leaves]
    pairs, rewritten = [], [[] for _ in leaves]
    for key in order:
        atom_u, atom_v, d, rel = key
        matches = []
        for j in where[key]:
            out = remaining[j]
            found = None
            for iu, u in enumerate(out):
                if u[0] != atom_u:
                    continue
                for iv, v in enumerate(out):
                    if iv != iu and v[0] == atom_v and v[2] - u[2] == d and u[1] * v[1] == rel:
                        found = (iu, iv)
                        break
                if found:
                    break
            if found:
                matches.append((j, found))
        if len(matches) < 2:
            continue
        signal = ("p", len(pairs))
        pairs.append((atom_u, atom_v, d, rel))
        for j, (iu, iv) in matches:
            u = remaining[j][iu]
            rewritten[j].append((signal, u[1], u[2]))
            for idx in sorted((iu, iv), reverse=True):
                remaining[j].pop(idx)
    return pairs, [r + rem for r, rem in zip(rewritten, remaining)]


def dense_plan(w: np.ndarray, bias: np.ndarray) -> DensePlan:
    n_in, n_out = w.shape
    use = []
    patterns_of = []
    for i in range(n_in):
        patterns, saving = set(), 0
        for j in range(n_out):
            pairs = paired_digits(int(w[i, j]))
            patterns.update(p for _, _, p in pairs if p is not None)
            saving += len(csd_digits(int(w[i, j]))) - len(pairs)
        use.append(saving > len(patterns))
        patterns_of.append(sorted(patterns) if use[-1] else [])
    multiples = [(i, k, s) for i in range(n_in) for k, s in patterns_of[i]]
    leaves = []
    for j in range(n_out):
        out = []
        for i in range(n_in):
            if use[i]:
                out += [(("x", i) if p is None else ("m", i) + p, sign, shift)
                        for sign, shift, p in paired_digits(int(w[i, j]))]
            else:
                out += [(("x", i), sign, shift) for sign, shift in csd_digits(int(w[i, j]))]
        leaves.append(out)
    pairs, leaves = _share_pairs(leaves)
    tree = max([tree_depth(len(l) + (1 if bias[j] else 0)) for j, l in enumerate(leaves)] or [0])
    return DensePlan(tuple(multiples), tuple(pairs), tuple(tuple(l) for l in leaves), tree)


_PLANS: dict[bytes, DensePlan] = {}


def plan_of(w: np.ndarray, bias: np.ndarray | None) -> DensePlan:
    """The adder graph of integer weights [in, out] and bias codes, computed once per distinct weights (the plan is
    immutable, so the scheduler's candidate points of every compile can share it)."""
    w = np.asarray(w)
    bias = np.zeros(w.shape[1], dtype=np.int64) if bias is None else np.asarray(bias)
    key = repr((w.shape, w.tolist(), bias.tolist())).encode()
    if key not in _PLANS:
        _PLANS[key] = dense_plan(w, bias)
    return _PLANS[key]
