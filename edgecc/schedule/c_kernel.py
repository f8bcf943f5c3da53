"""The layout of a C Dense kernel, shared by the C cost model (its flash bytes) and the C emitter (its arrays).

Outputs go in blocks of BLOCK; the weights are stored in the order the kernel reads them, with tables where some
output lacks a column (a zero weight costs no instruction). Three encodings of the same layout: one weight per C
integer (the portable loop), SMLAD pairs (two 16-bit weights per 32-bit word), and 4-bit fields (packed)."""
from __future__ import annotations

import numpy as np

MASK_TAPS = 32   # a conv block's used taps are one 32-bit word of bits
LANES = {"loop": 1, "depthwise": 1, "smlad": 2, "smlad8": 4}  # input channels a conv kernel reads at once
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


# ---- convolutions and pools: direct loops over each output position's taps -----------------------------------------

def axis_ranges(n_in: int, n_out: int, kernel: int, stride: int, dilation: int, pad: int) -> list[tuple[int, int]]:
    """For each output index along one axis, the taps [lo, hi) that read inside the input (the others read padding:
    the loops skip them, so no padded copy of the input is ever made). A window wholly in the padding is (0, 0)."""
    out = []
    for o in range(n_out):
        ks = [k for k in range(kernel) if 0 <= o * stride + k * dilation - pad < n_in]
        out.append((ks[0], ks[-1] + 1) if ks else (0, 0))
    return out


def window_geometry(in_shape, attrs) -> dict:
    """A window op's loops on a channels-last input (W, C) or (H, W, C), a 1-D one as 2-D with one row: input and
    output sizes, kernel, strides, dilations, leading pads, and per axis the taps each output index reads."""
    from ..ir.ops_spatial import window_shape

    spatial, channels = tuple(in_shape[:-1]), int(in_shape[-1])
    rank = len(spatial)
    out = window_shape(spatial, attrs)
    pads = attrs["pads"]
    axes = [dict(n_in=int(spatial[a]), n_out=int(out[a]), k=int(attrs["kernel"][a]), s=int(attrs["strides"][a]),
                 d=int(attrs["dilations"][a]), p=int(pads[a])) for a in range(rank)]
    if rank == 1:
        axes.insert(0, dict(n_in=1, n_out=1, k=1, s=1, d=1, p=0))
    for ax in axes:
        ax["ranges"] = axis_ranges(ax["n_in"], ax["n_out"], ax["k"], ax["s"], ax["d"], ax["p"])
        ax["clipped"] = any(r != (0, ax["k"]) for r in ax["ranges"])
        # how many output indices read each tap (the loops' trip counts, for the cost model)
        ax["reads"] = [sum(lo <= k < hi for lo, hi in ax["ranges"]) for k in range(ax["k"])]
    return {"rows": axes[0], "cols": axes[1], "channels": channels, "taps": axes[0]["k"] * axes[1]["k"],
            "positions": axes[0]["n_out"] * axes[1]["n_out"]}


def tap_reads(geo: dict) -> np.ndarray:
    """[taps]: how many output positions read each tap inside the input (tap = row tap * kernel width + column tap)."""
    return np.outer(geo["rows"]["reads"], geo["cols"]["reads"]).ravel()


def conv_layout(w: np.ndarray, groups: int, encoding: str) -> dict:
    """The weights of a Conv ([taps, C_in / groups, C_out]) in the order its C kernel reads them.

    encoding "loop": output channels in blocks of up to BLOCK within a group (the input is read once for the block's
    outputs), per block every tap's weights, each input channel's `size` weights side by side. "smlad" (16-bit
    inputs): the same with the input channels in pairs (two 16-bit weights per word, zeros where C_in / groups is
    odd). "smlad8" (8-bit inputs, four to a word, unpacked into the pairs of channels 0, 2 and 1, 3): per four
    input channels, the `size` words of pairs (w0, w2), then the `size` words of pairs (w1, w3). "depthwise" (one
    input and one output channel per group): blocks of BLOCK neighbouring channels, each with its own input.
    A block skips the taps whose weights are all zero: `masks` (a bit per tap) where some block has such a tap."""
    taps, cin_g, cout = w.shape
    cout_g = cout // groups
    blocks, weights = [], []
    if encoding == "depthwise":
        for c0 in range(0, cout, BLOCK):
            size = min(BLOCK, cout - c0)
            part = w[:, 0, c0:c0 + size]                               # [taps, size]
            blocks.append({"size": size, "mask": _tap_mask(part.reshape(taps, 1, size))})
            weights.extend(int(v) for v in part.ravel())
        seg = 1
    else:
        for g in range(groups):
            for c0 in range(0, cout_g, BLOCK):
                size = min(BLOCK, cout_g - c0)
                part = w[:, :, g * cout_g + c0:g * cout_g + c0 + size]  # [taps, cin_g, size]
                blocks.append({"size": size, "mask": _tap_mask(part)})
                if encoding in ("smlad", "smlad8"):
                    lanes = LANES[encoding]
                    padded = np.zeros((taps, -(-cin_g // lanes) * lanes, size), dtype=np.int64)
                    padded[:, :cin_g] = part
                    pairs = [(0, 1)] if lanes == 2 else [(0, 2), (1, 3)]   # the channels of each word's halves
                    quads = padded.reshape(taps, -1, lanes, size)
                    words = np.stack([(quads[:, :, lo] & 0xFFFF) | ((quads[:, :, hi] & 0xFFFF) << 16)
                                      for lo, hi in pairs], axis=2)          # [taps, groups, words, size]
                    weights.extend(int(v) for v in words.ravel())
                else:
                    weights.extend(int(v) for v in part.ravel())
        seg = -(-cin_g // LANES[encoding])
    full = (1 << taps) - 1
    if taps > MASK_TAPS:     # a mask is one 32-bit word: larger kernels compute every tap
        for b in blocks:
            b["mask"] = full
    sizes = sorted({b["size"] for b in blocks}, reverse=True)
    masks = [b["mask"] for b in blocks] if any(b["mask"] != full for b in blocks) else None
    return {"weights": weights, "seg": seg, "blocks": blocks, "taps": taps, "masks": masks, "block_sizes": sizes,
            "lanes": LANES[encoding], "row_runs": False}


def merge_rows(layout: dict, geo: dict, groups: int) -> dict:
    """Where a window row's taps lie side by side in the input (dilation 1 along it, one group: the taps' channels
    follow each other) and in the weights (whole pairs per tap), one inner loop covers the row's taps inside the
    input: fewer, longer loops. With tap masks, a row whose used taps cover its inside range runs so, and any other
    goes tap by tap over its used taps."""
    if groups == 1 and geo["cols"]["d"] == 1 and layout["blocks"] and geo["channels"] % layout["lanes"] == 0:
        layout["row_runs"] = True
    return layout


def _tap_mask(part: np.ndarray) -> int:
    return sum(1 << t for t in range(part.shape[0]) if np.any(part[t]))


def conv_work(geo: dict, layout: dict) -> tuple[int, int]:
    """(multiply-accumulates, inner loops) the kernel executes per inference: every block's used taps inside the
    input, at every output position (SMLAD's include the zeros that pad the channels to its lanes); one inner
    loop per used tap, or per window row where the row's taps are merged (and, with masks, all used)."""
    reads = tap_reads(geo)
    rows, cols = geo["rows"], geo["cols"]
    kw = cols["k"]
    macs = loops = 0
    for b in layout["blocks"]:
        used = [(b["mask"] >> t) & 1 for t in range(layout["taps"])]
        n = int(np.dot(used, reads))
        macs += n * layout["seg"] * layout["lanes"] * b["size"]
        if not layout["row_runs"]:
            loops += n
            continue
        for kh in range(rows["k"]):
            row = used[kh * kw:(kh + 1) * kw]
            per_col = [1 if all(row[lo:hi]) else sum(row[lo:hi]) for lo, hi in cols["ranges"]]
            loops += rows["reads"][kh] * sum(per_col)
    return macs, loops
