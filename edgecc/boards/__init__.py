"""Boards: one YAML per board (part, clock, resources) and the loader."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import yaml

from ..errors import ModelError

_DIR = os.path.dirname(__file__)
DEFAULT_BOARD = "pynq-z2"


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    family: str
    part: str
    clock_ns: float
    resources: dict = field(default_factory=dict)


def known_boards() -> dict[str, Board]:
    boards = {}
    for fname in sorted(os.listdir(_DIR)):
        if fname.endswith(".yaml"):
            with open(os.path.join(_DIR, fname)) as f:
                d = yaml.safe_load(f)
            boards[d["name"]] = Board(d["name"], d.get("description", ""), d["family"], d["part"],
                                      float(d["clock_ns"]), dict(d.get("resources", {})))
    return boards


def get_board(name: str | None) -> Board:
    boards = known_boards()
    name = name or DEFAULT_BOARD
    if name not in boards:
        raise ModelError(f"unknown board {name!r} (known: {', '.join(boards)})")
    return boards[name]
