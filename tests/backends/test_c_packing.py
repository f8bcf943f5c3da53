"""The C backend's 4-bit weight packing: weights of 4 bits or fewer two per byte (pack_weights on/auto/off),
bit-exact on the host and under qemu for signed, unsigned, ternary and pruned weights; the scheduler's choice
between SMLAD pairs and packed fields for a board's flash and a latency target; the option refused elsewhere."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import edgecc
from conftest import require_tool
from edgecc.errors import InfeasibleTarget, ModelError
from helpers import probe_inputs
from models import QonnxBuilder, qonnx_mlp
from suite import cases

CASES = cases()


def unsigned_w4_mlp(seed: int = 7):
    """Quant(x) -> MatMul(Quant(W, 4 bits unsigned)) + bias -> Relu -> Quant -> MatMul(Quant(W, 2 bits unsigned)):
    weights that are codes 0..15 and 0..3 (the unsigned nibble path)."""
    rng = np.random.default_rng(seed)
    b = QonnxBuilder(11)
    h = b.quant("x", 8, 4)
    for i, (k, m, bits) in enumerate([(11, 9, 4), (9, 6, 2)]):
        wq = b.quant(b.const(rng.uniform(0, 1, size=(k, m))), bits, bits - 1, signed=False)
        b.nodes.append(helper.make_node("MatMul", [h, wq], [f"mm{i}"], name=f"mm{i}"))
        h = f"mm{i}"
        if i == 0:
            h = b.quant(b.relu(h), 8, 3, signed=False)
    return b.model(h, 6)


PACKED_MODELS = {
    "w4_pruned": lambda: CASES["qonnx_w4_pruned"].graph(),
    "w3_dense": lambda: CASES["qonnx_w3_dense"].graph(),
    "ternary": lambda: edgecc.load(qonnx_mlp((20, 12, 7), seed=9, w_bits=2, w_frac=1, rounding="HALF_DOWN")),
    "w4_no_zeros": lambda: edgecc.load(qonnx_mlp((8, 16, 5), seed=2, w_bits=4, w_frac=4)),
    "unsigned": lambda: edgecc.load(unsigned_w4_mlp()),
}


def dense_micro(project) -> set[str]:
    return {l["microarch"] for l in project.report["layers"] if l["op"] == "Dense"}


@pytest.mark.parametrize("name", sorted(PACKED_MODELS))
def test_packed_weights_are_bit_exact_on_the_host(name, tmp_path):
    graph = PACKED_MODELS[name]()
    project = edgecc.compile(graph, backend="c", out=str(tmp_path / "c"), pack_weights="on")
    assert dense_micro(project) == {"c_packed"}
    assert project.report["options"] == {"pack_weights": "on"}
    result = project.run_result(probe_inputs(graph, 1000, seed=11))
    assert result.vectors == 1000 and result.mismatches == 0
    result.check()


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m3", "qemu-m4"])
@pytest.mark.parametrize("name", sorted(PACKED_MODELS))
def test_packed_weights_are_bit_exact_under_qemu_and_smaller(name, board, tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    graph = PACKED_MODELS[name]()
    x = probe_inputs(graph, 200, seed=len(name))
    packed = edgecc.compile(graph, backend="c", board=board, out=str(tmp_path / "p"), pack_weights="on")
    plain = edgecc.compile(graph, backend="c", board=board, out=str(tmp_path / "u"), pack_weights="off")
    assert dense_micro(packed) == {"c_packed"} and "c_packed" not in dense_micro(plain)
    got = packed.run_result(x, target="qemu").check()
    assert got.vectors == 200 and got.mismatches == 0
    assert packed.report["mcu"]["inner_product"] == "portable"
    if board == "qemu-m3":  # the weights' own arrays: half the bytes (each output's own run may end on a nibble)
        from edgecc.sim.mcu import build, symbols

        def weight_bytes(project, suffixes):
            top = project.report["top"]
            build_dir, _ = build(project.out_dir, "elf", "", True)
            elf = os.path.join(build_dir, board, f"{top}.elf")
            return sum(size for sym, (_, size, _) in symbols(elf).items()
                       if sym.startswith(f"{top}_u") and sym.rsplit("_", 1)[-1] in suffixes)

        w_plain = weight_bytes(plain, {"w"})
        w_packed = weight_bytes(packed, {"wq", "wb"})
        outputs = sum(int(np.prod(graph.tensor(n.output).shape)) for n in graph.nodes if n.op == "Dense")
        assert 0 < w_packed <= (w_plain + outputs) // 2 + 2 * len(graph.nodes), (w_packed, w_plain)
        assert w_packed < 0.7 * w_plain


def test_auto_packs_where_the_loop_is_portable_and_it_saves_flash(tmp_path):
    """No DSP: packed by default where the estimate says it saves flash; with DSP: SMLAD by default."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
    import jet_tagging_mlp

    graph = edgecc.load(jet_tagging_mlp.build(w_bits=4))
    m0 = edgecc.compile(graph, backend="c", board="qemu-m0", out=str(tmp_path / "m0"))
    m0_off = edgecc.compile(graph, backend="c", board="qemu-m0", out=str(tmp_path / "m0off"), pack_weights="off")
    m4 = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "m4"))
    assert m0.report["options"] == {"pack_weights": "auto"}
    assert "c_packed" in dense_micro(m0) and dense_micro(m0_off) == {"c_loop"}
    assert m0.report["resources"]["flash"] < m0_off.report["resources"]["flash"]
    for layer in m0.report["layers"]:   # each layer packed exactly where that is the smaller
        if layer["op"] == "Dense":
            plain = next(l for l in m0_off.report["layers"] if l["name"] == layer["name"])
            assert (layer["microarch"] == "c_packed") == (layer["resources"]["flash"] < plain["resources"]["flash"])
    assert dense_micro(m4) == {"c_smlad"}
    eight_bit = edgecc.compile(edgecc.load(jet_tagging_mlp.build()), backend="c", board="qemu-m0",
                               out=str(tmp_path / "w8"), pack_weights="on")
    assert dense_micro(eight_bit) == {"c_loop"}   # 8-bit weights do not pack: the option changes nothing


def _board(tmp_path, flash: int) -> str:
    path = tmp_path / f"m4_{flash}.yaml"
    path.write_text(f"name: small-m4\nfamily: cortex-m\ncpu: cortex-m4\nfpu: fpv4-sp-d16\nclock_mhz: 25\n"
                    f"flash: {flash}\nram: 64 KiB\n")
    return str(path)


def test_a_board_too_small_for_smlad_pairs_gets_packed_weights(tmp_path):
    """SMLAD's 16-bit pairs take four times a packed weight's flash: on a part they do not fit, auto folds the
    layers that give back the most to packed fields until the model fits; off cannot, and says so (exit 3)."""
    graph = edgecc.load(qonnx_mlp((64, 64, 32, 10), seed=4, w_bits=4, w_frac=4))
    smlad = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "s")).report
    packed = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "p"), pack_weights="on").report
    assert packed["resources"]["flash"] < smlad["resources"]["flash"]
    budget = (packed["resources"]["flash"] + smlad["resources"]["flash"]) // 2
    fitted = edgecc.compile(graph, backend="c", board=_board(tmp_path, budget), out=str(tmp_path / "f")).report
    assert fitted["resources"]["flash"] <= budget
    assert "c_packed" in dense_micro_report(fitted) and "c_smlad" in dense_micro_report(fitted)
    with pytest.raises(InfeasibleTarget, match=r"estimated FLASH \d+ exceeds small-m4's \d+; largest layer"):
        edgecc.compile(graph, backend="c", board=_board(tmp_path, budget), out=str(tmp_path / "o"),
                       pack_weights="off")
    assert not (tmp_path / "o").exists()
    with pytest.raises(InfeasibleTarget, match="exceeds small-m4's"):
        edgecc.compile(graph, backend="c", board=_board(tmp_path, packed["resources"]["flash"] - 1),
                       out=str(tmp_path / "o"))


def dense_micro_report(report) -> set[str]:
    return {l["microarch"] for l in report["layers"] if l["op"] == "Dense"}


def test_a_latency_target_keeps_smlad_where_packing_would_miss_it(tmp_path):
    graph = edgecc.load(qonnx_mlp((64, 64, 32, 10), seed=4, w_bits=4, w_frac=4))
    fast = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "a")).report
    slow = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "b"), pack_weights="on").report
    assert fast["latency_cycles"] < slow["latency_cycles"]
    tight = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "c"),
                           latency_cycles=fast["latency_cycles"]).report
    assert dense_micro_report(tight) == {"c_smlad"}
    loose = edgecc.compile(graph, backend="c", board="qemu-m4", out=str(tmp_path / "d"),
                           latency_cycles=slow["latency_cycles"]).report
    assert dense_micro_report(loose) == {"c_packed"}   # the target's slack buys flash
    assert loose["resources"]["flash"] == slow["resources"]["flash"]


def test_pack_weights_is_a_c_option_with_known_values(tmp_path):
    graph = CASES["qonnx_w3_dense"].graph()
    with pytest.raises(ModelError, match=r"the hls backend does not take the compile option --pack-weights"):
        edgecc.compile(graph, backend="hls", out=str(tmp_path / "h"), pack_weights="on")
    with pytest.raises(ModelError, match=r"--pack-weights must be one of auto, on, off, got 'yes'"):
        edgecc.compile(graph, backend="c", out=str(tmp_path / "c"), pack_weights="yes")
    assert not (tmp_path / "h").exists() and not (tmp_path / "c").exists()
    model = tmp_path / "m.onnx"
    model.write_bytes(CASES["qonnx_w3_dense"].model.SerializeToString())
    proc = subprocess.run([sys.executable, "-m", "edgecc", "compile", str(model), "-b", "rtl", "-o",
                           str(tmp_path / "r"), "--pack-weights", "on"], capture_output=True, text=True)
    assert proc.returncode == 2 and "does not take the compile option --pack-weights" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r").exists()
    proc = subprocess.run([sys.executable, "-m", "edgecc", "compile", str(model), "-b", "c", "-o",
                           str(tmp_path / "c"), "--pack-weights", "on"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "c_packed" in (tmp_path / "c" / "schedule.json").read_text()
