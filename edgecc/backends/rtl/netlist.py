"""A builder of signed datapaths whose every wire is exactly as wide as its value range needs.

The builder records what each wire computes as plain data (a statement kind, its operands, its width); the
template `templates/rtl/netlist.j2` writes the Verilog. Every wire is declared signed and every operand is signed,
so Verilog sign-extends each operand to the width of the wire it is assigned to (the generated modules turn
Verilator's WIDTHEXPAND lint off for that reason). Sums are computed modulo 2**width: an intermediate that
overflows inside one expression is harmless because the declared width always holds the exact final value.
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
    """A value in [lo, hi]: a signed wire or register (`name`), that wire shifted left (`shift`: wiring only), or a
    constant (`name` None)."""

    name: str | None
    lo: int
    hi: int
    bits: int = 0   # a declared width wider than the range needs (0: exactly the range)
    shift: int = 0
    base_width: int = 0  # a shifted wire: the width of the wire itself (what Verilog gives the expression)

    @property
    def is_const(self) -> bool:
        return self.name is None

    @property
    def width(self) -> int:
        return max(self.bits, signed_width(self.lo, self.hi))

    @property
    def operand_width(self) -> int:
        """The width this operand brings into an expression (a literal is sized to its context)."""
        return 0 if self.is_const else (self.base_width or self.width)

    @property
    def is_wire(self) -> bool:
        return self.name is not None and self.shift == 0

    def operand(self) -> dict:
        """Plain data for the template: a literal (written at its context's width) or a (shifted) signal."""
        if self.is_const:
            return {"lit": True, "value": self.lo}
        return {"lit": False, "name": self.name, "shift": self.shift}


def const(value: int) -> Sig:
    return Sig(None, int(value), int(value))


CASE_FROM = 4   # a select with more options than this is a case statement


@dataclass
class Netlist:
    """The statements and registers of one module; names are generated, never taken from the model."""

    statements: list[dict] = field(default_factory=list)
    regs: list[dict] = field(default_factory=list)
    functions: list[dict] = field(default_factory=list)   # lookup tables: name, in_width, width, entries
    roms: list[dict] = field(default_factory=list)        # weight ROMs read one word per phase
    uses_phase: bool = False
    phase_width: int = 1     # the width of the unit's phase input (set by the emitter from its II)
    count: int = 0
    _by_name: dict = field(default_factory=dict)

    def _name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}{self.count}"

    def _wire(self, kind: str, span: tuple[int, int], hint: str, bits: int = 0, **data) -> Sig:
        """A new wire computing `kind` over `data`, holding values in span = (lo, hi)."""
        s = Sig(self._name(hint), span[0], span[1], bits)
        stmt = {"kind": kind, "name": s.name, "width": s.width, "unused_bits": False, **data}
        self.statements.append(stmt)
        self._by_name[s.name] = stmt
        return s

    def partly_used(self, a: Sig) -> None:
        """Mark a wire or register of which only some bits are read (e.g. the sign bit of an unsigned code)."""
        record = self._by_name.get(a.name)
        if record is not None:
            record["unused_bits"] = True

    def bits(self, a: Sig, hi: int, lo: int, value_lo: int, value_hi: int, hint: str, signed: bool = True,
             bits: int = 0) -> Sig:
        """Bits [hi:lo] of wire `a` as a new wire, read as signed or (zero-extended) unsigned."""
        return self._wire("bits", (value_lo, value_hi), hint, bits, a=a.name, hi=hi, lo=lo, signed=signed)

    # ---- leaves ---------------------------------------------------------------------------------
    def input_slice(self, bus: str, offset: int, t: FixedType, hint: str = "x") -> Sig:
        return self._wire("slice", (t.min_int if t.signed else 0, t.max_int), hint, bus=bus, lo=offset,
                          hi=offset + t.width - 1, signed=t.signed)

    # ---- arithmetic -----------------------------------------------------------------------------
    def shifted(self, a: Sig, shift: int) -> Sig:
        """a * 2**shift as an expression (wiring only: no logic, no wire of its own)."""
        if shift == 0:
            return a
        if a.is_const:
            return const(a.lo << shift)
        return Sig(a.name, a.lo << shift, a.hi << shift, shift=a.shift + shift, base_width=a.operand_width)

    def add(self, a: Sig, b: Sig, subtract: bool = False) -> Sig:
        lo, hi = (a.lo - b.hi, a.hi - b.lo) if subtract else (a.lo + b.lo, a.hi + b.hi)
        # never narrower than an operand: a difference can need fewer bits than what it subtracts
        w = max(signed_width(lo, hi), a.operand_width, b.operand_width)
        return self._wire("add", (lo, hi), "a", bits=w, a=a.operand(), b=b.operand(), subtract=subtract)

    def neg(self, a: Sig) -> Sig:
        return self._wire("neg", (-a.hi, -a.lo), "g", a=a.operand())

    def mul(self, a: Sig, b: Sig) -> Sig:
        corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        return self._wire("mul", (min(corners), max(corners)), "m", a=a.operand(), b=b.operand())

    def relu(self, a: Sig) -> Sig:
        if a.lo >= 0:
            return a
        a = self.materialize(a)
        w = signed_width(0, max(a.hi, 0))
        if w < a.width - 1:  # the bits between the value and the sign are sign copies
            self.partly_used(a)
        return self._wire("relu", (0, max(a.hi, 0)), "r", a=a.name, msb=a.width - 1, low=w)

    def select(self, sel: str | Sig, options: list[Sig], default: Sig | None = None) -> Sig:
        """options[k] when sel == k, else default (or 0); sel is the unit's phase ("phase") or a non-negative wire.
        A few options are a chain of conditionals; more are a case statement, which simulators decode as a tree
        and synthesis as one parallel multiplexer (a chain of hundreds costs Verilator a comparison each)."""
        default = default or const(0)
        lo = min([o.lo for o in options] + [default.lo])
        hi = max([o.hi for o in options] + [default.hi])
        if isinstance(sel, Sig):
            name, sel_width = sel.name, sel.width
        else:
            name, sel_width = sel, self.phase_width
            self.uses_phase = True
        kind = "select_case" if len(options) > CASE_FROM else "select"
        return self._wire(kind, (lo, hi), "u", sel=name, sel_width=sel_width,
                          options=[o.operand() for o in options], default=default.operand())

    def materialize(self, a: Sig) -> Sig:
        """A wire for an expression (a constant or a shifted wire), so its bits can be selected."""
        if a.is_wire:
            return a
        return self._wire("assign", (a.lo, a.hi), "v", a=a.operand())

    def widen(self, a: Sig, width: int) -> Sig:
        """`a` in a wire of at least `width` bits (sign-extended), e.g. to keep a remainder field below the sign."""
        return self._wire("assign", (a.lo, a.hi), "e", bits=width, a=a.operand())

    def accumulator(self, lo: int, hi: int) -> Sig:
        """A register whose next value is given later (`update`), for sums that feed back on themselves."""
        return Sig(self._name("acc"), lo, hi)

    def update(self, reg: Sig, value: Sig, enable: str) -> None:
        record = {"name": reg.name, "width": reg.width, "value": value.operand(), "hi": None, "enable": enable,
                  "unused_bits": False}
        self.regs.append(record)
        self._by_name[reg.name] = record

    def register(self, a: Sig, enable: str = "adv") -> Sig:
        if a.is_const:
            return a
        s = Sig(self._name("q"), a.lo, a.hi)
        hi = None
        if a.is_wire and a.width > s.width:  # keep only the bits the range needs
            hi = s.width - 1
            self.partly_used(a)
        record = {"name": s.name, "width": s.width, "value": a.operand(), "hi": hi, "enable": enable,
                  "unused_bits": False}
        self.regs.append(record)
        self._by_name[s.name] = record
        return s

    def low_bits(self, a: Sig, width: int, lo: int, hi: int) -> Sig:
        """The low `width` bits of `a`, when the value is known to lie in [lo, hi] (the top bits are copies)."""
        self.partly_used(a)
        return self.bits(a, width - 1, 0, lo, hi, "t")

    def requantize(self, a: Sig, shift: int, rounding: str, out_t: FixedType, lo: int, hi: int) -> Sig:
        """The IR's Quantize: divide by 2**shift rounding with `rounding`, then clamp to [lo, hi] or wrap."""
        r = self.materialize(self.shifted(a, -shift)) if shift <= 0 else self._round(a, shift, rounding)
        if out_t.overflow == "WRAP":
            if r.width <= out_t.width and (r.lo >= out_t.min_int and r.hi <= out_t.max_int):
                return r
            self.partly_used(r)
            return self.bits(r, out_t.width - 1, 0, out_t.min_int, out_t.max_int, "p", signed=out_t.signed)
        if r.lo >= lo and r.hi <= hi:
            return r
        new_lo, new_hi = max(r.lo, lo), min(r.hi, hi)
        full = self._wire("clamp", (min(r.lo, lo), max(r.hi, hi)), "c", bits=max(r.width, signed_width(lo, hi)),
                          a=r.name, a_width=r.width, lo=lo, hi=hi, clamp_lo=r.lo < lo, clamp_hi=r.hi > hi)
        if full.width == signed_width(new_lo, new_hi):
            return Sig(full.name, new_lo, new_hi, bits=full.width)
        self.partly_used(full)
        return self.bits(full, signed_width(new_lo, new_hi) - 1, 0, new_lo, new_hi, "c")

    def scale(self, a: Sig, multiplier: int, right: int) -> Sig:
        """The IR's Requantize before its clamp (TFLite's integer requantization): a * multiplier (M0 * 2**left) over
        2**31 rounded half toward +infinity, then over 2**right rounded half away from zero."""
        if multiplier == 0 or (a.is_const and a.lo == 0):
            return const(0)
        high = self._round(self.mul(self.materialize(a), const(multiplier)), 31, "HALF_POS_INF")
        return self._round(high, right, "HALF_UP") if right > 0 else high

    def _round(self, a: Sig, shift: int, rounding: str) -> Sig:
        a = self.materialize(a)
        if shift >= a.width:  # keep a remainder field below the sign bit
            a = self.widen(a, shift + 1)
        fl_lo, fl_hi = a.lo >> shift, a.hi >> shift
        floor = self.bits(a, a.width - 1, shift, fl_lo, fl_hi, "f", bits=a.width - shift)
        if rounding == "FLOOR":
            self.partly_used(a)  # the bits below the point are dropped
            return floor
        up = -((-a.hi) >> shift)  # the ceiling of the top of the range
        w = max(signed_width(fl_lo, up), floor.width, 2)   # floor + a 2-bit increment: never narrower
        return self._wire("round", (fl_lo, up), "o", bits=w, floor=floor.name, a=a.name, msb=a.width - 1,
                          shift=shift, mode=rounding)

    # ---- comparisons, tables, constant division ------------------------------------------------------
    def max(self, a: Sig, b: Sig) -> Sig:
        if a.is_const and b.is_const:
            return const(max(a.lo, b.lo))
        a, b = self.materialize(a), self.materialize(b)
        return self._wire("max", (max(a.lo, b.lo), max(a.hi, b.hi)), "x", bits=max(a.width, b.width), a=a.name,
                          b=b.name)

    def sign_mux(self, sign_of: Sig, negative: Sig, otherwise: Sig) -> Sig:
        """`negative` where `sign_of` < 0, else `otherwise`."""
        sign_of = self.materialize(sign_of)
        lo, hi = min(negative.lo, otherwise.lo), max(negative.hi, otherwise.hi)
        return self._wire("sign_mux", (lo, hi), "s", s=sign_of.name, msb=sign_of.width - 1, neg=negative.operand(),
                          pos=otherwise.operand())

    def lookup(self, a: Sig, first: int, entries: list[int], hint: str = "t") -> Sig:
        """entries[a - first], for every a in [first, first + len(entries) - 1] (a lookup table, one function per
        distinct table in the module)."""
        key = tuple(entries)
        fn = next((f for f in self.functions if f["key"] == key), None)
        if fn is None:
            in_width = max(1, (len(entries) - 1).bit_length())
            fn = {"key": key, "name": f"lut{len(self.functions)}", "in_width": in_width,
                  "width": signed_width(min(entries), max(entries)), "entries": list(entries)}
            self.functions.append(fn)
        index = self.add(a, const(-first)) if first else self.materialize(a)
        bits = self.bits(index, fn["in_width"] - 1, 0, 0, len(entries) - 1, "i", signed=False) \
            if index.width > fn["in_width"] else index
        if index.width > fn["in_width"]:
            self.partly_used(index)
        if bits.width > fn["in_width"]:   # the table reads the index bits below its (zero) sign bit
            self.partly_used(bits)
        return self._wire("call", (min(entries), max(entries)), hint, bits=fn["width"], fn=fn["name"],
                          a=bits.name, a_width=min(bits.width, fn["in_width"]))

    def counter(self, n: int, enable: str = "take", hint: str = "pos") -> Sig:
        """A register counting 0 .. n-1 and round again where `enable` holds (by default the tokens the unit takes),
        0 after the design's reset."""
        reg = Sig(self._name(hint), 0, n - 1)
        nxt = self._wire("wrap_inc", (0, n - 1), "n", a=reg.name, last=n - 1, width_a=reg.width)
        self.update(reg, nxt, enable)
        self.regs[-1]["reset"] = True   # starts at the frame's first position
        return reg

    def phase_bits(self, hi: int, lo: int, hint: str) -> Sig:
        """Bits [hi:lo] of the unit's phase as a non-negative wire."""
        self.uses_phase = True
        return self.bits(Sig("phase", 0, (1 << self.phase_width) - 1), hi, lo, 0, (1 << (hi - lo + 1)) - 1, hint,
                         signed=False)

    def flag(self, a: Sig | str, value: int, hint: str = "at") -> str:
        """A one-bit wire: `a` (a non-negative wire, or "phase") equals `value`; for register enables."""
        if isinstance(a, str):
            name, width = a, self.phase_width
            self.uses_phase = True
        else:
            name, width = a.name, a.width
        s = self._wire("flag", (0, 1), hint, a=name, a_width=width, value=value)
        return s.name

    def rom(self, words: list[int], width: int, style: str, hint: str = "rom") -> Sig:
        """A ROM of `width`-bit words, one per phase, read synchronously: its output register holds word[phase] at
        every phase (it loads word 0 on reset and the next phase's word whenever the phase advances), so synthesis
        maps it to block RAM where `style` ("block", "distributed", "logic": the rom_style attribute) says so. The
        returned register is read through `bits`."""
        name, q = self._name(hint), self._name("q")
        self.roms.append({"name": name, "q": q, "width": width, "depth": len(words), "aw": self.phase_width,
                          "style": style, "words": [format(w, "x") for w in words],
                          "wrap": len(words) == 1 << self.phase_width})
        self.uses_phase = True
        return Sig(q, 0, (1 << width) - 1)

    def mark_unread_inputs(self, packed: list[dict]) -> None:
        """Input slices nothing reads (a strided window skips the last positions) are kept, marked unused."""
        read: set[str] = set()

        def walk(v):
            if isinstance(v, str):
                read.add(v)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, (list, tuple)):
                for x in v:
                    walk(x)
        for stmt in self.statements:
            walk({k: v for k, v in stmt.items() if k != "name"})
        for r in self.regs:
            walk({k: v for k, v in r.items() if k != "name"})
        walk(packed)
        for stmt in self.statements:
            if stmt["kind"] == "slice" and stmt["name"] not in read:
                stmt["unused_bits"] = True

    def div_round(self, a: Sig, d: int, shift: int, rounding: str) -> Sig:
        """round(a * 2**shift / d) exactly, for a positive integer d: a power-of-two divisor is a rounding shift;
        any other a multiplication by ceil(2**k / d) and a shift (exact for every a in range: k is chosen so that
        the product's error never reaches the next integer), the remainder deciding the rounding as `_round`."""
        num = self.shifted(a, shift) if shift >= 0 else a
        den = d << max(-shift, 0)
        if den & (den - 1) == 0:
            return self._round(num, den.bit_length() - 1, rounding) if den > 1 else self.materialize(num)
        base = (num.lo // den) * den                      # a multiple of den at or below every value
        n0 = self.materialize(self.add(num, const(-base))) if base else self.materialize(num)
        top = n0.hi
        k = max(top.bit_length(), 1)
        while True:
            m = -(-(1 << k) // den)
            if top * (m * den - (1 << k)) < (1 << k):
                break
            k += 1
        product = self.mul(n0, const(m))
        q0 = self.bits(product, product.width - 1, k, 0, top // den, "d", signed=True)
        self.partly_used(product)
        if rounding == "FLOOR":   # the quotient as it is: no remainder to look at
            return self.add(q0, const(base // den)) if base else q0
        rem = self.add(n0, self.mul(q0, const(den)), subtract=True)
        rem = Sig(rem.name, 0, den - 1, bits=rem.width)
        floor = self.add(q0, const(base // den)) if base else q0
        neg = self.materialize(a) if not a.is_const else a
        up_max = (num.hi + den - 1) // den
        return self._wire("div_round", (floor.lo, up_max), "q", bits=max(floor.width, signed_width(floor.lo, up_max)),
                          floor=floor.name, rem=rem.name, rem_width=rem.width, den=den, neg=neg.name,
                          neg_msb=neg.width - 1, mode=rounding)

    def pack(self, values: list[Sig], width: int) -> list[dict]:
        """Plain data for `{...}` concatenation of the values as `width`-bit fields, the first value lowest."""
        parts = []
        for v in values:
            if v.is_const:
                parts.append({"kind": "lit", "width": width, "value": v.lo % (1 << width)})
                continue
            v = self.materialize(v)
            if v.width < width:
                parts.append({"kind": "sext", "name": v.name, "width": v.width, "pad": width - v.width})
            else:
                if v.width > width:
                    self.partly_used(v)
                parts.append({"kind": "low", "name": v.name, "width": width})
        return list(reversed(parts))
