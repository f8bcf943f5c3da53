"""The integer-code file format shared by generated testbenches and the simulators: one vector per line."""
from __future__ import annotations

import os

import numpy as np


def write_codes(path: str, codes: np.ndarray) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    flat = np.asarray(codes).reshape(len(codes), -1)
    with open(path, "w", newline="\n") as f:
        f.writelines(" ".join(str(int(v)) for v in row) + "\n" for row in flat)


def read_codes(path: str, shape: tuple[int, ...], wide: bool = False) -> np.ndarray:
    """Codes as int64 (or Python ints when `wide`), shaped [N, *shape]."""
    with open(path) as f:
        rows = [line.split() for line in f if line.strip()]
    dtype = object if wide else np.int64
    data = np.array([[int(v) for v in r] for r in rows], dtype=dtype)
    return data.reshape((len(rows),) + tuple(shape))
