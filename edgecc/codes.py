"""The integer-code file format shared by generated testbenches and the simulators: one vector per line."""
from __future__ import annotations

import os

import numpy as np


def write_codes(path: str, codes: np.ndarray) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    rows = np.asarray(codes).reshape(len(codes), -1).tolist()  # Python ints: exact at any width
    with open(path, "w", newline="\n") as f:
        f.write("".join(" ".join(map(str, row)) + "\n" for row in rows))


def read_codes(path: str, shape: tuple[int, ...], wide: bool = False) -> np.ndarray:
    """Codes as int64 (or Python ints when `wide`), shaped [N, *shape]."""
    with open(path) as f:
        words = f.read().split()
    data = np.array([int(w) for w in words], dtype=object) if wide else np.array(words, dtype=np.int64)
    size = int(np.prod(shape, dtype=np.int64))
    return data.reshape((len(words) // max(size, 1),) + tuple(shape))
