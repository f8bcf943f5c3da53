"""The layout of a C Dense kernel, shared by the C cost model (its flash bytes) and the C emitter (its arrays).

Outputs go in blocks of BLOCK; the weights are stored in the order the kernel reads them, with tables where some
output lacks a column (a zero weight costs no instruction). Three encodings of the same layout: one weight per C
integer (the portable loop), SMLAD pairs (two 16-bit weights per 32-bit word), and 4-bit fields (packed)."""
from __future__ import annotations

import numpy as np

BLOCK = 4        # outputs computed together: one input load serves four multiply-accumulates
PACKED_BITS = 4  # weights this narrow can be stored two per byte


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True."""
    runs, start = [], None
    for i, v in enumerate(list(mask) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def packed_pairs(w: np.ndarray) -> np.ndarray:
    """Weights [k, m] as 32-bit words of two 16-bit weights per output: (w[2i], w[2i+1]) low half first, as SMLAD
    multiplies low by low and high by high. Returns [m, pairs]."""
    k, m = w.shape
    padded = np.zeros((k + k % 2, m), dtype=np.int64)
    padded[:k] = w
    lo = padded[0::2] & 0xFFFF
    hi = padded[1::2] & 0xFFFF
    return (lo | (hi << 16)).T


def blocked(rows: np.ndarray) -> dict:
    """The layout of an inner-product kernel over `rows` [m, columns] (weights, or packed weight pairs).

    Outputs go in blocks of BLOCK consecutive rows, the rows beyond the last full block one by one. A block (or a
    single row) whose rows have every column nonzero is "full": a plain loop over all columns, four rows side by
    side. Otherwise the runs of columns every row of the block has are computed together, and each row's other
    nonzero columns one by one from a list of their indices; a single row of that kind from its index list. A zero
    weight costs no instruction. Tables: [first row, shared runs, own columns of each row] per block, [row,
    columns] per single row; the shared runs [start, length]; the own columns' indices. The weights are in the
    order the kernel reads them: full blocks, full single rows, then the others (a block's rows side by side).
    For packing, the same weights split in the kernel's order into those read BLOCK columns side by side (quads)
    and the runs of those read one at a time (singles: a full single row, an output's own columns)."""
    m, n = rows.shape
    mask = rows != 0
    n_blocks = m // BLOCK
    full = [[], []]                         # first rows of full blocks, full single rows
    ordered = [[], []]
    table, runs, index, tail = [], [], [], []  # the others
    quads, singles = ([], []), ([], [])     # weights read four columns side by side; runs read one by one
    # (each as: those of full rows, then the others: the kernel reads full blocks and rows first)

    def take(slot: int, size: int, values: list[int]) -> None:
        (ordered[slot] if slot < 2 else tail).extend(values)
        if size > 1:
            quads[slot == 2].extend(values)
        elif values:
            singles[slot == 2].append(values)

    for size, firsts in ((BLOCK, range(0, n_blocks * BLOCK, BLOCK)), (1, range(n_blocks * BLOCK, m))):
        slot = 0 if size == BLOCK else 1
        for j in firsts:
            group = mask[j:j + size]
            if n and group.all():
                full[slot].append(j)
                take(slot, size, [int(v) for v in rows[j:j + size].T.ravel()])
                continue
            shared = np.logical_and.reduce(group) if size > 1 else np.zeros(n, dtype=bool)
            spans = _runs(shared)
            own = [np.flatnonzero(group[r] & ~shared) for r in range(size)]
            table.extend([j] + ([len(spans)] if size > 1 else []) + [len(o) for o in own])
            for start, length in spans:
                runs.extend([start, length])
                take(2, size, [int(v) for v in rows[j:j + size, start:start + length].T.ravel()])
            for r, cols in enumerate(own):
                index.extend(int(c) for c in cols)
                take(2, 1, [int(rows[j + r, c]) for c in cols])
    return {"full_blocks": full[0], "full_singles": full[1], "columns": n,
            "contiguous": full[0] == list(range(0, BLOCK * len(full[0]), BLOCK)),
            "other_blocks": n_blocks - len(full[0]), "other_singles": (m - n_blocks * BLOCK) - len(full[1]),
            "table": table, "runs": runs, "index": index, "weights": ordered[0] + ordered[1] + tail,
            "quads": quads[0] + quads[1], "singles": singles[0] + singles[1]}


def nibbles(values: list[int], per_word: int) -> list[int]:
    """Weights as 4-bit fields, `per_word` to a word, the first lowest (a short last word padded with zeros)."""
    return [sum((v & 0xF) << (PACKED_BITS * r) for r, v in enumerate(values[i:i + per_word]))
            for i in range(0, len(values), per_word)]


def kernel_bytes(layout: dict, encoding: str, weight_bytes: int = 1) -> int:
    """Flash bytes of a layout's arrays: weights in `encoding` ("loop": weight_bytes each; "smlad": the layout is of
    pairs, 4 bytes each; "packed": 4-bit fields, a run of one output's weights starting on a byte), and tables."""
    if encoding == "packed":
        weights = len(layout["quads"]) // 2 + sum((len(run) + 1) // 2 for run in layout["singles"])
    else:
        weights = len(layout["weights"]) * (4 if encoding == "smlad" else weight_bytes)
    tables = [layout[k] for k in ("table", "runs", "index", "full_singles")]
    if not layout["contiguous"]:
        tables.append(layout["full_blocks"])
    return weights + sum(uint_bytes(t) * len(t) for t in tables)


def uint_bytes(values) -> int:
    """Bytes of the narrowest unsigned C integer type that holds every value of a table."""
    top = max(values, default=0)
    return 1 if top < 1 << 8 else 2 if top < 1 << 16 else 4


# Code bytes of a Dense unit's function by the parts of its kernel (Thumb-2 at -O2, measured on the suite and the
# jet tagger for M0, M3 and M4: within about a third): the function with its finishing steps, the loop over full
# blocks, and the sparse part (shared runs and each output's own list), larger where packed fields are unpacked.
CODE_BASE, CODE_FULL_BLOCKS = 200, 150
CODE_SPARSE = {"loop": 500, "smlad": 500, "packed": 700}


def code_bytes(layout: dict, encoding: str) -> int:
    """An estimate of the flash a Dense unit's function takes with this layout and encoding."""
    return (CODE_BASE + (CODE_FULL_BLOCKS if layout["full_blocks"] or layout["full_singles"] else 0)
            + (CODE_SPARSE[encoding] if layout["table"] else 0))
