"""Typed errors: each carries the node it is about and maps to one exit code of the command line."""


class EdgeccError(Exception):
    exit_code = 2

    def __init__(self, message: str, node: str | None = None):
        self.node = node
        super().__init__(f"node {node!r}: {message}" if node else message)


class ModelError(EdgeccError):
    """The model (or an input file, or an option) is malformed or outside what edgecc accepts."""


class UnsupportedOp(ModelError):
    """An operator, attribute or pattern that edgecc does not implement."""


class InfeasibleTarget(EdgeccError):
    """A latency, II or resource target that no schedule meets."""
    exit_code = 3


class MismatchError(EdgeccError):
    """A simulation disagreed with the golden model."""
    exit_code = 1


class ToolError(EdgeccError):
    """An external tool (g++, a simulator) is missing or failed."""
    exit_code = 1
