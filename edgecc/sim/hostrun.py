"""Running a testbench binary built for this machine: the input codes split over processes (one per core, each
with at least 500 vectors), each reading its codes from a file and writing its outputs to another."""
from __future__ import annotations

import os
import subprocess
import tempfile

import numpy as np

from ..codes import read_codes, write_codes
from ..errors import ToolError


def jobs(n_vectors: int) -> int:
    """Parallel processes: one per core (or EDGECC_JOBS), each with at least 500 vectors."""
    wanted = int(os.environ.get("EDGECC_JOBS", "0")) or (os.cpu_count() or 1)
    return max(1, min(wanted, n_vectors // 500))


def run_chunked(binary: str, codes: np.ndarray, out_shape, what: str, wide: bool = False) -> np.ndarray:
    """Output codes of `binary IN OUT` over input codes [N, ...]; `what` names it in the error of a failed run."""
    chunks = np.array_split(np.asarray(codes), jobs(len(codes)))
    with tempfile.TemporaryDirectory(prefix="edgecc-run-") as work:
        procs = []
        for k, chunk in enumerate(chunks):
            in_path, out_path = os.path.join(work, f"in{k}.txt"), os.path.join(work, f"out{k}.txt")
            write_codes(in_path, chunk)
            procs.append((subprocess.Popen([binary, in_path, out_path], stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True), out_path))
        outputs = []
        for proc, out_path in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise ToolError(f"{what} failed (exit {proc.returncode}): {err.strip()[:400]}")
            outputs.append(read_codes(out_path, out_shape, wide=wide))
    return np.concatenate(outputs) if outputs else np.zeros((0,) + tuple(out_shape), dtype=np.int64)
