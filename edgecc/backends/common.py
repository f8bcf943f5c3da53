"""What every backend shares: safe identifiers, the layer list, and atomic writing of OUT."""
from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile

C_KEYWORDS = set("""alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
char32_t class compl concept const consteval constexpr constinit const_cast continue co_await co_return
co_yield decltype default delete do double dynamic_cast else enum explicit export extern false float for
friend goto if inline int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private
protected public register reinterpret_cast requires restrict return short signed sizeof static static_assert
static_cast struct switch template this thread_local throw true try typedef typeid typename union unsigned
using virtual void volatile wchar_t while xor xor_eq main""".split())
VERILOG_KEYWORDS = set("""always and assign begin buf case casex casez cmos deassign default defparam disable edge
else end endcase endfunction endmodule endprimitive endspecify endtable endtask event for force forever fork
function highz0 highz1 if initial inout input integer join large macromodule medium module nand negedge nmos
nor not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup rcmos real
realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared small specify specparam strength
strong0 strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg vectored
wait wand weak0 weak1 while wire wor xnor xor logic bit byte int shortint longint generate endgenerate
genvar localparam signed unsigned""".split())


class Namer:
    """Maps untrusted model names to unique identifiers valid in C, C++, Verilog and file names."""

    def __init__(self, reserved: set[str] | None = None):
        self.used: set[str] = set(reserved or ())
        self.names: dict[tuple[str, str], str] = {}

    def __call__(self, text: str, kind: str = "") -> str:
        key = (kind, text)
        if key in self.names:
            return self.names[key]
        base = re.sub(r"[^A-Za-z0-9_]", "_", str(text)).strip("_") or "n"
        base = re.sub(r"_+", "_", base)[:48]
        if base[0].isdigit():
            base = f"n{base}"
        if base.lower() in C_KEYWORDS or base in VERILOG_KEYWORDS or keyword.iskeyword(base) \
                or base.startswith("ap_") or base.startswith("edgecc"):
            base = f"{base}_"
        name, k = base, 2
        while name.lower() in {u.lower() for u in self.used}:  # case-insensitive: names become file names
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        self.names[key] = name
        return name


def label(text: str) -> str:
    """A model name made safe to print inside a C/Verilog comment or a Markdown table (not an identifier)."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_-.:" else "_" for c in str(text))[:80]


def atomic_output(out_dir: str):
    """A context manager yielding a temporary folder that becomes `out_dir` only if the block succeeds."""
    return _AtomicDir(out_dir)


class _AtomicDir:
    def __init__(self, out_dir: str):
        self.out_dir = os.path.abspath(out_dir)

    def __enter__(self) -> str:
        parent = os.path.dirname(self.out_dir)
        os.makedirs(parent, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(self.out_dir)}.tmp-", dir=parent)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        if os.path.exists(self.out_dir):
            shutil.rmtree(self.out_dir)
        os.rename(self.tmp, self.out_dir)
        os.chmod(self.out_dir, 0o755)
        return False


def write_test_vectors(g, tb_dir: str, n_random: int = 61) -> int:
    """Deterministic test vectors over the whole input range (extremes and zero first) and their golden outputs,
    as exact integers at any width."""
    import random

    import numpy as np

    from ..codes import write_codes
    from ..ir.golden import run_codes

    in_t = g.tensor(g.hw_inputs()[0])
    t = in_t.type
    edges = [[t.min_int] * in_t.size, [t.max_int] * in_t.size, [0] * in_t.size]
    if t.fits_int64():
        rng = np.random.default_rng(0)
        rand = rng.integers(t.min_int, t.max_int, size=(n_random, in_t.size), endpoint=True).tolist()
    else:  # numpy's generator stops at 64 bits
        rng = random.Random(0)
        rand = [[rng.randint(t.min_int, t.max_int) for _ in range(in_t.size)] for _ in range(n_random)]
    codes = np.array(edges + rand, dtype=t.int_dtype()).reshape((-1,) + tuple(in_t.shape))
    write_codes(os.path.join(tb_dir, "input_codes.txt"), codes)
    write_codes(os.path.join(tb_dir, "output_codes.txt"), run_codes(g, [codes])[0])
    return len(codes)
