#!/usr/bin/env python3
"""A QONNX CNN for scikit-learn's bundled 8x8 digits, trained here in float with plain numpy, quantized post-training.

    python examples/digits_cnn.py            # trains (seed 0, a few seconds) and rewrites examples/digits_cnn.onnx
    python examples/digits_cnn.py --check    # also compiles it to HLS, RTL and C, simulates each on the test set
                                             # and prints accuracies and mismatches against the golden model

The network, NCHW, input [N, 1, 8, 8] = pixel intensity / 16 (0..1, on the 2^-4 grid):
    Quant(8b unsigned, 2^-7) -> Conv 3x3 1->8 pad 1 -> Relu -> Quant(8b unsigned) -> MaxPool 2x2
    -> Conv 3x3 8->16 -> Relu -> Quant(8b unsigned) -> Flatten -> MatMul 64->10 + bias -> Quant(16b)
Weights are 8-bit narrow signed, biases 16-bit; every scale is a power of two picked from the range observed on
the training set (weights: their largest magnitude; activations: their largest value over the training images).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "digits_cnn.onnx")
QONNX = "qonnx.custom_op.general"
C1, C2, CLASSES = 8, 16, 10
IN_FRAC = 7                      # input Quant: 8 bits unsigned, 0 .. 255/128
EPOCHS, BATCH, LR = 40, 32, 0.01
# every Conv and MaxPool attribute spelled out: qonnx's channels-last ops (the hls4ml flow) require them
CONV_ATTRS = {"kernel_shape": [3, 3], "strides": [1, 1], "dilations": [1, 1], "group": 1}


# ------------------------------------------------------------------------------------------------------- data
def load_data(seed: int = 0):
    """(x_train, y_train, x_test, y_test): 75/25 stratified split, x as [N, 1, 8, 8] float32 intensity / 16."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return tuple(train_test_split(x, digits.target, test_size=0.25, random_state=seed, stratify=digits.target)[i]
                 for i in (0, 2, 1, 3))


# --------------------------------------------------------------------------------------- float training (numpy)
def windows(x: np.ndarray, pad: int) -> np.ndarray:
    """NHWC [N, H, W, C] -> 3x3 windows [N, Ho, Wo, C*9] ordered (C, kh, kw), as an OIHW weight flattens."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    ho, wo = x.shape[1] - 2, x.shape[2] - 2
    cols = np.stack([x[:, i:i + ho, j:j + wo, :] for i in range(3) for j in range(3)], axis=-1)
    return cols.reshape(*cols.shape[:3], -1)


def windows_backward(d: np.ndarray, shape: tuple, pad: int) -> np.ndarray:
    """The gradient of `windows`: [N, Ho, Wo, C*9] -> NHWC `shape`."""
    n, h, w, c = shape
    d = d.reshape(*d.shape[:3], c, 9)
    out = np.zeros((n, h + 2 * pad, w + 2 * pad, c))
    ho, wo = d.shape[1], d.shape[2]
    for k in range(9):
        i, j = divmod(k, 3)
        out[:, i:i + ho, j:j + wo, :] += d[..., k]
    return out[:, pad:pad + h, pad:pad + w, :]


def forward(p: dict, x: np.ndarray, keep: bool = False):
    """Float forward pass; x NCHW. Returns logits (and the intermediates for backward)."""
    x = x.transpose(0, 2, 3, 1)
    col1 = windows(x, 1)
    a1 = np.maximum(col1 @ p["w1"].reshape(C1, -1).T + p["b1"], 0)                     # [N, 8, 8, C1]
    n = len(x)
    blocks = a1.reshape(n, 4, 2, 4, 2, C1).transpose(0, 1, 3, 5, 2, 4).reshape(n, 4, 4, C1, 4)
    p1 = blocks.max(axis=-1)                                                          # [N, 4, 4, C1]
    col2 = windows(p1, 0)
    a2 = np.maximum(col2 @ p["w2"].reshape(C2, -1).T + p["b2"], 0)                     # [N, 2, 2, C2]
    flat = a2.transpose(0, 3, 1, 2).reshape(n, -1)                                    # ONNX Flatten of NCHW
    logits = flat @ p["w3"] + p["b3"]
    if not keep:
        return logits
    return logits, {"col1": col1, "a1": a1, "blocks": blocks, "p1": p1, "col2": col2, "a2": a2, "flat": flat}


def gradients(p: dict, x: np.ndarray, y: np.ndarray) -> dict:
    logits, s = forward(p, x, keep=True)
    n = len(x)
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    d = prob
    d[np.arange(n), y] -= 1
    d /= n
    g = {"w3": s["flat"].T @ d, "b3": d.sum(axis=0)}
    da2 = (d @ p["w3"].T).reshape(n, C2, 2, 2).transpose(0, 2, 3, 1) * (s["a2"] > 0)
    g["w2"] = (da2.reshape(-1, C2).T @ s["col2"].reshape(-1, C1 * 9)).reshape(p["w2"].shape)
    g["b2"] = da2.sum(axis=(0, 1, 2))
    dp1 = windows_backward(da2 @ p["w2"].reshape(C2, -1), s["p1"].shape, 0)
    blocks = s["blocks"]
    first = np.argmax(blocks, axis=-1)                    # the max's position in each 2x2 block gets the gradient
    dblocks = (np.arange(4) == first[..., None]) * dp1[..., None]
    da1 = dblocks.reshape(n, 4, 4, C1, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(n, 8, 8, C1) * (s["a1"] > 0)
    g["w1"] = (da1.reshape(-1, C1).T @ s["col1"].reshape(-1, 9)).reshape(p["w1"].shape)
    g["b1"] = da1.sum(axis=(0, 1, 2))
    return g


def train(x: np.ndarray, y: np.ndarray, seed: int = 0) -> dict:
    """Adam on softmax cross-entropy, He-initialized, fixed seed; float64 throughout. One BLAS thread: the same
    sums in the same order, so the same weights on any machine with the same BLAS."""
    from threadpoolctl import threadpool_limits  # comes with scikit-learn

    with threadpool_limits(limits=1, user_api="blas"):
        return _train(x, y, seed)


def _train(x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    p = {"w1": rng.normal(0, np.sqrt(2 / 9), (C1, 1, 3, 3)), "b1": np.zeros(C1),
         "w2": rng.normal(0, np.sqrt(2 / (9 * C1)), (C2, C1, 3, 3)), "b2": np.zeros(C2),
         "w3": rng.normal(0, np.sqrt(1 / (4 * C2)), (4 * C2, CLASSES)), "b3": np.zeros(CLASSES)}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    x = x.astype(np.float64)
    step = 0
    for epoch in range(EPOCHS):
        lr = LR * 0.5 * (1 + np.cos(np.pi * epoch / EPOCHS))                          # cosine decay
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start:start + BATCH]
            g = gradients(p, x[idx], y[idx])
            step += 1
            for k in p:
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                v[k] = 0.999 * v[k] + 0.001 * g[k] ** 2
                p[k] -= lr * (m[k] / (1 - 0.9 ** step)) / (np.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8)
    return p


# ------------------------------------------------------------------------------------------ QONNX quantization
def frac_for(max_abs: float, max_code: int) -> int:
    """The largest power-of-two fraction f with max_abs * 2^f <= max_code (scale 2^-f)."""
    return int(np.floor(np.log2(max_code / max_abs)))


def build(p: dict, x_train: np.ndarray) -> onnx.ModelProto:
    """The QONNX graph of trained float parameters; activation scales from their maxima on x_train."""
    _, s = forward(p, x_train.astype(np.float64), keep=True)
    logits = forward(p, x_train.astype(np.float64))
    nodes, inits = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
        return name

    def quant(x, name, bits, frac, signed=True, narrow=False):
        const(f"{name}_scale", 2.0 ** -frac)
        const(f"{name}_zeropt", 0.0)
        const(f"{name}_bits", float(bits))
        nodes.append(helper.make_node("Quant", [x, f"{name}_scale", f"{name}_zeropt", f"{name}_bits"], [name],
                                      name=name, domain=QONNX, signed=int(signed), narrow=int(narrow),
                                      rounding_mode="ROUND"))
        return name

    def weight(name, w, bits=8):
        """8-bit narrow weights, stored already on their grid (the Quant then changes nothing)."""
        frac = frac_for(np.abs(w).max(), 2 ** (bits - 1) - 1)
        on_grid = np.clip(np.round(w * 2.0 ** frac), -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) / 2.0 ** frac
        return quant(const(name, on_grid), f"{name}_q", bits, frac, narrow=True)

    def bias(name, b, bits=16):
        frac = min(frac_for(max(np.abs(b).max(), 2.0 ** -10), 2 ** (bits - 1) - 1), 14)
        return quant(const(name, np.round(b * 2.0 ** frac) / 2.0 ** frac), f"{name}_q", bits, frac)

    def act(x, name, observed):
        return quant(x, name, 8, frac_for(observed.max(), 255), signed=False)

    h = quant("global_in", "quant_in", 8, IN_FRAC, signed=False)
    nodes.append(helper.make_node("Conv", [h, weight("conv1_w", p["w1"]), bias("conv1_b", p["b1"])], ["conv1_out"],
                                  name="conv1", pads=[1, 1, 1, 1], **CONV_ATTRS))
    nodes.append(helper.make_node("Relu", ["conv1_out"], ["relu1_out"], name="relu1"))
    h = act("relu1_out", "act1", s["a1"])
    nodes.append(helper.make_node("MaxPool", [h], ["pool1_out"], name="pool1", kernel_shape=[2, 2], strides=[2, 2],
                                  pads=[0, 0, 0, 0]))
    nodes.append(helper.make_node("Conv", ["pool1_out", weight("conv2_w", p["w2"]), bias("conv2_b", p["b2"])],
                                  ["conv2_out"], name="conv2", pads=[0, 0, 0, 0], **CONV_ATTRS))
    nodes.append(helper.make_node("Relu", ["conv2_out"], ["relu2_out"], name="relu2"))
    h = act("relu2_out", "act2", s["a2"])
    nodes.append(helper.make_node("Flatten", [h], ["flatten_out"], name="flatten", axis=1))
    nodes.append(helper.make_node("MatMul", ["flatten_out", weight("fc_w", p["w3"])], ["fc_mm"], name="fc"))
    nodes.append(helper.make_node("Add", ["fc_mm", bias("fc_b", p["b3"])], ["fc_out"], name="fc_bias"))
    h = quant("fc_out", "quant_out", 16, frac_for(np.abs(logits).max() * 1.5, 2 ** 15 - 1))
    graph = helper.make_graph(nodes, "digits_cnn",
                              [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info(h, TensorProto.FLOAT, ["N", CLASSES])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)],
                              producer_name="edgecc-example")
    model.ir_version = 8
    return model


def qonnx_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """qonnx's execute_onnx on a batch (shapes inferred first, as it needs)."""
    import copy

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    m = copy.deepcopy(model)
    for vi in list(m.graph.input) + list(m.graph.output):
        dim = vi.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = len(x)
    w = ModelWrapper(m).transform(InferShapes())
    out = execute_onnx(w, {w.graph.input[0].name: np.asarray(x, dtype=np.float32)})
    return np.asarray(out[w.graph.output[0].name], dtype=np.float64)


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(np.asarray(scores).reshape(len(y), -1), axis=1) == y))


# ----------------------------------------------------------------------------------------------------- --check
def check(model: onnx.ModelProto, params: dict, data, out_prefix: str, rtl_vectors: int) -> int:
    import edgecc

    _, _, x_test, y_test = data
    rows = []     # (step, vectors, accuracy, mismatches vs golden, seconds)

    start = time.perf_counter()
    rows.append(("float model (numpy)", len(x_test), accuracy(forward(params, x_test.astype(np.float64)), y_test),
                 None, time.perf_counter() - start))
    start = time.perf_counter()
    reference = qonnx_reference(model, x_test)
    t_ref = time.perf_counter() - start
    start = time.perf_counter()
    graph = edgecc.load(MODEL)
    golden = graph.golden(x_test)
    t_golden = time.perf_counter() - start
    vs_ref = int(np.sum(np.any(np.asarray(golden).reshape(len(x_test), -1) != reference, axis=1)))
    rows.append(("qonnx execute_onnx (reference)", len(x_test), accuracy(reference, y_test), vs_ref, t_ref))
    rows.append(("edgecc golden model", len(x_test), accuracy(golden, y_test), 0, t_golden))

    failed = vs_ref != 0
    runs = (("HLS C simulation (g++)", "hls", x_test, y_test),
            ("RTL Verilator (cocotb)", "rtl", x_test[:rtl_vectors], y_test[:rtl_vectors]),
            ("C on the host (gcc)", "c", x_test, y_test))
    for label, backend, x, y in runs:
        out = f"{out_prefix}_{backend}"
        start = time.perf_counter()
        project = edgecc.compile(graph, backend=backend, out=out)
        t_compile = time.perf_counter() - start
        start = time.perf_counter()
        result = project.run_result(x)
        t_run = time.perf_counter() - start
        failed |= result.mismatches != 0 or result.vectors != len(x)
        rows.append((f"{label} [{project.report['board']}]", result.vectors, accuracy(result.outputs, y),
                     result.mismatches, t_compile + t_run))
        print(f"{backend}: compiled in {t_compile:.1f} s to {os.path.relpath(out)}, simulated {result.vectors} "
              f"vectors in {t_run:.1f} s", file=sys.stderr, flush=True)

    head = ("step", "vectors", "accuracy", "mismatches vs golden", "seconds")
    body = [(name, str(n), f"{acc * 100:.2f} %", "-" if mism is None else str(mism), f"{sec:.2f}")
            for name, n, acc, mism, sec in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    print("  ".join("-" * w for w in widths))
    for r in body:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f"test set: {len(x_test)} of the 1797 digits (25 %, stratified, seed 0)"
          + (f"; RTL on its first {min(rtl_vectors, len(x_test))}" if rtl_vectors < len(x_test) else "")
          + "; seconds = compile + simulate (+ golden check) for the backends; qonnx row: golden model vs qonnx")
    print("MISMATCH" if failed else "every simulator matched the golden model bit for bit, and the golden model "
          "matched qonnx")
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compile to HLS, RTL and C and simulate each")
    ap.add_argument("--out", default=os.path.join(HERE, "out_digits"), help="prefix of the output folders "
                    "(default examples/out_digits_{hls,rtl,c})")
    ap.add_argument("--rtl-vectors", type=int, default=1 << 30, help="simulate only this many test vectors on "
                    "the RTL (default: all)")
    args = ap.parse_args()
    data = load_data()
    start = time.perf_counter()
    params = train(data[0], data[1])
    print(f"trained in {time.perf_counter() - start:.1f} s: float test accuracy "
          f"{accuracy(forward(params, data[2].astype(np.float64)), data[3]) * 100:.2f} %")
    model = build(params, data[0])
    onnx.save(model, MODEL)
    print(f"wrote {os.path.relpath(MODEL)} ({os.path.getsize(MODEL)} bytes)")
    if not args.check:
        return 0
    return check(model, params, data, args.out, args.rtl_vectors)


if __name__ == "__main__":
    sys.exit(main())
