"""The C backend: every suite case bit-exact on the board's CPU under qemu (Cortex-M0, M3, M4 and M7; SMLAD and the
portable loop where the CPU has DSP), the measured figures, the arena planner against a brute force, the float
wrapper, two models in one program, zero weights that cost nothing, and a model too big for its board.
(tests/test_parity.py runs every case on the host build.)"""
from __future__ import annotations

import itertools
import os
import subprocess

import numpy as np
import pytest

import edgecc
from conftest import require_tool
from edgecc.errors import InfeasibleTarget, ModelError
from helpers import probe_inputs
from models import qonnx_mlp
from suite import cases

CASES = cases()
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "jet_tagging_mlp.onnx")
QEMU_RUNS = [("qemu-m0", False), ("qemu-m3", False), ("qemu-m4", False), ("qemu-m4", True), ("qemu-m7", False),
             ("qemu-m7", True)]


def require_arm():
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")


@pytest.mark.parametrize("board,portable", QEMU_RUNS, ids=lambda v: v if isinstance(v, str) else
                         ("portable" if v else "native"))
@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if not c.fpga_only))
def test_suite_case_is_bit_exact_under_qemu(name, board, portable, tmp_path):
    require_arm()
    graph = CASES[name].graph()
    project = edgecc.compile(graph, backend="c", board=board, out=str(tmp_path / "c"))
    result = project.run_result(probe_inputs(graph, 200, seed=len(name)), target="qemu", portable=portable)
    result.check()
    assert result.vectors == 200 and result.mismatches == 0
    mcu = project.report["mcu"]
    dsp = any(u["microarch"] == "c_smlad" for u in project.report["layers"])
    assert mcu["inner_product"] == ("smlad" if dsp and not portable else "portable")
    assert mcu["instructions_per_inference"] > 0 and mcu["stack_bytes"] > 0
    assert mcu["flash"] == mcu["text"] + mcu["data"] and mcu["ram"] == mcu["data"] + mcu["bss"]


def test_the_dsp_path_is_chosen_by_the_cpu_and_recorded(tmp_path):
    require_arm()
    graph = edgecc.load(EXAMPLE)
    m4 = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "m4")).report
    m3 = edgecc.compile(graph, backend="c", board="qemu-m3", out=str(tmp_path / "m3")).report
    assert {l["microarch"] for l in m4["layers"] if l["op"] == "Dense"} == {"c_smlad"}
    assert {l["microarch"] for l in m3["layers"] if l["op"] == "Dense"} == {"c_loop"}


def test_example_under_qemu_m4_counts_instructions_per_layer_and_smlad_is_faster(tmp_path):
    require_arm()
    graph = edgecc.load(EXAMPLE)
    project = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "c"))
    x = probe_inputs(graph, 50)
    dsp = project.run_result(x, target="qemu").check().extra["mcu"]
    loop = project.run_result(x, target="qemu", portable=True).check().extra["mcu"]
    assert {"u0", "u1", "u2", "u3"} <= set(dsp["layer_instructions"]) <= {f"u{k}" for k in range(20)}  # functions only
    assert sum(dsp["layer_instructions"].values()) <= dsp["instructions_per_inference"]
    assert dsp["instructions_per_inference"] < 0.5 * loop["instructions_per_inference"]
    assert dsp["estimated_latency_us"] > 0


def _all_lifetimes(name):
    from edgecc.boards import get_board
    from edgecc.schedule import schedule_graph
    from edgecc.schedule.c import CCostModel
    from edgecc.schedule.memory import Lifetime

    graph = CASES[name].graph()
    s = schedule_graph(graph, CCostModel, get_board("qemu-m4"), graph.config)
    arena = [b for b in s.buffers if b.home == "arena"]
    return s, [Lifetime(b.tensor, b.size, b.first, b.last) for b in arena]


def brute_force_arena(lifetimes) -> int:
    """The smallest arena over every placement where each buffer starts at 0 or where another one ends (aligned):
    any packing can be pushed down to such a one without growing."""
    from edgecc.schedule.memory import align

    best = None
    n = len(lifetimes)
    for choice in itertools.product(range(n + 1), repeat=n):
        offsets = [0] * n
        ok = True
        for i in range(n):  # resolve offsets in index order; a choice pointing forward is skipped
            c = choice[i]
            if c == n:
                offsets[i] = 0
            elif c < i:
                offsets[i] = align(offsets[c] + lifetimes[c].size)
            else:
                ok = False
                break
        if not ok:
            continue
        clash = any(a.overlaps(b) and offsets[i] < offsets[j] + b.size and offsets[j] < offsets[i] + a.size
                    for (i, a), (j, b) in itertools.combinations(enumerate(lifetimes), 2))
        if not clash:
            peak = align(max(o + b.size for o, b in zip(offsets, lifetimes)))
            best = peak if best is None else min(best, peak)
    return best


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_arena_is_no_bigger_than_a_brute_force_optimum(name):
    from edgecc.schedule.memory import live_peak, plan_arena

    s, lifetimes = _all_lifetimes(name)
    offsets, arena = plan_arena(lifetimes)
    for a, b in itertools.combinations(lifetimes, 2):  # a valid packing: buffers live together never overlap
        if a.overlaps(b):
            assert offsets[a.name] + a.size <= offsets[b.name] or offsets[b.name] + b.size <= offsets[a.name]
    assert arena >= live_peak(lifetimes)
    # brute force up to 6 buffers (7^6 placements); larger cases are sorted by the order search the planner does
    if len(lifetimes) <= 6:
        assert arena <= brute_force_arena(lifetimes)


def run_float_harness(main, tmp_path, top: str) -> list[str]:
    """Build a harness `main` (a .c file) with the C project in tmp_path/c (its float entry points and the model),
    run it, and return its output lines."""
    binary = str(tmp_path / "w")
    src = tmp_path / "c" / "src"
    _compile_c([str(main), str(src / f"{top}_float.c"), str(src / f"{top}.c")], [str(tmp_path / "c" / "include")],
               binary, tmp_path)
    return subprocess.run([binary], capture_output=True, text=True, check=True).stdout.splitlines()


def _compile_c(sources, include_dirs, out, tmp_path):
    gcc = require_tool("gcc")
    cmd = [gcc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-fno-strict-aliasing", *sources, "-lm", "-o", out]
    for d in include_dirs:
        cmd[1:1] = ["-I", d]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[:3000]


def test_two_models_link_into_one_program(tmp_path):
    """Every external symbol carries the model's name: two models in one program, each bit-exact."""
    a = edgecc.load(CASES["qonnx_residual"].model)
    b = edgecc.load(CASES["qdq_int8"].model)
    pa = edgecc.compile(a, backend="c", out=str(tmp_path / "a"))
    pb = edgecc.compile(b, backend="c", out=str(tmp_path / "b"))
    na, nb = pa.report["top"], pb.report["top"]
    assert na != nb
    xa, xb = probe_inputs(a, 300, seed=1), probe_inputs(b, 300, seed=2)
    from edgecc.ir.golden import quantize_inputs, run_codes

    ca, cb = quantize_inputs(a, [xa])[0].reshape(300, -1), quantize_inputs(b, [xb])[0].reshape(300, -1)
    main = tmp_path / "main.c"
    main.write_text(f"""#include <stdio.h>
#include "{na}.h"
#include "{nb}.h"
static const long long A[300][{ca.shape[1]}] = {{{", ".join("{" + ", ".join(map(str, r)) + "}" for r in ca)}}};
static const long long B[300][{cb.shape[1]}] = {{{", ".join("{" + ", ".join(map(str, r)) + "}" for r in cb)}}};
int main(void) {{
    for (int v = 0; v < 300; v++) {{
        {na}_input_t ia[{ca.shape[1]}]; {na}_output_t oa[{na.upper()}_OUTPUT_SIZE];
        {nb}_input_t ib[{cb.shape[1]}]; {nb}_output_t ob[{nb.upper()}_OUTPUT_SIZE];
        for (int i = 0; i < {ca.shape[1]}; i++) ia[i] = ({na}_input_t)A[v][i];
        for (int i = 0; i < {cb.shape[1]}; i++) ib[i] = ({nb}_input_t)B[v][i];
        {na}_infer(ia, oa);
        {nb}_infer(ib, ob);
        for (int j = 0; j < {na.upper()}_OUTPUT_SIZE; j++) printf("%lld ", (long long)oa[j]);
        printf("| ");
        for (int j = 0; j < {nb.upper()}_OUTPUT_SIZE; j++) printf("%lld ", (long long)ob[j]);
        printf("\\n");
    }}
    return 0;
}}
""")
    binary = str(tmp_path / "both")
    _compile_c([str(main), str(tmp_path / "a" / "src" / f"{na}.c"), str(tmp_path / "b" / "src" / f"{nb}.c")],
               [str(tmp_path / "a" / "include"), str(tmp_path / "b" / "include")], binary, tmp_path)
    lines = subprocess.run([binary], capture_output=True, text=True, check=True).stdout.splitlines()
    want_a, want_b = run_codes(a, [quantize_inputs(a, [xa])[0]])[0], run_codes(b, [quantize_inputs(b, [xb])[0]])[0]
    got = [[[int(v) for v in half.split()] for half in line.split("|")] for line in lines]
    assert [g[0] for g in got] == want_a.reshape(300, -1).tolist()
    assert [g[1] for g in got] == want_b.reshape(300, -1).tolist()


SPECIAL_INPUTS = [1e300, -1e300, float("inf"), float("-inf"), 0.0, -0.0, 5e-324, -5e-324, 1e-45, -1e-45, 3e-39, -3e-39]


def _float_wrapper_graph(name):
    if name == "negative_frac_ceil":     # codes count fours: tiny inputs underflow when scaled, yet round up to 1
        return edgecc.load(qonnx_mlp((6, 8, 3), seed=4, in_frac=-2, act_frac=-1, rounding="CEIL"))
    return CASES[name].graph()


def _golden_codes_or_error(graph, x):
    from edgecc.ir.golden import quantize_inputs
    try:
        return quantize_inputs(graph, [x])[0].ravel().tolist()
    except ModelError:          # an input with no code (infinity into a wrapping type): the wrapper returns -1
        return "error"


@pytest.mark.parametrize("name", ["qonnx_round_unsigned_act", "qonnx_ceil_narrow_unsigned", "qonnx_half_down_wide",
                                  "qdq_uint8_zp10", "float_wrap_input", "qonnx_up_deep", "negative_frac_ceil",
                                  "ort_qdq_cnn", "qonnx_scaled"])
def test_float_wrapper_quantizes_inputs_exactly_as_the_golden_model(name, tmp_path):
    """The double entry point on double inputs and, where the types allow it, the single-precision one on float
    inputs: every code equals the golden model's, for ties, saturation, infinities, signed zeros and subnormals."""
    graph = _float_wrapper_graph(name)
    project = edgecc.compile(graph, backend="c", out=str(tmp_path / "c"))
    top = project.report["top"]
    shape = tuple(graph.tensor(graph.inputs[0]).shape)
    flat = probe_inputs(graph, 400, seed=3).reshape(400, -1)
    flat[:len(SPECIAL_INPUTS)] = np.asarray(SPECIAL_INPUTS)[:, None]
    single = "_quantize_input_float" in (tmp_path / "c" / "include" / f"{top}_float.h").read_text()
    assert single == (name != "float_wrap_input")      # a wrapping input needs the double path
    with np.errstate(over="ignore"):                    # 1e300 is infinity in float
        kinds = [("double", flat)] + ([("float", flat.astype(np.float32).astype(np.float64))] if single else [])
    main = tmp_path / "q.c"
    body = []
    for kind, xs in kinds:
        fn = f"{top}_quantize_input" + ("_float" if kind == "float" else "")
        rows = ", ".join("{" + ", ".join(repr(float(v)) + ("f" if kind == "float" else "") for v in r) + "}"
                         for r in xs).replace("inff", "INFINITY").replace("inf", "INFINITY")
        body.append(f"""    {{
        static const {kind} X[400][{flat.shape[1]}] = {{{rows}}};
        for (int v = 0; v < 400; v++) {{
            {top}_input_t c[{flat.shape[1]}];
            if ({fn}(X[v], c) != 0) {{ printf("error\\n"); continue; }}
            for (int i = 0; i < {flat.shape[1]}; i++) printf("%lld ", (long long)c[i]);
            printf("\\n");
        }}
    }}""")
    main.write_text(f"""#include <math.h>
#include <stdio.h>
#include "{top}_float.h"
int main(void) {{
{chr(10).join(body)}
    return 0;
}}
""")
    binary = str(tmp_path / "q")
    _compile_c([str(main), str(tmp_path / "c" / "src" / f"{top}_float.c"), str(tmp_path / "c" / "src" / f"{top}.c")],
               [str(tmp_path / "c" / "include")], binary, tmp_path)
    lines = subprocess.run([binary], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(lines) == 400 * len(kinds)
    for k, (kind, xs) in enumerate(kinds):
        got = [line if line == "error" else [int(v) for v in line.split()] for line in lines[400 * k:400 * (k + 1)]]
        assert got == [_golden_codes_or_error(graph, row.reshape((1,) + shape)) for row in xs], kind


def test_float_wrapper_of_a_scaled_model_gives_the_golden_values(tmp_path):
    """Scales that are not powers of two: infer_double gives the golden model's exact values (code * scale in
    double), infer_float the float32 product code * scale that DequantizeLinear computes."""
    graph = CASES["ort_qdq_cnn"].graph()
    project = edgecc.compile(graph, backend="c", out=str(tmp_path / "c"))
    top = project.report["top"]
    x = probe_inputs(graph, 100, seed=8)
    flat = x.reshape(100, -1)
    n_out = graph.tensor(graph.outputs[0]).size
    rows = ", ".join("{" + ", ".join(repr(float(v)) + "f" for v in r) + "}" for r in flat)
    main = tmp_path / "w.c"
    main.write_text(f"""#include <stdio.h>
#include "{top}_float.h"
static const float X[100][{flat.shape[1]}] = {{{rows}}};
int main(void) {{
    static double xd[{flat.shape[1]}];
    for (int v = 0; v < 100; v++) {{
        double y[{n_out}];
        float yf[{n_out}];
        for (int i = 0; i < {flat.shape[1]}; i++) xd[i] = X[v][i];
        if ({top}_infer_double(xd, y) || {top}_infer_float(X[v], yf)) return 1;
        for (int j = 0; j < {n_out}; j++) printf("%a %a ", y[j], (double)yf[j]);
        printf("\\n");
    }}
    return 0;
}}
""")
    lines = run_float_harness(main, tmp_path, top)
    got = np.array([[float.fromhex(v) for v in line.split()] for line in lines]).reshape(100, -1, 2)
    golden = graph.golden(x)
    np.testing.assert_array_equal(got[:, :, 0], golden)
    scale = np.float32(np.ravel(graph.tensor(graph.outputs[0]).scale)[0])
    codes = np.round(golden / float(scale)).astype(np.float32)
    np.testing.assert_array_equal(got[:, :, 1], (codes * scale).astype(np.float64))


def test_zero_weights_cost_no_instruction(tmp_path):
    """Three quarters of the weights pruned: only the rest is computed. Were the zeros multiplied, the pruned model
    would cost as much as the dense one; scattered nonzero weights cost an index load each, so not a quarter."""
    require_arm()
    dense = qonnx_mlp(sizes=(32, 32, 8), seed=5)
    pruned = qonnx_mlp(sizes=(32, 32, 8), seed=5)
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    for init in pruned.graph.initializer:
        w = numpy_helper.to_array(init)
        if w.ndim == 2:
            w = np.where(rng.random(w.shape) < 0.75, 0.0, w).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(w, init.name))
    counts = []
    for model in (dense, pruned):
        graph = edgecc.load(model)
        project = edgecc.compile(graph, backend="c", board="qemu-m3", out=str(tmp_path / str(len(counts))))
        mcu = project.run_result(probe_inputs(graph, 20), target="qemu").check().extra["mcu"]
        counts.append(sum(v for k, v in mcu["layer_instructions"].items() if k.startswith("u")))
    assert counts[1] < 0.6 * counts[0]


def test_a_model_too_big_for_the_board_exits_3_naming_both_figures_and_the_largest_layer(tmp_path):
    board = tmp_path / "tiny.yaml"
    board.write_text("name: tiny-m0\nfamily: cortex-m\ncpu: cortex-m0\nfpu: none\nclock_mhz: 16\nflash: 4 KiB\n"
                     "ram: 2 KiB\n")
    graph = edgecc.load(EXAMPLE)
    with pytest.raises(InfeasibleTarget, match=r"estimated FLASH \d+ exceeds tiny-m0's 4096; largest layer 'fc2'"):
        edgecc.compile(graph, backend="c", board=str(board), out=str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def test_project_builds_a_library_for_a_real_board_and_runs_on_the_host(tmp_path):
    require_tool("arm-none-eabi-gcc")
    graph = edgecc.load(EXAMPLE)
    project = edgecc.compile(graph, backend="c", board="nucleo-f411re", out=str(tmp_path / "c"))
    top = project.report["top"]
    for rel in (f"include/{top}.h", f"include/{top}_float.h", f"src/{top}.c", f"src/{top}_float.c",
                "harness/host_main.c", "Makefile", "README.md", "tb_data/input_codes.txt"):
        assert (tmp_path / "c" / rel).is_file(), rel
    assert not (tmp_path / "c" / "board").exists()  # no qemu machine: no startup code or linker script
    proc = subprocess.run(["make", "-s", "lib", f"BUILD={tmp_path / 'b'}"], cwd=tmp_path / "c", capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "b" / "nucleo-f411re" / f"lib{top}.a").is_file()
    header = (tmp_path / "c" / "include" / f"{top}.h").read_text()
    assert f"void {top}_infer(const {top}_input_t *in, {top}_output_t *out);" in header
    with pytest.raises(ModelError, match="has no qemu machine"):
        project.run(probe_inputs(graph, 5), target="qemu")
    np.testing.assert_array_equal(project.run(probe_inputs(graph, 300)), graph.golden(probe_inputs(graph, 300)))
