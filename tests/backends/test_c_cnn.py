"""The C backend on convolutional networks: every CNN test model (and a float one) bit-exact against the golden model
on the host and on the board's CPU under qemu (Cortex-M0, M3, M4 with SMLAD and portable, M7); an extra model for
the paths those leave out (a grouped conv with pruned taps, Concat along a spatial axis, Softmax over rows, Pad of
the channels, a constant that varies along every axis); the float wrapper reading a channels-first input through
the input quantizer's perm; zero taps that cost no instruction; the arena; ResNet-8 (compile time, bit-exact on the
host and under qemu-m4, its figures against the cost model) and too big for the micro:bit (exit 3)."""
from __future__ import annotations

import itertools
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest

import edgecc
from backends.test_c import require_arm, run_float_harness
from conftest import require_tool
from edgecc.ir.golden import quantize_inputs
from edgecc.schedule.c import STACK_RESERVE, scratch_name
from edgecc.schedule.timing import cpu_model
from helpers import probe_inputs
from models_cnn import CNN_MODELS, CnnBuilder, float_cnn, resnet8


def cnn_extras(seed=11) -> onnx.ModelProto:
    """[N, 4, 7, 6]: a grouped Conv (two input channels per group) whose weights leave a tap of one block of outputs
    and a whole row of taps of the other zero, and a 1x1 Conv -> Concat of three tensors of three fractions along
    H -> Mul by a per-channel constant -> MaxPool dilated, padded at one end -> AveragePool counting the padding,
    FLOOR -> Softmax over channels (15 rows) -> Pad of channels and width -> Add of a constant of the full shape."""
    b = CnnBuilder((4, 7, 6), "cnn_extras", seed)
    h = b.quant("x", 8, 4)
    g = b.conv(h, 4, 8, (3, 3), group=2, pads=[1, 1, 1, 1])
    w_quant = next(n for n in b.nodes if n.output[0] == b.nodes[-1].input[1])
    init = next(i for i in b.inits if i.name == w_quant.input[0])
    w = onnx.numpy_helper.to_array(init).copy()      # [8, 2, 3, 3]
    w[0:4, :, 0, 0] = 0
    w[4:8, :, 1, :] = 0
    init.CopyFrom(onnx.numpy_helper.from_array(w, init.name))
    a = b.quant(g, 8, 3)
    a2 = b.quant(b.conv(h, 4, 8, (1, 1)), 8, 5)
    a3 = b.quant(b.relu(a), 6, 2, signed=False)
    c = b.node("Concat", [a, a2, a3], "cat", axis=2)
    m = b.quant(b.node("Mul", [c, b.const(np.array([0.5, -1.5, 2, 1, 0.25, -0.75, 1.25, 3]).reshape(8, 1, 1))],
                       "mul"), 9, 4)
    p = b.node("MaxPool", [m], "pool", kernel_shape=[2, 2], strides=[2, 1], dilations=[2, 1], pads=[0, 1, 1, 0])
    v = b.quant(b.node("AveragePool", [p], "avg", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                       count_include_pad=1), 8, 4, rounding="FLOOR")
    s = b.quant(b.node("Softmax", [v], "softmax", axis=1), 8, 7, signed=False)
    pads = b.const(np.zeros(8))
    b.inits[-1] = onnx.numpy_helper.from_array(np.array([0, 1, 0, 1, 0, 0, 0, 2], dtype=np.int64), pads)
    q = b.node("Pad", [s, pads, b.const(np.float32(0.25))], "pad")
    r = b.quant(b.node("Add", [q, b.const(b.rng.normal(0, 1, size=(9, 5, 6)))], "add"), 10, 6)
    return b.model(r, [9, 5, 6])


MODELS = {**CNN_MODELS, "float_cnn": float_cnn, "cnn_extras": cnn_extras}
QEMU_RUNS = [("qemu-m0", False), ("qemu-m3", False), ("qemu-m4", False), ("qemu-m4", True), ("qemu-m7", False)]


def _graph(name):
    return edgecc.load(MODELS[name]())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_cnn_is_bit_exact_on_the_host(name, tmp_path):
    require_tool("gcc")
    graph = _graph(name)
    project = edgecc.compile(graph, backend="c", out=str(tmp_path / "c"))
    result = project.run_result(probe_inputs(graph, 1000, seed=len(name)))
    result.check()
    assert result.vectors == 1000 and result.mismatches == 0


@pytest.mark.parametrize("board,portable", QEMU_RUNS, ids=lambda v: v if isinstance(v, str) else
                         ("portable" if v else "native"))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_cnn_is_bit_exact_under_qemu(name, board, portable, tmp_path):
    require_arm()
    graph = _graph(name)
    project = edgecc.compile(graph, backend="c", board=board, out=str(tmp_path / "c"))
    result = project.run_result(probe_inputs(graph, 100, seed=len(name) + 1), target="qemu", portable=portable)
    result.check()
    assert result.vectors == 100 and result.mismatches == 0
    mcu = project.report["mcu"]
    dsp = any(l["microarch"] == "c_smlad" for l in project.report["layers"])
    assert mcu["inner_product"] == ("smlad" if dsp and not portable else "portable")
    assert 0 < mcu["stack_bytes"] < STACK_RESERVE     # nothing on the stack grows with a tensor


@pytest.mark.parametrize("board", ["host", "qemu-m0"])
def test_conv_accumulates_in_int32_where_the_ir_allows_and_in_int64_where_it_must(board, tmp_path):
    """The float model at 24 bits: its sums of products need more than 32 bits (int64 accumulators, exact, also
    on the M0 without 64-bit multiply-accumulate); at its default 16 bits they fit int32."""
    if board != "host":
        require_arm()
    for precision, acc in (("fixed<24,10>", "int64_t"), (None, "int32_t")):
        graph = edgecc.load(float_cnn(), precision=precision)
        out = tmp_path / str(precision is None)
        project = edgecc.compile(graph, backend="c", board=board, out=str(out))
        source = (out / "src" / f"{project.report['top']}.c").read_text()
        assert f"{acc} a0 = 0" in source and f"{'int32_t' if acc == 'int64_t' else 'int64_t'} a0" not in source
        result = project.run_result(probe_inputs(graph, 300, seed=2), target="host" if board == "host" else "qemu")
        result.check()
        assert result.mismatches == 0


def test_smlad_convolutions_run_where_the_cpu_has_dsp_and_repay_it():
    """On the M4 a Conv with enough input channels per group takes SMLAD; the float model's first Conv (one input
    channel: each pair half zero) and a depthwise one take the portable loop, which is faster there."""
    from edgecc.boards import get_board
    from edgecc.schedule import schedule_graph
    from edgecc.schedule.c import CCostModel

    def micro(name, board):
        g = _graph(name)
        s = schedule_graph(g, CCostModel, get_board(board), g.config)
        return {u.head: u.point.microarch for u in s.units if g.node(u.head).op == "Conv"}

    assert set(micro("residual_block", "qemu-m4").values()) == {"c_smlad"}
    assert set(micro("residual_block", "qemu-m3").values()) == {"c_loop"}
    assert micro("float_cnn", "qemu-m4") == {"conv1": "c_loop", "conv2": "c_smlad"}
    assert micro("depthwise_separable", "qemu-m4") == {"conv6": "c_loop", "conv13": "c_smlad"}


def test_float_wrapper_reads_a_channels_first_input_through_the_perm(tmp_path):
    """The user's [C, H, W] array in, the port's channels-last codes out (the input quantizer's perm), in double and
    in single precision, for ties, saturation and signs; and the whole float path (quantize, infer, dequantize)
    gives the golden model's outputs."""
    graph = _graph("cnn2d_geometry")
    assert graph.input_quantizers()[0].attrs["perm"] == (1, 2, 0)
    project = edgecc.compile(graph, backend="c", out=str(tmp_path / "c"))
    top = project.report["top"]
    x = probe_inputs(graph, 200, seed=5)                        # [200, 3, 11, 10]: the model's own layout
    flat = x.reshape(200, -1)
    n_out = graph.tensor(graph.outputs[0]).size
    rows = ", ".join("{" + ", ".join(repr(float(v)) for v in r) + "}" for r in flat)
    main = tmp_path / "w.c"
    main.write_text(f"""#include <stdio.h>
#include "{top}_float.h"
static const double X[200][{flat.shape[1]}] = {{{rows}}};
int main(void) {{
    static float xf[{flat.shape[1]}];
    for (int v = 0; v < 200; v++) {{
        {top}_input_t c[{flat.shape[1]}], cf[{flat.shape[1]}];
        double y[{n_out}];
        for (int i = 0; i < {flat.shape[1]}; i++) xf[i] = (float)X[v][i];
        if ({top}_quantize_input(X[v], c) || {top}_quantize_input_float(xf, cf) || {top}_infer_double(X[v], y))
            return 1;
        for (int i = 0; i < {flat.shape[1]}; i++) printf("%d %d ", (int)c[i], (int)cf[i]);
        printf("|");
        for (int j = 0; j < {n_out}; j++) printf(" %.17g", y[j]);
        printf("\\n");
    }}
    return 0;
}}
""")
    lines = run_float_harness(main, tmp_path, top)
    codes = np.array([[int(v) for v in line.split("|")[0].split()] for line in lines]).reshape(200, -1, 2)
    want = quantize_inputs(graph, [x])[0].reshape(200, -1)      # the port's order: [200, 11, 10, 3] flattened
    np.testing.assert_array_equal(codes[:, :, 0], want)
    np.testing.assert_array_equal(codes[:, :, 1], want)
    assert not np.array_equal(want, quantize_inputs(graph, [x])[0].transpose(0, 3, 1, 2).reshape(200, -1))
    outputs = np.array([[float(v) for v in line.split("|")[1].split()] for line in lines])
    np.testing.assert_array_equal(outputs, graph.golden(x))


def _one_conv(kernel_mask) -> onnx.ModelProto:
    """[N, 16, 10, 10] -> Conv 3x3 (16 -> 16, pads 1) whose taps outside `kernel_mask` are zero -> Quant."""
    b = CnnBuilder((16, 10, 10), "one_conv", 3)
    h = b.quant("x", 8, 4)
    c = b.conv(h, 16, 16, (3, 3), pads=[1, 1, 1, 1])
    w_quant = next(n for n in b.nodes if n.output[0] == b.nodes[-1].input[1])
    init = next(i for i in b.inits if i.name == w_quant.input[0])
    w = onnx.numpy_helper.to_array(init) * np.asarray(kernel_mask, dtype=np.float32)[None, None]
    init.CopyFrom(onnx.numpy_helper.from_array(w.astype(np.float32), init.name))
    return b.model(b.quant(c, 8, 3), [16, 10, 10])


def test_zero_taps_cost_no_instruction(tmp_path):
    """A 3x3 kernel whose corners are zero (5 taps of 9): the blocks skip those taps' multiply-accumulates (5/9 of
    the work is left; the rows' loop set-up stays), so the conv costs about two thirds of the full one."""
    require_arm()
    counts = []
    for k, mask in enumerate((np.ones((3, 3)), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])):
        graph = edgecc.load(_one_conv(mask))
        project = edgecc.compile(graph, backend="c", board="qemu-m3", out=str(tmp_path / str(k)))
        mcu = project.run_result(probe_inputs(graph, 10), target="qemu").check().extra["mcu"]
        counts.append(mcu["layer_instructions"]["u0"])
    print(f"\n3x3 conv on qemu-m3: {counts[0]:.0f} instructions, corners zero: {counts[1]:.0f}", file=sys.stderr)
    assert counts[1] < 0.7 * counts[0]


@pytest.mark.parametrize("name", ["residual_block", "cnn_extras", "resnet8"])
def test_the_arena_holds_every_buffer_and_no_two_live_together_overlap(name):
    """Concat's inputs are all live at its step, an SMLAD Conv widening its input has its scratch in the arena, one
    whose input channels come in fours reads 8-bit activations as they are (not widened to 16 bits), and buffers
    live at one step never share a byte."""
    from edgecc.boards import get_board
    from edgecc.schedule import schedule_graph
    from edgecc.schedule.c import CCostModel
    from edgecc.schedule.memory import Lifetime, live_peak

    graph = edgecc.load(resnet8()) if name == "resnet8" else _graph(name)
    s = schedule_graph(graph, CCostModel, get_board("qemu-m4"), graph.config)
    arena = {b.tensor: b for b in s.buffers if b.home == "arena"}
    for a, b in itertools.combinations(arena.values(), 2):
        if a.first <= b.last and b.first <= a.last:
            assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a.tensor, b.tensor)
    total = max(b.offset + b.size for b in arena.values())
    assert total >= live_peak([Lifetime(b.tensor, b.size, b.first, b.last) for b in arena.values()])
    for step, u in enumerate(s.units):
        for t in u.inputs:
            plan = s.buffer(t)
            while plan.home == "alias":
                plan = s.buffer(plan.alias_of)
            if plan.home == "arena":
                assert plan.first <= step <= plan.last
        head = graph.node(u.head)
        if u.point.microarch == "c_smlad" and head.op == "Conv":
            stored = s.buffer(head.inputs[0]).ctype
            if graph.tensor(head.inputs[1]).shape[-2] % 4 == 0:    # four channels to a load: 8-bit stays 8-bit
                assert stored in ("int8_t", "uint8_t") or graph.tensor(head.inputs[0]).type.width > 8
            else:                                                    # pairs: 16-bit storage, or widened scratch
                assert stored == "int16_t" or scratch_name(u.name) in arena
    if name == "resnet8":   # the first Conv reads the caller's int8 image (3 channels): widened into scratch
        assert arena[scratch_name("conv6")].size >= 2 * 32 * 32 * 3


@pytest.mark.parametrize("name", ["cnn_extras", "cnn2d_geometry"])
def test_a_conv_widening_its_input_writes_only_its_scratch(name, tmp_path):
    """An SMLAD Conv reading the caller's 8-bit input widens it into its arena scratch, with a zeroed slack element
    past the end only where a tap's last pair reads there (an odd number of input channels per group)."""
    import re

    from edgecc.boards import get_board
    from edgecc.schedule import schedule_graph
    from edgecc.schedule.c import CCostModel

    graph = _graph(name)
    project = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "c"))
    source = (tmp_path / "c" / "src" / f"{project.report['top']}.c").read_text()
    s = schedule_graph(graph, CCostModel, get_board("qemu-m4"), graph.config)
    widened = 0
    for k, u in enumerate(s.units):
        if scratch_name(u.name) not in {b.tensor for b in s.buffers} or graph.node(u.head).op != "Conv":
            continue
        body = source[source.index(f"void {project.report['top']}_u{k}("):]
        body = body[:body.index("\n}\n")]
        written = [int(n) - 1 for n in re.findall(r"i < (\d+)u; i\+\+\) x16\[i\]", body)]
        written += [int(n) for n in re.findall(r"x16\[(\d+)\] = 0", body)]
        assert written and 2 * (max(written) + 1) <= s.buffer(scratch_name(u.name)).size
        widened += 1
    assert widened


def test_resnet8_compiles_in_a_minute_and_is_bit_exact_on_the_host_and_under_qemu_m4(tmp_path):
    require_arm()
    graph = edgecc.load(resnet8())
    start = time.perf_counter()
    project = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "c"))
    seconds = time.perf_counter() - start
    assert seconds < 60
    x = probe_inputs(graph, 10, seed=8)
    host = project.run_result(x)
    host.check()
    qemu = project.run_result(x, target="qemu")
    qemu.check()
    assert host.vectors == qemu.vectors == 10 and host.mismatches == qemu.mismatches == 0
    report = project.report
    mcu = report["mcu"]
    macs = sum(edgecc.ir.ops.op_def(n).cost(graph, n).mults for n in graph.compute_nodes())
    estimated = report["latency_cycles"] / cpu_model("cortex-m4").cycles_per_instruction
    print(f"\nresnet8 on qemu-m4: compile {seconds:.1f} s, {mcu['instructions_per_inference']:.0f} instructions per "
          f"inference ({macs} MACs inside the input; estimated {estimated:.0f}), flash {mcu['model_flash_bytes']} (estimated "
          f"{report['resources']['flash']}), RAM {mcu['model_ram_bytes']} (arena {report['arena_bytes']}), stack "
          f"{mcu['stack_bytes']}", file=sys.stderr)
    assert mcu["inner_product"] == "smlad"
    assert mcu["instructions_per_inference"] < 1.5 * macs   # SMLAD: two MACs an instruction (the loop: over 3)
    assert abs(mcu["instructions_per_inference"] / estimated - 1) < 0.25  # the cost model, first order
    assert abs(mcu["model_flash_bytes"] / report["resources"]["flash"] - 1) < 0.1
    assert mcu["model_ram_bytes"] == report["arena_bytes"] <= report["resources"]["ram"]
    assert mcu["stack_bytes"] < STACK_RESERVE


def test_resnet8_does_not_fit_the_micro_bit_and_exits_3(tmp_path):
    model = tmp_path / "resnet8.onnx"
    onnx.save(resnet8(), str(model))
    proc = subprocess.run([sys.executable, "-m", "edgecc", "compile", str(model), "-b", "c", "--board", "qemu-m0",
                           "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert "estimated RAM" in proc.stderr and "exceeds qemu-m0's 16384" in proc.stderr
    assert not (tmp_path / "out").exists()



def test_a_cnn_too_big_for_the_ram_names_the_activation_that_takes_it(tmp_path):
    """RAM is the arena of activations, no layer's own: exit 3 names the largest activation, and nothing is written."""
    from edgecc.errors import InfeasibleTarget

    graph = edgecc.load(resnet8())
    with pytest.raises(InfeasibleTarget, match=r"estimated RAM \d+ exceeds qemu-m0's 16384; the activations between "
                                               r"layers take it \(the largest: the output of 'conv6', 16384 values\)"):
        edgecc.compile(graph, backend="c", board="qemu-m0", out=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
