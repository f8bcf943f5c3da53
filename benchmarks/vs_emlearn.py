#!/usr/bin/env python3
"""edgecc's microcontroller C vs emlearn's on one small classifier, both on a Cortex-M4 under qemu, side by side.

    .venv/bin/python benchmarks/vs_emlearn.py          # what `make bench` runs
    .venv/bin/python benchmarks/vs_emlearn.py --seed 1 # another split and training run

One float model, twice:
  * the model: scikit-learn's MLPClassifier(hidden_layer_sizes=(32,), relu) trained on load_digits() (8x8 pixels
    0..16, scaled by 1/16, so every input is k/16: exact in float32), a fixed stratified train/test split;
  * emlearn: emlearn.convert(clf, method="loadable") -> its float C (eml_net.h), softmax output layer included;
  * edgecc: the same weights as an ONNX graph (Gemm, Relu, Gemm; float32), lowered at the cheapest of a few
    fixed-point precisions (integer bits from the data's and the weights' ranges) whose golden-model accuracy is
    within 1 point of the float model's; compiled with edgecc.compile(backend="c", board="qemu-m4").
Both run on qemu-system-arm -machine mps2-an386 (Cortex-M4F) in one run, built by the Makefile edgecc generated
(the same compiler flags, startup code, linker script and semihosting harness: for emlearn a small header points
the harness's inference call at emlearn's predict function), and counted by the same qemu TCG plugin between the
harness's edgecc_bench_begin/edgecc_bench_end marks, with the same stack painting. Measured: accuracy on the test
split, instructions per inference, the model's own RAM (static data + stack high-water of one inference) and flash,
and the whole ELF's sizes. edgecc's qemu outputs are checked against its golden model bit for bit.
Prints one table and writes it as JSON to bench_out/vs_emlearn.json (projects under bench_out/vs_emlearn/).
Exits 0 whenever the benchmark ran, whether or not the goal was met; non-zero only if something crashed.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from compare import environ, format_table, make_row, timed, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench_out")
WORK = os.path.join(OUT, "vs_emlearn")
GOAL = ("goal: edgecc at most half of emlearn's instructions per inference and no more RAM (the model's static "
        "RAM + the stack high-water of one inference)")
BOARD = "qemu-m4"
MODEL_NAME = "digits_mlp"          # the ONNX graph's name: edgecc's C prefix
EMLEARN_NAME = "digits_emlearn"    # emlearn's C prefix
HIDDEN = 32
ACCURACY_SLACK = 0.01              # edgecc's accuracy may be at most 1 point below the float model's
QEMU_TIMEOUT_S = 600
RAM_BASE = 0x20000000              # the MPS2 boards' RAM (link.ld): symbols at or above it live in RAM


def log(msg: str) -> None:
    print(f"[vs_emlearn {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)




def tool_version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0].strip()
    except (OSError, IndexError):
        return "?"


# ------------------------------------------------------------------------------------------ data, float model
def train(seed: int) -> dict:
    """load_digits scaled to [0, 1] (pixels k/16, exact in float32), a stratified 75/25 split, the float MLP."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.25, random_state=seed,
                                                        stratify=digits.target)
    clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", max_iter=1000, random_state=seed)
    clf.fit(x_train, y_train)
    return {"clf": clf, "x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
            "float_test": float(np.mean(clf.predict(x_test) == y_test)),
            "float_train": float(np.mean(clf.predict(x_train) == y_train))}


def onnx_model(clf):
    """The trained MLP as a float32 ONNX graph: Gemm -> Relu -> Gemm (logits; argmax = the class)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, h = [], [], "x"
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        inits += [numpy_helper.from_array(np.asarray(w, np.float32), f"W{i}"),
                  numpy_helper.from_array(np.asarray(b, np.float32), f"B{i}")]
        nodes.append(helper.make_node("Gemm", [h, f"W{i}", f"B{i}"], [f"fc{i}_out"], name=f"fc{i}"))
        h = f"fc{i}_out"
        if i < len(clf.coefs_) - 1:
            nodes.append(helper.make_node("Relu", [h], [f"relu{i}_out"], name=f"relu{i}"))
            h = f"relu{i}_out"
    n_in, n_out = clf.coefs_[0].shape[0], clf.coefs_[-1].shape[1]
    graph = helper.make_graph(nodes, MODEL_NAME, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in])],
                              [helper.make_tensor_value_info(h, TensorProto.FLOAT, ["N", n_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# ----------------------------------------------------------------------------------------- edgecc's precision
def fixed_type(width: int, max_abs: float, nonnegative: bool):
    """The FixedType of `width` bits whose integer part just holds max_abs (rounding to nearest, saturating).
    Unsigned only below 16 bits: an unsigned 16-bit operand does not fit SMLAD's signed halves."""
    from edgecc.config import DEFAULT_PRECISION
    from edgecc.ir.types import FixedType

    signed = not (nonnegative and width < 16)
    integer = (math.floor(math.log2(max_abs)) + 1 if max_abs > 0 else 0) + int(signed)
    return FixedType(width, integer, signed, DEFAULT_PRECISION.rounding, DEFAULT_PRECISION.overflow)


def value_ranges(clf, x: np.ndarray) -> dict:
    """Largest magnitudes of the input, and per layer of weights, biases and results (float model, training data)."""
    ranges = {"input": (float(np.max(np.abs(x))), bool(np.min(x) >= 0)), "layers": {}}
    h = x.astype(np.float64)
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        h = h @ w + b
        hidden = i < len(clf.coefs_) - 1
        if hidden:
            h = np.maximum(h, 0.0)
        ranges["layers"][f"fc{i}"] = {"weight": float(np.max(np.abs(w))), "bias": float(np.max(np.abs(b))),
                                      "result": (float(np.max(np.abs(h))), hidden)}
    return ranges


def precision_candidates(ranges: dict) -> list[tuple[str, object]]:
    """Cheapest first: 8-bit everything (the SMLAD fast path, int8 storage), 8-bit weights with 16-bit activations
    (still SMLAD), 16 bits throughout. Biases are 2x the weights' width (they are added to the accumulator)."""
    from edgecc.config import DEFAULT_PRECISION, CompileConfig, LayerConfig

    out = []
    for label, w_bits, a_bits in (("8-bit weights, 8-bit input/activations", 8, 8),
                                  ("8-bit weights, 16-bit input/activations", 8, 16),
                                  ("16-bit weights, 16-bit input/activations", 16, 16)):
        layers = {name: LayerConfig(None, fixed_type(a_bits, *r["result"]), fixed_type(w_bits, r["weight"], False),
                                    fixed_type(2 * w_bits, r["bias"], False))
                  for name, r in ranges["layers"].items()}
        cfg = CompileConfig(DEFAULT_PRECISION, fixed_type(a_bits, *ranges["input"]), layers)
        out.append((label, cfg))
    return out


def choose_precision(model, data: dict) -> tuple[dict, list[dict]]:
    """Every candidate's golden-model accuracy; the first within 1 point of the float model's on the test split and
    on the training split is kept (else the most accurate one)."""
    import edgecc

    tried = []
    for label, cfg in precision_candidates(value_ranges(data["clf"], data["x_train"])):
        g = edgecc.load(model, config=cfg)
        acc_test = float(np.mean(np.argmax(g.golden(data["x_test"]), axis=1) == data["y_test"]))
        acc_train = float(np.mean(np.argmax(g.golden(data["x_train"]), axis=1) == data["y_train"]))
        ok = (acc_test >= data["float_test"] - ACCURACY_SLACK - 1e-12
              and acc_train >= data["float_train"] - ACCURACY_SLACK - 1e-12)
        tried.append({"label": label, "config": cfg.to_json(), "graph": g, "test_accuracy": acc_test,
                      "train_accuracy": acc_train, "within_1_point": ok})
        log(f"edgecc precision {label}: golden accuracy {100 * acc_test:.2f} % test, {100 * acc_train:.2f} % train "
            f"(float {100 * data['float_test']:.2f} / {100 * data['float_train']:.2f}) -> "
            f"{'within 1 point' if ok else 'too far'}")
    chosen = next((t for t in tried if t["within_1_point"]), None) or max(tried, key=lambda t: t["test_accuracy"])
    return chosen, tried


def run_edgecc(g, out_dir: str, x: np.ndarray, y: np.ndarray) -> dict:
    """Compile for the board, run x under qemu (edgecc's own run), check against the golden model, size the ELF."""
    import edgecc
    from edgecc.sim import mcu

    shutil.rmtree(out_dir, ignore_errors=True)
    project = edgecc.compile(g, backend="c", board=BOARD, out=out_dir)
    report = project.report
    prefix = report["top"]
    dense = ", ".join(f"{l['name']} {l['microarch']}" for l in report["layers"] if l["op"] == "Dense")
    r = project.run_result(x, target="qemu")
    fig = r.extra["mcu"]
    golden_out = g.golden(x)
    build_dir, _ = mcu.build(out_dir, "elf", "", quiet=True)   # the ELF run_result ran (cached by content hash)
    elf = os.path.join(build_dir, BOARD, f"{prefix}.elf")
    ids = f"{prefix}_inner_product"   # a string the harness prints, not part of either model
    fp = footprint(elf, lambda n: n.startswith(prefix + "_") and n != ids)
    return {"prefix": prefix, "ids": ids, "elf": elf, "result": r, "mcu": fig, "golden_out": golden_out,
            "bit_exact": bool(r.mismatches == 0 and np.array_equal(np.asarray(r.outputs, np.float64), golden_out)),
            "accuracy": float(np.mean(np.argmax(r.outputs, axis=1) == y)), "footprint": fp,
            "model_ram": fp["ram"] + fig["stack_bytes"], "dense": dense}


# ---------------------------------------------------------------------------------- building and running ELFs
def _symbols(elf: str) -> dict[str, tuple[int, int, str]]:
    from edgecc.sim import mcu

    return mcu.symbols(elf)


def footprint(elf: str, is_model) -> dict:
    """The model's own flash (code, constants and the load image of its initialized data) and static RAM (its
    .data + .bss), summed over the ELF's symbols that `is_model(name)` selects."""
    flash = ram = 0
    ram_symbols, flash_symbols = {}, {}
    for name, (addr, size, kind) in _symbols(elf).items():
        if not is_model(name):
            continue
        if addr >= RAM_BASE:
            ram += size
            ram_symbols[name] = size
            if kind in "dD":                 # initialized: its initial values are in flash too
                flash += size
        else:
            flash += size
            flash_symbols[name] = size
    return {"flash": flash, "ram": ram, "ram_symbols": ram_symbols,
            "flash_symbols": dict(sorted(flash_symbols.items(), key=lambda kv: -kv[1]))}


def make_elf(project: str, sources: list[str], extra: str = "") -> str:
    """`make elf` of an edgecc-generated Makefile with other sources: the same compiler, flags, startup and
    linker script as edgecc's own build."""
    build = os.path.join(project, "build")
    shutil.rmtree(build, ignore_errors=True)
    proc = subprocess.run(["make", "-s", "-C", project, "elf", f"BUILD={build}", f"SRC={' '.join(sources)}",
                           f"EXTRA={extra}"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"make elf in {project} failed:\n{(proc.stderr or proc.stdout)[-2000:]}")
    elfs = [os.path.join(d, f) for d, _, files in os.walk(build) for f in files if f.endswith(".elf")]
    if len(elfs) != 1:
        raise RuntimeError(f"expected one ELF under {build}, found {elfs}")
    return elfs[0]


def makefile_value(project: str, variable: str) -> str:
    proc = subprocess.run(["make", "-s", "-C", project, f"--eval=vs-emlearn-print: ; @echo $({variable})",
                           "vs-emlearn-print"], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def arm_libm(project: str) -> str:
    """newlib's libm.a for the Makefile's CPU and float ABI (its multilib), named as a source so that it links
    after the objects that need it."""
    flags = makefile_value(project, "ARM_FLAGS").split()
    path = subprocess.run(["arm-none-eabi-gcc", *flags, "-print-file-name=libm.a"], capture_output=True,
                          text=True, check=True).stdout.strip()
    if not os.path.isabs(path) or not os.path.isfile(path):
        raise RuntimeError(f"arm-none-eabi-gcc finds no libm.a for {flags} (libnewlib-arm-none-eabi missing?)")
    return path


def run_qemu(elf: str, input_lines: list[str], work: str, machine: str) -> dict:
    """Run the harness under qemu with edgecc's counting plugin: output lines, the harness's report, counts."""
    from edgecc.sim import mcu

    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "input_codes.txt"), "w") as f:
        f.write("\n".join(input_lines) + "\n")
    syms = mcu.symbols(elf)
    counts = os.path.join(work, "insn_count.txt")
    marks = f"begin={syms['edgecc_bench_begin'][0]:#x},end={syms['edgecc_bench_end'][0]:#x}"
    cmd = ["qemu-system-arm", "-machine", machine, "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-kernel", os.path.abspath(elf),
           "-plugin", f"{mcu.count_plugin()},out={counts},{marks},hist=on"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=QEMU_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"{os.path.basename(elf)} under qemu exited with {proc.returncode}: {proc.stderr[:300]}")
    with open(os.path.join(work, "output_codes.txt")) as f:
        outputs = [line.split() for line in f.read().splitlines() if line.strip()]
    with open(os.path.join(work, "mcu_report.txt")) as f:
        report = dict(line.split(None, 1) for line in f.read().splitlines() if line.strip())
    counted = mcu.instruction_counts(counts, syms, "-")   # "-": no per-layer split
    counted.pop("layer_instructions", None)
    return {"outputs": outputs, "stack_bytes": int(report["stack_bytes"]), **counted, **mcu.elf_sizes(elf)}


def harness_shim(prefix: str, n_in: int, in_ctype: str, n_out: int, out_ctype: str, declaration: str,
                 call: str) -> str:
    """A stand-in for the model header that edgecc's unchanged harness/mcu_main.c includes: it names the input and
    output buffers' sizes and C types and maps <prefix>_infer(in, out) to another inference call."""
    macro = prefix.upper()
    return (f"/* Written by benchmarks/vs_emlearn.py: edgecc's harness (mcu_main.c, unchanged) includes this header\n"
            f" * instead of the model's own; {prefix}_infer(in, out) becomes the call measured. */\n"
            f"#include <stdint.h>\n\n"
            f"#define {macro}_INPUT_SIZE {n_in}\n#define {macro}_OUTPUT_SIZE {n_out}\n"
            f"typedef {in_ctype} {prefix}_input_t;\ntypedef {out_ctype} {prefix}_output_t;\n\n"
            f"{declaration}\n#define {prefix}_infer(in, out) {call}\n")


# ------------------------------------------------------------------------------------------------------ emlearn
def emlearn_c(clf, name: str, x: np.ndarray) -> tuple[str, np.ndarray]:
    """emlearn's float C of the MLP (method 'loadable'), and the predictions of emlearn's own host build on x."""
    import emlearn

    with tempfile.TemporaryDirectory(prefix="vs-emlearn-") as d, contextlib.chdir(d):  # it compiles into ./tmp
        converted = emlearn.convert(clf, method="loadable")
        return converted.save(name=name), np.asarray(converted.predict(x)).astype(np.int64)


def build_emlearn(ecc_dir: str, prefix: str, clf, name: str, work: str, x: np.ndarray) -> tuple[str, np.ndarray]:
    """emlearn's C in a copy of edgecc's build files (Makefile, board/, harness/); its ELF, and emlearn's host
    predictions on x."""
    import emlearn

    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "src"))
    os.makedirs(os.path.join(work, "include"))
    for part in ("Makefile", "board", "harness"):
        src = os.path.join(ecc_dir, part)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(work, part))
    code, host_pred = emlearn_c(clf, name, x)
    with open(os.path.join(work, "src", f"{name}.c"), "w") as f:
        f.write(code)
    # the harness reads integers: each input is a float32's bit pattern, the buffer handed over as float *
    shim = harness_shim(prefix, x.shape[1], "int32_t", 1, "int32_t",
                        f"int32_t {name}_predict(const float *features, int32_t n_features);",
                        f"((out)[0] = {name}_predict((const float *)(const void *)(in), {prefix.upper()}_INPUT_SIZE))")
    with open(os.path.join(work, "include", f"{prefix}.h"), "w") as f:
        f.write(shim)
    with open(os.path.join(work, "src", "harness_ids.c"), "w") as f:
        f.write(f"/* the harness reports which inner product ran */\nconst char {prefix}_inner_product[] = "
                f"\"emlearn float\";\n")
    elf = make_elf(work, [f"src/{name}.c", "src/harness_ids.c", arm_libm(work)], f"-I{emlearn.includedir}")
    return elf, host_pred


def float32_lines(x: np.ndarray) -> list[str]:
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.int32)
    return [" ".join(str(int(v)) for v in row) for row in bits]


# ------------------------------------------------------------------------------------------------------ table
# ------------------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0, help="train/test split and MLP initialization (default 0)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    os.makedirs(WORK, exist_ok=True)
    cache_dir = tempfile.mkdtemp(prefix="vs-emlearn-edgecc-cache-")
    try:
        with environ(EDGECC_CACHE_DIR=cache_dir):   # cold: edgecc builds its ELF and the qemu plugin afresh
            result = benchmark(args, t_start)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    path = os.path.join(OUT, "vs_emlearn.json")
    write_json(path, result, ROOT)
    return 0


def benchmark(args, t_start: float) -> dict:
    import sklearn

    errors = np.geterr()
    import emlearn                    # it sets numpy.seterr(all='raise') on import
    np.seterr(**errors)
    import edgecc
    from edgecc.boards import get_board

    board = get_board(BOARD)

    # ---- the float model ---------------------------------------------------------------------------------
    log(f"training MLPClassifier(({HIDDEN},), relu, random_state={args.seed}) on load_digits (scikit-learn "
        f"{sklearn.__version__}) ...")
    data, t_train = timed(train, args.seed)
    clf = data["clf"]
    n_test, n_in = data["x_test"].shape
    log(f"float model: {100 * data['float_test']:.2f} % on the {n_test} test digits ({t_train:.1f} s, "
        f"{clf.n_iter_} epochs)")
    model = onnx_model(clf)

    # ---- edgecc: precision, compile, qemu -----------------------------------------------------------------
    chosen, tried = choose_precision(model, data)
    g = chosen["graph"]
    ecc_dir = os.path.join(WORK, "edgecc_c")
    log(f"edgecc: compiling for {BOARD} at '{chosen['label']}' and running the test split on qemu ...")
    ecc, t_run = timed(run_edgecc, g, ecc_dir, data["x_test"], data["y_test"])
    r, fig, prefix, ids, ecc_fp = ecc["result"], ecc["mcu"], ecc["prefix"], ecc["ids"], ecc["footprint"]
    golden_out, ecc_exact, ecc_acc = ecc["golden_out"], ecc["bit_exact"], ecc["accuracy"]
    harness_names = {n for n in _symbols(ecc["elf"]) if not n.startswith(prefix + "_")}
    log(f"edgecc: {fig['instructions_per_inference']:,.0f} instructions per inference, {r.mismatches} mismatches "
        f"vs golden ({t_run:.1f} s)")
    # the candidates not kept, measured the same way: what the other precisions would have cost
    for k, t in enumerate(tried):
        if t is not chosen:
            other = run_edgecc(t["graph"], os.path.join(WORK, "edgecc_candidates", f"c{k}"), data["x_test"],
                               data["y_test"])
            t["measured"] = {"instructions_per_inference": other["mcu"]["instructions_per_inference"],
                             "model_static_ram": other["footprint"]["ram"], "stack_bytes": other["mcu"]["stack_bytes"],
                             "model_flash": other["footprint"]["flash"], "test_accuracy": other["accuracy"],
                             "dense": other["dense"], "bit_exact": other["bit_exact"]}
            log(f"edgecc (not kept) {t['label']}: {other['mcu']['instructions_per_inference']:,.0f} instructions, "
                f"model RAM {other['model_ram']} bytes")

    # ---- edgecc behind its float wrapper (float in, float out), for callers that hold floats ----------------
    fw_dir = os.path.join(WORK, "edgecc_float_c")
    shutil.rmtree(fw_dir, ignore_errors=True)
    shutil.copytree(ecc_dir, fw_dir)
    n_out = golden_out.shape[1]
    shim = harness_shim(prefix, n_in, "int32_t", n_out, "int32_t",
                        f"int {prefix}_infer_float(const float *x, float *y);",
                        f"{prefix}_infer_float((const float *)(const void *)(in), (float *)(void *)(out))")
    with open(os.path.join(fw_dir, "harness", f"{prefix}.h"), "w") as f:   # found before include/ by mcu_main.c
        f.write(shim)
    fw_elf = make_elf(fw_dir, [f"src/{prefix}.c", f"src/{prefix}_float.c", arm_libm(fw_dir)])
    fw = run_qemu(fw_elf, float32_lines(data["x_test"]), os.path.join(fw_dir, "run"), board.qemu_machine)
    fw_out = np.array([[int(v) for v in row] for row in fw["outputs"]], dtype=np.int32).view(np.float32)
    fw_out = fw_out.astype(np.float64)
    fw_exact = bool(np.array_equal(fw_out, golden_out))
    log(f"edgecc float wrapper: {fw['instructions_per_inference']:,.0f} instructions per inference "
        f"(bit-exact: {fw_exact})")

    # ---- emlearn: convert, build, qemu --------------------------------------------------------------------
    em_dir = os.path.join(WORK, "emlearn_c")
    log(f"emlearn {emlearn.__version__}: converting (method 'loadable') and building for {BOARD} ...")
    em_elf, em_host = build_emlearn(ecc_dir, prefix, clf, EMLEARN_NAME, em_dir, data["x_test"])
    em = run_qemu(em_elf, float32_lines(data["x_test"]), os.path.join(em_dir, "run"), board.qemu_machine)
    em_pred = np.array([int(row[0]) for row in em["outputs"]])
    em_acc = float(np.mean(em_pred == data["y_test"]))
    em_vs_sklearn = int(np.sum(em_pred == clf.predict(data["x_test"])))
    em_vs_host = int(np.sum(em_pred == em_host))
    em_fp = footprint(em_elf, lambda n: n not in harness_names and n != ids)
    log(f"emlearn: {em['instructions_per_inference']:,.0f} instructions per inference; agrees with sklearn on "
        f"{em_vs_sklearn}/{n_test}")

    # emlearn with its output softmax replaced by identity: the argmax is the same, the exp/log are not run
    plain = copy.deepcopy(clf)
    plain.out_activation_ = "identity"
    emi_elf, _ = build_emlearn(ecc_dir, prefix, plain, EMLEARN_NAME, os.path.join(WORK, "emlearn_identity_c"),
                               data["x_test"])
    emi = run_qemu(emi_elf, float32_lines(data["x_test"]), os.path.join(WORK, "emlearn_identity_c", "run"),
                   board.qemu_machine)
    emi_pred = np.array([int(row[0]) for row in emi["outputs"]])
    log(f"emlearn without softmax: {emi['instructions_per_inference']:,.0f} instructions per inference")

    # ---- the table -----------------------------------------------------------------------------------------
    ecc_ram = ecc_fp["ram"] + fig["stack_bytes"]
    em_ram = em_fp["ram"] + em["stack_bytes"]
    ecc_insn, em_insn = fig["instructions_per_inference"], em["instructions_per_inference"]
    rows = [
        make_row(f"accuracy on the test split, % ({n_test} digits; float {100 * data['float_test']:.2f})",
                 100 * em_acc, 100 * ecc_acc),
        make_row("instructions per inference (mean)", em_insn, ecc_insn),
        make_row("  min .. max", f"{em['instructions_min']:,} .. {em['instructions_max']:,}",
                 f"{fig['instructions_min']:,} .. {fig['instructions_max']:,}"),
        make_row("model static RAM, bytes (its .data + .bss)", em_fp["ram"], ecc_fp["ram"]),
        make_row("inference stack high-water, bytes", em["stack_bytes"], fig["stack_bytes"]),
        make_row("model RAM = static + stack, bytes (goal)", em_ram, ecc_ram),
        make_row("model flash, bytes (its code + constants + .data)", em_fp["flash"], ecc_fp["flash"]),
        make_row("whole ELF flash (text + data), bytes", em["flash"], fig["flash"]),
        make_row("whole ELF RAM (data + bss), bytes", em["ram"], fig["ram"]),
        make_row(f"outputs checked ({n_test})",
                 f"{em_vs_sklearn} = sklearn", f"{n_test - r.mismatches} = golden"),
        make_row("instructions, emlearn without softmax (info)", emi["instructions_per_inference"], ecc_insn),
        make_row("instructions, edgecc via float wrapper (info)", em_insn, fw["instructions_per_inference"]),
        make_row("stack, edgecc via float wrapper (info)", em["stack_bytes"], fw["stack_bytes"]),
    ]
    insn_ok = ecc_insn <= 0.5 * em_insn
    ram_ok = ecc_ram <= em_ram
    met = bool(insn_ok and ram_ok)

    flags = makefile_value(ecc_dir, "ARM_CC") + " " + makefile_value(ecc_dir, "CFLAGS") + " " + \
        makefile_value(ecc_dir, "ARM_FLAGS")
    cfg = chosen["config"]
    layer_types = "; ".join(f"{k}: weight {v.get('weight_type')}, bias {v.get('bias_type')}, result "
                            f"{v.get('result_type')}" for k, v in cfg["layers"].items())
    notes = [
        f"versions: emlearn {emlearn.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"edgecc {getattr(edgecc, '__version__', '?')}; {tool_version(['arm-none-eabi-gcc', '--version'])}; "
        f"{tool_version(['qemu-system-arm', '--version'])}, -machine {board.qemu_machine} (Cortex-M4F).",
        f"data: load_digits / 16 as float32 (every input k/16: exact in float32 and on edgecc's input grid), "
        f"train_test_split(test_size=0.25, stratify, random_state={args.seed}): {len(data['y_train'])} train, "
        f"{n_test} test; MLPClassifier(({HIDDEN},), relu, adam, max_iter=1000, random_state={args.seed}): "
        f"{100 * data['float_test']:.2f} % test, {100 * data['float_train']:.2f} % train.",
        "edgecc precision, cheapest first, kept the first within 1 point of float on the test and training splits "
        "(golden model): " + "; ".join(f"{t['label']}: {100 * t['test_accuracy']:.2f} % test / "
                                        f"{100 * t['train_accuracy']:.2f} % train"
                                        f"{' <- kept' if t is chosen else ''}" for t in tried)
        + f". Types (integer bits from the float model's ranges on the training data): input {cfg['input_type']}; "
        f"{layer_types}. Dense layers: {ecc['dense']}; arena {fig['arena_bytes']} bytes.",
        "edgecc, the candidates not kept, compiled and run the same way: " + ("; ".join(
            f"{t['label']}: {t['measured']['instructions_per_inference']:,.0f} instructions, model RAM "
            f"{t['measured']['model_static_ram']} + {t['measured']['stack_bytes']} stack bytes, flash "
            f"{t['measured']['model_flash']:,} bytes, {100 * t['measured']['test_accuracy']:.2f} % "
            f"({t['measured']['dense']})" for t in tried if "measured" in t) or "none") + ".",
        f"emlearn: emlearn.convert(clf, method='loadable').save() -> float C through eml_net.h (weights printed "
        f"with 6 decimals), output layer = MLPClassifier.out_activation_ = '{clf.out_activation_}' (expf/logf "
        f"from newlib's libm, counted: the goal row keeps it); a second build with the output activation set to "
        f"identity (same argmax: {int(np.sum(emi_pred == em_pred))}/{n_test} equal predictions) is the 'without "
        f"softmax' row. Its qemu predictions equal sklearn's on {em_vs_sklearn}/{n_test} and emlearn's own host "
        f"build's on {em_vs_host}/{n_test}.",
        f"one build recipe: every ELF is `make elf` of the Makefile edgecc generated ({flags} -nostartfiles "
        f"--specs=nano.specs --specs=nosys.specs -Wl,--gc-sections, its board/startup.c and board/link.ld), emlearn "
        f"and the float wrapper also link newlib's libm.a; the harness is edgecc's harness/mcu_main.c unchanged: for "
        f"emlearn a header maps {prefix}_infer(in, out) to {EMLEARN_NAME}_predict(float *, {n_in}) on the float32 "
        f"bit patterns it reads through semihosting (out = the class), so both calls sit alone between the marks.",
        "instructions: edgecc.sim.mcu's qemu TCG plugin counts every executed instruction between "
        "edgecc_bench_begin and edgecc_bench_end, less an empty pair, averaged over the test split (emlearn's "
        "count varies with expf/logf's paths). Stack: the harness paints the stack below its frame before each "
        "call and reports the deepest word written (the call's own frame included).",
        f"RAM and flash of a model are summed from arm-none-eabi-nm symbol sizes: edgecc = its {prefix}_* symbols "
        f"(arena {ecc_fp['ram_symbols']}); emlearn = every symbol the edgecc harness ELF does not have "
        f"(RAM: {em_fp['ram_symbols']}: two float activation buffers, the EmlNet handle, and what libm's errno "
        f"pulls in); the {ids} string the harness prints is in neither. The goal uses model static RAM + the "
        f"stack high-water of one inference; the whole-ELF rows include the harness (its input buffer: "
        f"{n_in} x int8 codes for edgecc, {n_in} x float32 bits for emlearn).",
        f"inputs: edgecc's {prefix}_infer starts from integer input codes ({cfg['input_type']}; a digit pixel p is "
        f"code p * 2^{g.tensor(g.hw_inputs()[0]).type.frac - 4}), emlearn's predict from float32. Called through "
        f"edgecc's own float wrapper ({prefix}_infer_float: floats in and out, quantized exactly in single "
        f"precision on the FPU) edgecc takes {fw['instructions_per_inference']:,.0f} "
        f"instructions and {fw['stack_bytes']} bytes of stack (bit-exact with the golden model: {fw_exact}).",
        f"edgecc qemu vs golden model: {r.mismatches} of {n_test} vectors differ; outputs bit-for-bit equal to "
        f"graph.golden: {ecc_exact}.",
    ]

    table = format_table(rows, "emlearn")
    print(table)
    print()
    detail = [f"instructions {ecc_insn:,.0f} vs {em_insn:,.0f} = {ecc_insn / em_insn:.2f}x "
              f"({'<=' if insn_ok else '>'} 0.5x)",
              f"RAM {ecc_ram} vs {em_ram} bytes ({'ok' if ram_ok else 'edgecc uses more'})"]
    print(f"edgecc at most half of emlearn's instructions and no more RAM: {'met' if met else 'NOT met'} "
          f"({'; '.join(detail)})")
    for note in notes:
        print(f"note: {note}")

    for t in tried:
        t.pop("graph")
    return {"board": BOARD, "test_vectors": n_test, "goal": GOAL, "goal_met": met,
            "instructions_ok": bool(insn_ok), "ram_ok": bool(ram_ok), "rows": rows, "notes": notes,
            "versions": {"emlearn": emlearn.__version__, "scikit-learn": sklearn.__version__,
                         "numpy": np.__version__, "edgecc": getattr(edgecc, "__version__", "?"),
                         "arm-none-eabi-gcc": tool_version(["arm-none-eabi-gcc", "--version"]),
                         "qemu": tool_version(["qemu-system-arm", "--version"])},
            "float_model": {"test_accuracy": data["float_test"], "train_accuracy": data["float_train"],
                            "epochs": int(clf.n_iter_)},
            "precision": {"chosen": chosen["label"], "config": cfg, "tried": tried},
            "edgecc": {"mcu": fig, "footprint": ecc_fp, "test_accuracy": ecc_acc, "golden_mismatches": r.mismatches,
                       "bit_exact": ecc_exact, "float_wrapper": {k: v for k, v in fw.items() if k != "outputs"},
                       "float_wrapper_bit_exact": fw_exact},
            "emlearn": {"qemu": {k: v for k, v in em.items() if k != "outputs"}, "footprint": em_fp,
                        "test_accuracy": em_acc, "agrees_with_sklearn": em_vs_sklearn,
                        "agrees_with_emlearn_host": em_vs_host,
                        "identity_output": {k: v for k, v in emi.items() if k != "outputs"}},
            "seconds_total": time.perf_counter() - t_start}


if __name__ == "__main__":
    sys.exit(main())
