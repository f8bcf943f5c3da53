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

from ..cache import cache_root
from ..errors import ToolError
from .hostrun import run_chunked

CXX_FLAGS = ["-std=c++14", "-O2", "-DNDEBUG", "-w"]  # NDEBUG: ap_types asserts cost 15% of C-sim time


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
    includes = ["-I", os.path.join(out_dir, "firmware"), "-I", os.path.join(out_dir, "ap_types")]
    units = [os.path.join(out_dir, "firmware", f"{top}.cpp"), os.path.join(out_dir, "tb", f"tb_{top}.cpp")]
    if not quiet:
        print(f"edgecc: building C simulation with g++ (cached by content hash {key}) ...", file=sys.stderr,
              flush=True)
    # the firmware and the testbench compile in parallel, then link
    procs = [subprocess.Popen([cxx, *CXX_FLAGS, *includes, "-c", unit, "-o", os.path.join(tmp, f"{k}.o")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k, unit in enumerate(units)]
    results = [p.communicate() + (p.returncode,) for p in procs]
    link = None
    if all(rc == 0 for _, _, rc in results):
        link = subprocess.run([cxx, os.path.join(tmp, "0.o"), os.path.join(tmp, "1.o"), "-o", os.path.join(tmp, "csim")],
                              capture_output=True, text=True)
        results.append((link.stdout, link.stderr, link.returncode))
    failed = [err for _, err, rc in results if rc != 0]
    if failed:
        shutil.rmtree(tmp, ignore_errors=True)
        first = next((l for l in failed[0].splitlines() if "error" in l), failed[0].strip()[:400])
        raise ToolError(f"g++ failed to build the C simulation: {first}")
    for k in range(2):
        os.remove(os.path.join(tmp, f"{k}.o"))
    try:
        os.rename(tmp, target_dir)
    except OSError:  # another process built the same hash first
        shutil.rmtree(tmp, ignore_errors=True)
    return binary, False


def run(out_dir: str, top: str, codes: np.ndarray, out_shape: tuple[int, ...], quiet: bool = False) -> np.ndarray:
    """Output codes of the C simulation for input codes [N, ...]; vectors are split across processes."""
    binary, _ = build(out_dir, top, quiet)
    return run_chunked(binary, codes, out_shape, "C simulation")
