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
    # (7-series: ~0.5 ns LUT, ~0.1 ns per CARRY4, ~0.8 ns routing); iCE40 and ECP5 are fitted to nextpnr (below).
    ns_per_adder_level: float
    # A multiplier whose operands together exceed this many bits goes to a DSP slice; narrower ones to LUTs
    # (Vitis HLS and Yosys both map small constant multiplications to fabric).
    dsp_min_product_bits: int
    bram_bits: int  # one block RAM
    # A product of two variables (a folded layer's input by a weight read from memory) at least this wide goes to
    # a DSP slice where the board has them: Yosys's mul2dsp threshold (DSP_Y_MINWIDTH of synth_xilinx / synth_ice40).
    dsp_min_variable_product_bits: int = 9
    # A block RAM's (width, depth, units) configurations, in the board budget's unit; a ROM of W bits x D words
    # takes the fewest units of any one of them side by side and stacked (iCE40 EBR: 4 kbit, one unit; Xilinx:
    # the budget counts RAMB36 tiles, a RAMB18 of 18 kbit with the parity bits is half of one).
    bram_shapes: tuple[tuple[int, int, float], ...] = ()
    lut_inputs: int = 4            # a LUT's inputs (a 2**k-bit table)
    lutram_bits: int = 0           # bits one LUT holds as distributed RAM (0: the family has none)
    # A register-to-register path of L adder levels of W-bit values takes
    #     path_intercept_ns + L * ns_per_adder_level + W * ns_per_carry_bit
    # (clock-to-out, setup and the routing into and out of the path; the carry chains of successive levels overlap,
    # so width adds once). Fitted to nextpnr on iCE40 and ECP5 by benchmarks/timing_calibration.py.
    path_intercept_ns: float = 0.0
    ns_per_carry_bit: float = 0.0
    # The widest signed operands (a, b) one DSP slice multiplies (DSP48E1: 25 x 18; SB_MAC16: 16 x 16).
    dsp_operand_bits: tuple[int, int] = (16, 16)
    # LUTs Yosys maps datapath pieces to, per bit (calibrated against Yosys 0.23 by benchmarks/cost_calibration.py):
    adder_luts_per_bit: float = 1.0          # a two-input adder (with the carry chain)
    accumulator_luts_per_bit: float = 1.0    # an accumulator's adder with its reload-or-add select
    mult_luts_per_bit_pair: float = 0.5      # a variable product in fabric: x_bits * w_bits of these
    const_select_luts_per_bit: float = 1.0   # a weight chosen by phase from constants
    select_luts_factor: float = 1.0          # a value chosen by phase from variables: times the mux tree's LUTs
    quant_luts_per_acc_bit: float = 1.0      # an output's Relu/Quantize (rounding adder, clamp), per accumulator bit
    elementwise_luts_per_bit: float = 1.0    # an elementwise unit (Add, MaxPool, ...), per output bit
    rom_logic_luts_factor: float = 1.0       # a ROM in logic: times its table LUTs and the mux tree over them
    control_luts_per_bit: float = 1.0        # a stream design's handshakes and counters, per control register bit

    def path_ns(self, levels: int, width: int = 16) -> float:
        """Predicted delay of a register-to-register path of `levels` adder levels of `width`-bit values."""
        return self.path_intercept_ns + levels * self.ns_per_adder_level + width * self.ns_per_carry_bit

    def predicted_fmax_mhz(self, levels: int, width: int = 16) -> float:
        """The clock the deepest such path allows (MHz)."""
        return 1000.0 / self.path_ns(max(levels, 1), width)

    def levels_per_stage(self, clock_ns: float, width: int = 16) -> int:
        """Adder levels between two registers that fit one clock period (at least one), for `width`-bit sums."""
        room = clock_ns - self.path_intercept_ns - width * self.ns_per_carry_bit
        return max(1, int(room / self.ns_per_adder_level + 1e-9))

    def bram_blocks(self, width: int, depth: int) -> float:
        """Block RAM units a ROM of `width` bits x `depth` words takes (0 for an empty one)."""
        if width <= 0 or depth <= 0 or not self.bram_shapes:
            return 0
        best = min(-(-width // w) * -(-depth // d) * units for w, d, units in self.bram_shapes)
        return int(best) if float(best).is_integer() else best

    def stages_for(self, levels: int, clock_ns: float) -> int:
        """Register stages a `levels`-deep adder graph needs: one at its end, more where it is deeper than a period."""
        return max(1, math.ceil(levels / self.levels_per_stage(clock_ns)))


FAMILIES = {
    "xilinx": FamilyTiming("xilinx", ns_per_adder_level=1.6, dsp_min_product_bits=16, bram_bits=18 * 1024,
                           bram_shapes=tuple((w, d, 0.5) for w, d in ((36, 512), (18, 1024), (9, 2048), (4, 4096),
                                                                          (2, 8192), (1, 16384))) +
                           tuple((w, d, 1) for w, d in ((72, 512), (36, 1024), (18, 2048), (9, 4096), (4, 8192),
                                                        (2, 16384), (1, 32768))),
                           lut_inputs=6, lutram_bits=64, dsp_operand_bits=(25, 18),
                           # fitted to 157 unit modules (benchmarks/cost_calibration.py); a LUT6 absorbs an output's
                           # rounding and clamp into the adders before it (the fit leaves them nothing of their own)
                           adder_luts_per_bit=1.06, accumulator_luts_per_bit=0.8, mult_luts_per_bit_pair=1.97,
                           const_select_luts_per_bit=0.45, select_luts_factor=1.19, quant_luts_per_acc_bit=0.0,
                           elementwise_luts_per_bit=1.75, rom_logic_luts_factor=1.8, control_luts_per_bit=3.0),
    "ice40": FamilyTiming("ice40", ns_per_adder_level=2.62, path_intercept_ns=7.24, dsp_min_product_bits=16,
                          bram_bits=4 * 1024,
                          bram_shapes=((16, 256, 1), (8, 512, 1), (4, 1024, 1), (2, 2048, 1)), lut_inputs=4,
                          dsp_min_variable_product_bits=11,
                          # fitted to 157 unit modules (benchmarks/cost_calibration.py); a LUT4 holds less: a
                          # fabric product and an output's rounding and clamp cost more than on a LUT6
                          adder_luts_per_bit=1.03, accumulator_luts_per_bit=0.0, mult_luts_per_bit_pair=1.83,
                          const_select_luts_per_bit=0.11, select_luts_factor=0.56, quant_luts_per_acc_bit=3.27,
                          elementwise_luts_per_bit=2.0, rom_logic_luts_factor=0.99, control_luts_per_bit=1.5),
    # ECP5: timing fitted to nextpnr-ecp5; its LUT4 figures are iCE40's (not fitted on ECP5 yet)
    "ecp5": FamilyTiming("ecp5", ns_per_adder_level=2.21, path_intercept_ns=5.50, dsp_min_product_bits=16,
                         bram_bits=18 * 1024,
                         bram_shapes=((36, 512, 1), (18, 1024, 1), (9, 2048, 1), (4, 4096, 1), (2, 8192, 1),
                                      (1, 16384, 1)), lut_inputs=4, dsp_operand_bits=(18, 18),
                         adder_luts_per_bit=1.03, accumulator_luts_per_bit=0.0, mult_luts_per_bit_pair=1.83,
                         const_select_luts_per_bit=0.11, select_luts_factor=0.56, quant_luts_per_acc_bit=3.27,
                         elementwise_luts_per_bit=2.0, rom_logic_luts_factor=0.99, control_luts_per_bit=1.5),
}
# iCE40 and ECP5 are fitted to nextpnr 0.11's routed Fmax (benchmarks/timing_calibration.py --fit: MLPs at 2-7 adder
# levels of 18-bit sums between registers on an HX8K and an LFE5U-85F speed 6). The width of those sums was not
# varied, so its share is in the intercept and ns_per_carry_bit stays 0. Xilinx's figure is a first-order estimate.


def family_timing(family: str) -> FamilyTiming:
    try:
        return FAMILIES[family]
    except KeyError:
        raise ModelError(f"no timing model for FPGA family {family!r} (known: {', '.join(sorted(FAMILIES))})") from None


def tree_depth(n_terms: int) -> int:
    """Levels of a balanced tree of two-input adders over n terms."""
    return math.ceil(math.log2(n_terms)) if n_terms > 1 else 0


@dataclass(frozen=True)
class CpuModel:
    """A microcontroller core as the C backend's estimates see it (what qemu measures is exact; these only plan).

    dsp: the Armv7E-M DSP extension (SMLAD: two 16-bit multiply-accumulates per instruction);
    cycles_per_instruction: a first-order average for this code (loads and multiplies, few branches);
    instructions_per_mac: an inner product step, portable C and (with DSP) the SMLAD path;
    packed_instructions_per_mac: the portable step on 4-bit weights packed two per byte (a sign extension each);
    code_bytes_per_instruction: Thumb-2 mixes 2- and 4-byte encodings."""

    cpu: str
    dsp: bool
    cycles_per_instruction: float
    instructions_per_mac: float
    dsp_instructions_per_mac: float
    packed_instructions_per_mac: float
    code_bytes_per_instruction: float = 3.0


CPUS = {
    "host": CpuModel("host", False, 0.5, 3.0, 3.0, 3.3, 4.0),
    "cortex-m0": CpuModel("cortex-m0", False, 1.4, 5.0, 5.0, 5.5, 2.0),
    "cortex-m0plus": CpuModel("cortex-m0plus", False, 1.3, 5.0, 5.0, 5.5, 2.0),
    "cortex-m3": CpuModel("cortex-m3", False, 1.3, 4.0, 4.0, 4.6),
    "cortex-m4": CpuModel("cortex-m4", True, 1.3, 4.0, 1.3, 4.6),
    "cortex-m7": CpuModel("cortex-m7", True, 0.8, 4.0, 1.3, 4.6),
    "cortex-m33": CpuModel("cortex-m33", True, 1.3, 4.0, 1.3, 4.6),
}


def cpu_model(cpu: str) -> CpuModel:
    try:
        return CPUS[cpu]
    except KeyError:
        raise ModelError(f"no cost model for CPU {cpu!r} (known: {', '.join(sorted(CPUS))})") from None
