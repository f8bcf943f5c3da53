"""One timing and cost model per FPGA family, shared by every backend's estimates: how many adder levels fit a
clock period, when a multiplier goes to a DSP slice, how many bits a block RAM holds."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ModelError


@dataclass(frozen=True)
class FamilyTiming:
    family: str
    # One adder level of datapath widths (LUT + carry chain + local routing), in ns: a first-order model
    # (7-series: ~0.5 ns LUT, ~0.1 ns per CARRY4, ~0.8 ns routing); iCE40 is measured by nextpnr in synth.
    ns_per_adder_level: float
    # A multiplier whose operands together exceed this many bits goes to a DSP slice; narrower ones to LUTs
    # (Vitis HLS and Yosys both map small constant multiplications to fabric).
    dsp_min_product_bits: int
    bram_bits: int  # one block RAM

    def levels_per_stage(self, clock_ns: float) -> int:
        """Adder levels between two registers that fit one clock period (at least one)."""
        return max(1, int(clock_ns / self.ns_per_adder_level + 1e-9))

    def stages_for(self, levels: int, clock_ns: float) -> int:
        """Register stages a `levels`-deep adder graph needs: one at its end, more where it is deeper than a period."""
        return max(1, math.ceil(levels / self.levels_per_stage(clock_ns)))


FAMILIES = {
    "xilinx": FamilyTiming("xilinx", ns_per_adder_level=1.6, dsp_min_product_bits=16, bram_bits=18 * 1024),
    "ice40": FamilyTiming("ice40", ns_per_adder_level=4.0, dsp_min_product_bits=16, bram_bits=4 * 1024),
}


def family_timing(family: str) -> FamilyTiming:
    try:
        return FAMILIES[family]
    except KeyError:
        raise ModelError(f"no timing model for FPGA family {family!r} (known: {', '.join(sorted(FAMILIES))})") from None


def tree_depth(n_terms: int) -> int:
    """Levels of a balanced tree of two-input adders over n terms."""
    return math.ceil(math.log2(n_terms)) if n_terms > 1 else 0
