"""A small builder of signed Verilog-2001 datapaths whose every wire is exactly as wide as its value range needs.

Every wire is declared signed and every operand is signed, so Verilog sign-extends each operand to the width
of the wire it is assigned to (the generated modules turn Verilator's WIDTHEXPAND lint off for that reason).
Sums are computed modulo 2**width: an intermediate that overflows inside one expression is harmless because
the declared width always holds the exact final value.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...ir.types import FixedType


def signed_width(lo: int, hi: int) -> int:
    """Bits of the narrowest two's complement number holding every integer in [lo, hi]."""
    lo, hi = min(lo, 0), max(hi, 0)
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


@dataclass(frozen=True)
class Sig:
    """A signed wire (or register) holding integers in [lo, hi]."""

    name: str  # a wire, or a parenthesized expression of signed wires (a constant, a shifted input)
    lo: int
    hi: int
    bits: int = 0  # a declared width wider than the range needs (0: exactly the range)
    const: bool = False
    expr_width: int = 0  # for an expression: the width Verilog gives it by itself (its signal's)

    @property
    def operand_width(self) -> int:
        """The width this operand brings into an expression (a literal is sized to its context)."""
        return 0 if self.const else (self.expr_width or self.width)

    @property
    def width(self) -> int:
        return max(self.bits, signed_width(self.lo, self.hi))

    @property
    def is_const(self) -> bool:
        return self.const


def const(value: int) -> Sig:
    w = signed_width(value, value)
    text = f"{w}'sd{value}" if value >= 0 else f"-{w}'sd{-value}"
    return Sig(f"({text})", value, value, const=True)


@dataclass
class Netlist:
    """Declarations and registers of one module; names are generated, never taken from the model."""

    prefix: str = "n"
    lines: list[str] = field(default_factory=list)
    regs: list[tuple[str, int, str, str]] = field(default_factory=list)  # name, width, next value, enable
    partial_regs: set = field(default_factory=set)  # registers of which only some bits are read
    count: int = 0

    def _name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}{self.count}"

    def wire(self, expr: str, lo: int, hi: int, hint: str = "w", lint_off: str | None = None, bits: int = 0) -> Sig:
        s = Sig(self._name(hint), lo, hi, bits)
        decl = f"wire signed [{s.width - 1}:0] {s.name} = {expr};"
        if lint_off:
            decl = f"/* verilator lint_off {lint_off} */ {decl} /* verilator lint_on {lint_off} */"
        self.lines.append(decl)
        return s

    def partly_used(self, a: Sig) -> None:
        """Mark a wire of which only the low bits are read (e.g. the sign bit of an unsigned code)."""
        for k, line in enumerate(self.lines):
            if line.startswith(f"wire signed [{a.width - 1}:0] {a.name} = "):
                self.lines[k] = f"/* verilator lint_off UNUSEDSIGNAL */ {line} /* verilator lint_on UNUSEDSIGNAL */"
                return
        if any(r[0] == a.name for r in self.regs):
            self.partial_regs.add(a.name)

    # ---- leaves ---------------------------------------------------------------------------------
    def input_slice(self, bus: str, offset: int, t: FixedType, hint: str = "x") -> Sig:
        bits = f"{bus}[{offset + t.width - 1}:{offset}]" if t.width > 1 else f"{bus}[{offset}]"
        expr = f"$signed({bits})" if t.signed else f"$signed({{1'b0, {bits}}})"
        return self.wire(expr, t.min_int if t.signed else 0, t.max_int, hint)

    # ---- arithmetic -----------------------------------------------------------------------------
    def shifted(self, a: Sig, shift: int) -> Sig:
        """a * 2**shift as an expression (wiring only: no logic, no wire of its own)."""
        if shift == 0:
            return a
        if a.is_const:
            return const(a.lo << shift)
        return Sig(f"({a.name} <<< {shift})", a.lo << shift, a.hi << shift, expr_width=a.operand_width)

    def add(self, a: Sig, b: Sig, subtract: bool = False) -> Sig:
        lo, hi = (a.lo - b.hi, a.hi - b.lo) if subtract else (a.lo + b.lo, a.hi + b.hi)
        # never narrower than an operand: a difference can need fewer bits than what it subtracts
        w = max(signed_width(lo, hi), a.operand_width, b.operand_width)
        op = "-" if subtract else "+"
        return self.wire(f"{self._ext(a, w)} {op} {self._ext(b, w)}", lo, hi, "a", bits=w)

    def neg(self, a: Sig) -> Sig:
        w = signed_width(-a.hi, -a.lo)
        return self.wire(f"-{self._ext(a, w)}", -a.hi, -a.lo, "g")

    def mul(self, a: Sig, b: Sig) -> Sig:
        corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        lo, hi = min(corners), max(corners)
        w = signed_width(lo, hi)
        return self.wire(f"{self._ext(a, w)} * {self._ext(b, w)}", lo, hi, "m")

    def relu(self, a: Sig) -> Sig:
        if a.lo >= 0:
            return a
        w = signed_width(0, max(a.hi, 0))
        low = f"{a.name}[{w - 1}:0]" if w > 1 else f"{a.name}[0]"
        if w < a.width - 1:  # the bits between the value and the sign are sign copies
            self.partly_used(a)
        return self.wire(f"{a.name}[{a.width - 1}] ? {w}'sd0 : $signed({low})", 0, max(a.hi, 0), "r")

    def select(self, sel: str, options: list[Sig], default: Sig | None = None) -> Sig:
        """options[k] when sel == k, else default (or 0)."""
        default = default or const(0)
        lo = min([o.lo for o in options] + [default.lo])
        hi = max([o.hi for o in options] + [default.hi])
        w = signed_width(lo, hi)
        expr = self._ext(default, w)
        for k in reversed(range(len(options))):
            expr = f"({sel} == {k}) ? {self._ext(options[k], w)} : {expr}"
        return self.wire(expr, lo, hi, "u")

    def materialize(self, a: Sig) -> Sig:
        """A wire for an expression (a constant or a shifted input), so its bits can be selected."""
        if a.name.startswith("("):
            return self.wire(self._ext(a, a.width), a.lo, a.hi, "v")
        return a

    def accumulator(self, lo: int, hi: int) -> Sig:
        """A register whose next value is given later (`update`), for sums that feed back on themselves."""
        return Sig(self._name("acc"), lo, hi)

    def update(self, reg: Sig, value: Sig, enable: str) -> None:
        self.regs.append((reg.name, reg.width, value.name, enable))

    def register(self, a: Sig, enable: str = "adv") -> Sig:
        if a.is_const:
            return a
        s = Sig(self._name("q"), a.lo, a.hi)
        value = a.name
        if not a.name.startswith("(") and a.width > s.width:  # keep only the bits the range needs
            value = f"{a.name}[{s.width - 1}:0]"
            self.partly_used(a)
        self.regs.append((s.name, s.width, value, enable))
        return s

    def requantize(self, a: Sig, shift: int, rounding: str, out_t: FixedType, lo: int, hi: int) -> Sig:
        """The IR's Quantize: divide by 2**shift rounding with `rounding`, then clamp to [lo, hi] or wrap."""
        if shift <= 0:
            r = self.materialize(self.shifted(a, -shift))
        else:
            r = self._round(a, shift, rounding)
        if out_t.overflow == "WRAP":
            bits = f"{r.name}[{out_t.width - 1}:0]" if out_t.width > 1 else f"{r.name}[0]"
            expr = f"$signed({bits})" if out_t.signed else f"$signed({{1'b0, {bits}}})"
            if r.width <= out_t.width and (r.lo >= out_t.min_int and r.hi <= out_t.max_int):
                return r
            self.partly_used(r)
            return self.wire(expr, out_t.min_int, out_t.max_int, "p")
        if r.lo >= lo and r.hi <= hi:
            return r
        new_lo, new_hi = max(r.lo, lo), min(r.hi, hi)
        w = max(r.width, signed_width(lo, hi))
        expr = self._ext(r, w)
        if r.hi > hi:
            expr = f"({r.name} > {self._lit(hi, r.width)}) ? {self._lit(hi, w)} : {expr}"
        if r.lo < lo:
            expr = f"({r.name} < {self._lit(lo, r.width)}) ? {self._lit(lo, w)} : ({expr})"
        full = self.wire(expr, min(r.lo, lo), max(r.hi, hi), "c")
        if full.width == signed_width(new_lo, new_hi):
            return Sig(full.name, new_lo, new_hi)
        self.partly_used(full)
        return self.wire(f"{full.name}[{signed_width(new_lo, new_hi) - 1}:0]", new_lo, new_hi, "c")

    def _round(self, a: Sig, shift: int, rounding: str) -> Sig:
        if shift >= a.width:  # keep a remainder field below the sign bit
            a = self.wire(self._ext(a, shift + 1), a.lo, a.hi, "e", bits=shift + 1)
        fl_lo, fl_hi = a.lo >> shift, a.hi >> shift
        top = f"{a.name}[{a.width - 1}:{shift}]" if a.width - 1 > shift else f"{a.name}[{a.width - 1}]"
        floor = self.wire(f"$signed({top})", fl_lo, fl_hi, "f", bits=a.width - shift)
        if rounding == "FLOOR":
            self.partly_used(a)  # the bits below the point are dropped
            return floor
        rem = f"{a.name}[{shift - 1}:0]" if shift > 1 else f"{a.name}[0]"
        neg = f"{a.name}[{a.width - 1}]"
        half = 1 << (shift - 1)
        nz = f"(|{rem})"
        gt = f"({rem} > {shift}'d{half})"
        eq = f"({rem} == {shift}'d{half})"
        odd = f"{floor.name}[0]"
        inc = {
            "CEIL": nz, "DOWN": f"({neg} & {nz})", "UP": f"(~{neg} & {nz})",
            "ROUND": f"({gt} | ({eq} & {odd}))", "HALF_UP": f"({gt} | ({eq} & ~{neg}))",
            "HALF_DOWN": f"({gt} | ({eq} & {neg}))", "HALF_POS_INF": f"({gt} | {eq})", "HALF_NEG_INF": gt,
        }[rounding]
        up = -((-a.hi) >> shift)  # the ceiling of the top of the range
        w = max(signed_width(fl_lo, up), floor.width)
        return self.wire(f"{floor.name} + $signed({{1'b0, {inc}}})", fl_lo, up, "o", bits=w)

    @staticmethod
    def _lit(value: int, width: int) -> str:
        return f"{width}'sd{value}" if value >= 0 else f"-{width}'sd{-value}"

    @staticmethod
    def _ext(a: Sig, width: int) -> str:
        """An operand: signed, so the assignment's width extends it (a constant is written at that width)."""
        if a.is_const:
            return Netlist._lit(a.lo, width)
        return a.name

    @staticmethod
    def sign_extend(a: Sig, width: int) -> str:
        """`a` explicitly sign-extended to `width` bits, for concatenations (which have no context width)."""
        if a.is_const:
            return f"{width}'d{a.lo % (1 << width)}"
        if width <= a.width:
            return a.name
        return f"{{{{{width - a.width}{{{a.name}[{a.width - 1}]}}}}, {a.name}}}"
