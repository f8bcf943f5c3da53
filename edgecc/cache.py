"""Where edgecc keeps what it can reuse across runs (C-simulation builds, compiled templates)."""
from __future__ import annotations

import os


def cache_root() -> str:
    """$EDGECC_CACHE_DIR, else ~/.cache/edgecc; every entry is keyed by a content hash, so sharing is safe."""
    return os.environ.get("EDGECC_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "edgecc")
