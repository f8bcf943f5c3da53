"""edgecc: quantized neural networks to bit-exact HLS C++, RTL and microcontroller C."""
from .api import Project, compile, load, sweep  # noqa: F401
from .errors import EdgeccError, InfeasibleTarget, MismatchError, ModelError, UnsupportedOp  # noqa: F401

__version__ = "0.1.0"
