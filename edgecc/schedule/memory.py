"""Static memory planning: buffers with lifetimes placed in one arena so that no two live at once overlap, and the
peak is as small as the planner can make it (optimal over placement orders for small graphs, greedy beyond)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

ALIGN = 8                # every buffer starts 8-byte aligned: word loads (SMLAD pairs) and int64 accumulators
EXHAUSTIVE_MAX = 7       # up to this many buffers every placement order is tried (7! = 5040 first-fit packings)


@dataclass(frozen=True)
class Lifetime:
    """A buffer of `size` bytes written at step `first` and last read at step `last` (both inclusive)."""

    name: str
    size: int
    first: int
    last: int

    def overlaps(self, other: "Lifetime") -> bool:
        return self.first <= other.last and other.first <= self.last


def align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def first_fit(order: list[Lifetime]) -> tuple[dict[str, int], int]:
    """Place buffers in this order, each at the lowest aligned offset clear of every placed buffer it is live with."""
    offsets: dict[str, int] = {}
    placed: list[Lifetime] = []
    peak = 0
    for buf in order:
        taken = sorted((offsets[p.name], offsets[p.name] + p.size) for p in placed if p.overlaps(buf))
        offset = 0
        for lo, hi in taken:
            if offset + buf.size <= lo:
                break
            offset = max(offset, align(hi))
        offsets[buf.name] = offset
        placed.append(buf)
        peak = max(peak, offset + buf.size)
    return offsets, align(peak)


def plan_arena(buffers: list[Lifetime]) -> tuple[dict[str, int], int]:
    """Offsets of every buffer and the arena's size. Deterministic: ties go to the first order tried."""
    buffers = sorted((b for b in buffers if b.size > 0), key=lambda b: (-b.size, b.first, b.name))
    if not buffers:
        return {}, 0
    if len(buffers) <= EXHAUSTIVE_MAX:
        best = None
        for order in itertools.permutations(buffers):
            offsets, peak = first_fit(list(order))
            if best is None or peak < best[1]:
                best = (offsets, peak)
        return best
    # larger graphs: biggest first, then earliest (TensorFlow Lite Micro's greedy planner does the same)
    return first_fit(buffers)


def live_peak(buffers: list[Lifetime]) -> int:
    """The largest total size of buffers live at one step: no arena can be smaller."""
    steps = {s for b in buffers for s in (b.first, b.last)}
    return max((sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps), default=0)
