"""Backends: the interface every backend implements, the registry the API and the command line dispatch through,
and the capability table (which IR op each backend emits, and how) produced from the registries."""
from __future__ import annotations

import importlib
from typing import Callable

from ..errors import ModelError, UnsupportedOp


class OpEmitters:
    """One backend's per-op emitters: IR op name -> the function that emits it, and the micro-architectures it
    can build the op with. A node whose op is missing here is a clear error at compile time."""

    def __init__(self, backend: str):
        self.backend = backend
        self.functions: dict[str, Callable] = {}
        self.microarchs: dict[str, tuple[str, ...]] = {}

    def register(self, op: str, microarchs: tuple[str, ...] = ()):
        def deco(fn):
            self.functions[op] = fn
            self.microarchs[op] = tuple(microarchs)
            return fn
        return deco

    def of(self, node) -> Callable:
        try:
            return self.functions[node.op]
        except KeyError:
            raise UnsupportedOp(f"the {self.backend.upper()} backend cannot emit op {node.op} "
                                f"(it emits: {', '.join(sorted(self.functions))})", node.name) from None

    def ops(self) -> dict[str, tuple[str, ...]]:
        return dict(sorted(self.microarchs.items()))


class Backend:
    """What a backend is to the rest of edgecc. Subclasses fill in the class attributes and the methods."""

    name = ""
    description = ""
    board_kind = "fpga"          # the kind of board it targets ("fpga" or "mcu")
    default_board = "pynq-z2"    # when no --board is given
    cost_model = None            # a schedule.cost.CostModel subclass: the backend's view of time and area
    emitters: OpEmitters         # per-op emitters
    run_options: dict[str, str] = {}  # `edgecc run` options it takes -> what they do
    compile_options: dict[str, tuple[tuple[str, ...], str]] = {}  # compile options -> (choices, default first; help)
    sim_tools: tuple[str, ...] = ()   # programs its simulation needs on PATH (Python packages come with setup)

    def ops(self) -> dict[str, tuple[str, ...]]:
        return self.emitters.ops()

    def check_board(self, board) -> None:
        kind = getattr(board, "kind", "fpga")
        if kind != self.board_kind:
            raise ModelError(f"board {board.name!r} is an {kind.upper()}; the {self.name} backend needs an "
                             f"{self.board_kind.upper()} board (see `edgecc boards`)")

    def check_graph(self, g) -> None:
        """Every node the design implements has an emitter here (before anything is scheduled or written)."""
        for node in g.compute_nodes():
            self.emitters.of(node)

    def check_run_options(self, options: dict) -> None:
        unknown = sorted(k for k, v in options.items() if v not in (None, False, 0) and k not in self.run_options)
        if unknown:
            takes = ", ".join(f"--{k.replace('_', '-')}" for k in self.run_options) or "none"
            raise ModelError(f"the {self.name} backend does not take the run option "
                             f"--{unknown[0].replace('_', '-')} (its run options: {takes})")

    def compile_settings(self, options: dict) -> dict:
        """Every compile option of this backend with its value (the default where not given); refuses an option it
        does not take and a value it does not know."""
        given = {k: v for k, v in options.items() if v is not None}
        for k, v in given.items():
            if k not in self.compile_options:
                takes = ", ".join(f"--{o.replace('_', '-')}" for o in self.compile_options) or "none"
                raise ModelError(f"the {self.name} backend does not take the compile option --{k.replace('_', '-')} "
                                 f"(its compile options: {takes})")
            choices = self.compile_options[k][0]
            if v not in choices:
                raise ModelError(f"--{k.replace('_', '-')} must be one of {', '.join(choices)}, got {v!r}")
        return {k: given.get(k, choices[0]) for k, (choices, _) in self.compile_options.items()}

    def emit(self, g, schedule, board, out_dir: str, version: str) -> dict:
        """Write the design into out_dir; returns facts for report.json (top, port types, file lists)."""
        raise NotImplementedError

    def simulate(self, out_dir: str, report: dict, graph, codes, options: dict, quiet: bool):
        """Run the emitted design on input codes in its own simulator; returns a sim.SimOutput."""
        raise NotImplementedError


_REGISTRY: dict[str, Backend] = {}
# The backend packages that ship with edgecc; each registers itself when imported. A compile imports only the one
# it uses (a command runs in a fresh process, so what it does not import it does not pay for).
BUILTIN = ("c", "hls", "rtl")


def register(backend: Backend) -> Backend:
    _REGISTRY[backend.name] = backend
    return backend


def available() -> dict[str, Backend]:
    """Every backend, by name."""
    for name in BUILTIN:
        _load(name)
    return dict(sorted(_REGISTRY.items()))


def _load(name: str) -> None:
    if name in BUILTIN and name not in _REGISTRY:
        importlib.import_module(f"{__name__}.{name}")


def get_backend(name: str) -> Backend:
    _load(name)
    if name not in _REGISTRY:
        raise ModelError(f"unknown backend {name!r} (available: {', '.join(available())})")
    return _REGISTRY[name]


def capability_table() -> tuple[list[str], list[str], dict[tuple[str, str], tuple[str, ...] | None]]:
    """(IR ops, backend names, {(op, backend): micro-architectures, or None where the backend lacks the op})."""
    from ..ir.ops import OPS

    backends = available()
    cells = {}
    for op in sorted(OPS):
        for name, b in backends.items():
            ops = b.ops()
            cells[(op, name)] = ops[op] if op in ops else None
    return sorted(OPS), list(backends), cells


def capability_markdown() -> str:
    """The capability table as Markdown: the README's copy is generated from this (`make readme`)."""
    ops, names, cells = capability_table()
    lines = ["| IR op | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for op in ops:
        row = []
        for name in names:
            cell = cells[(op, name)]
            row.append("no" if cell is None else ("yes: " + ", ".join(cell) if cell else "yes"))
        lines.append(f"| {op} | " + " | ".join(row) + " |")
    return "\n".join(lines)
