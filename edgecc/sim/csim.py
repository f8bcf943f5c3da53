"""HLS C simulation: build OUT's firmware and testbench with g++ (cached by content hash) and run it."""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from ..codes import read_codes, write_codes
from ..errors import ToolError

CXX_FLAGS = ["-std=c++14", "-O1", "-w"]


def cache_root() -> str:
    return os.environ.get("EDGECC_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "edgecc")


def _sources(out_dir: str) -> list[str]:
    files = sorted(glob.glob(os.path.join(out_dir, "firmware", "**", "*"), recursive=True))
    files += sorted(glob.glob(os.path.join(out_dir, "tb", "*.cpp")))
    return [f for f in files if os.path.isfile(f)]


def _content_hash(out_dir: str, cxx: str) -> str:
    h = hashlib.sha256()
    h.update(" ".join([cxx] + CXX_FLAGS).encode())
    for path in _sources(out_dir) + sorted(glob.glob(os.path.join(out_dir, "ap_types", "*.h"))):
        h.update(os.path.relpath(path, out_dir).encode())
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:24]


def build(out_dir: str, top: str, quiet: bool = False) -> tuple[str, bool]:
    """Path of the C simulation binary, and whether it came from the cache."""
    cxx = shutil.which(os.environ.get("CXX", "g++"))
    if not cxx:
        raise ToolError("g++ is not installed; C simulation needs it (apt-get install -y g++)")
    key = _content_hash(out_dir, os.path.basename(cxx))
    target_dir = os.path.join(cache_root(), "csim", key)
    binary = os.path.join(target_dir, "csim")
    if os.path.isfile(binary):
        return binary, True
    os.makedirs(os.path.dirname(target_dir), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"{key}.", dir=os.path.dirname(target_dir))
    cmd = [cxx, *CXX_FLAGS, "-I", os.path.join(out_dir, "firmware"), "-I", os.path.join(out_dir, "ap_types"),
           os.path.join(out_dir, "tb", f"tb_{top}.cpp"), os.path.join(out_dir, "firmware", f"{top}.cpp"),
           "-o", os.path.join(tmp, "csim")]
    if not quiet:
        print(f"edgecc: building C simulation with g++ (cached by content hash {key}) ...", file=sys.stderr,
              flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        first = next((l for l in proc.stderr.splitlines() if "error" in l), proc.stderr.strip()[:400])
        raise ToolError(f"g++ failed to build the C simulation: {first}")
    try:
        os.rename(tmp, target_dir)
    except OSError:  # another process built the same hash first
        shutil.rmtree(tmp, ignore_errors=True)
    return binary, False


def run(out_dir: str, top: str, codes: np.ndarray, out_shape: tuple[int, ...], quiet: bool = False) -> np.ndarray:
    binary, _ = build(out_dir, top, quiet)
    with tempfile.TemporaryDirectory(prefix="edgecc-csim-") as work:
        in_path, out_path = os.path.join(work, "in.txt"), os.path.join(work, "out.txt")
        write_codes(in_path, codes)
        proc = subprocess.run([binary, in_path, out_path], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolError(f"C simulation failed (exit {proc.returncode}): {proc.stderr.strip()[:400]}")
        return read_codes(out_path, out_shape)
