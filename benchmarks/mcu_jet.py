#!/usr/bin/env python3
"""edgecc's microcontroller C on the bundled jet tagger (examples/jet_tagging_mlp.onnx), under qemu on Cortex-M0, M3,
M4 and M7: instructions per multiply-accumulate of the Dense layers, per inference, flash, RAM and stack.

    .venv/bin/python benchmarks/mcu_jet.py          # what `make bench` runs

Instructions are counted exactly by edgecc's qemu TCG plugin (edgecc/sim/qemu/insn_count.c): every instruction
executed inside each layer's function, averaged over the vectors. MACs are the Dense layers' multiply-accumulates
(nonzero weights x outputs). Every run is also checked bit for bit against the golden model.
Goal (issue 7): on the Cortex-M4, at most 1.5 instructions per MAC in the Dense layers. A second table runs the
same network with 4-bit weights, packed two per byte and not.
Prints one table and writes bench_out/mcu_jet.json. Exits 0 whenever the benchmark ran.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "examples", "jet_tagging_mlp.onnx")
OUT = os.path.join(ROOT, "bench_out")
RUNS = [("qemu-m0", False), ("qemu-m3", False), ("qemu-m4", False), ("qemu-m4", True), ("qemu-m7", False),
        ("qemu-m7", True)]
GOAL = 1.5
N = 200
DENSE_MICROARCHS = ("c_loop", "c_smlad", "c_packed")
# the same network with 4-bit weights: each encoding where it can run (pack_weights on/off; M4 also SMLAD)
PACKED_RUNS = [("qemu-m0", "off"), ("qemu-m0", "on"), ("qemu-m3", "off"), ("qemu-m3", "on"), ("qemu-m4", "off"),
               ("qemu-m4", "on")]


def log(msg: str) -> None:
    print(f"[mcu_jet] {msg}", file=sys.stderr, flush=True)


def measure(edgecc, graph, board: str, portable: bool, out: str, x, macs: int, all_macs: int, **options) -> dict:
    """Compile for the board, run under qemu (bit-exact or raise), and the figures of one table row."""
    project = edgecc.compile(graph, backend="c", board=board, out=out, **options)
    result = project.run_result(x, target="qemu", portable=portable)
    result.check()
    mcu = result.extra["mcu"]
    plan = json.load(open(os.path.join(out, "schedule.json")))
    dense_units = {f"u{k}" for k, u in enumerate(plan["units"]) if u["microarch"] in DENSE_MICROARCHS}
    dense_instr = sum(v for k, v in mcu["layer_instructions"].items() if k in dense_units)
    micro = sorted({u["microarch"] for u in plan["units"] if u["microarch"] in DENSE_MICROARCHS})
    # packed layers, and the others' inner product as built (smlad, or portable: no DSP or -DEDGECC_NO_DSP)
    path = "+".join((["packed"] if "c_packed" in micro else []) +
                    ([mcu["inner_product"]] if set(micro) - {"c_packed"} else []))
    log(f"{board} {path}: {mcu['instructions_per_inference']:.0f} instructions, {dense_instr / macs:.3f} per MAC, "
        f"flash {mcu['model_flash_bytes']} B, 0 mismatches on {len(x)} vectors")
    return {"board": board, "cpu": project.report["part"], "path": path, "options": project.report["options"],
            "instructions": mcu["instructions_per_inference"], "dense_instructions": dense_instr,
            "per_mac": dense_instr / macs, "per_mac_all": dense_instr / all_macs,
            "flash": mcu["model_flash_bytes"], "estimated_flash": project.report["resources"]["flash"],
            "ram": mcu["model_ram_bytes"], "stack": mcu["stack_bytes"], "latency_us": mcu["estimated_latency_us"],
            "mismatches": result.mismatches}


def print_table(rows: list[dict]) -> None:
    head = ["board", "inner product", "instr/inference", "Dense instr", "instr/MAC", "flash B", "(est.)", "RAM B",
            "stack B", "est. us", "mismatches"]
    body = [[r["board"], r["path"], f"{r['instructions']:.0f}", f"{r['dense_instructions']:.0f}",
             f"{r['per_mac']:.3f}", str(r["flash"]), str(r["estimated_flash"]), str(r["ram"]), str(r["stack"]),
             f"{r['latency_us']:g}", str(r["mismatches"])] for r in rows]
    widths = [max(len(c[i]) for c in [head] + body) for i in range(len(head))]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for b in body:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(b, widths))))


def dense_macs(graph, op_def) -> tuple[int, int]:
    dense = [n for n in graph.nodes if n.op == "Dense"]
    return (sum(op_def(n).cost(graph, n).mults for n in dense),
            sum(int(np.prod(graph.tensor(n.inputs[1]).shape)) for n in dense))


def main() -> int:
    os.environ["EDGECC_CACHE_DIR"] = cache = tempfile.mkdtemp(prefix="edgecc-bench-cache-")
    import edgecc
    from edgecc.ir.ops import op_def

    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import jet_tagging_mlp

    try:
        graph = edgecc.load(MODEL)
        macs, all_macs = dense_macs(graph, op_def)
        x = np.random.default_rng(0).normal(0, 3, size=(N, 16))
        rows = [measure(edgecc, graph, board, portable, os.path.join(OUT, f"mcu_jet_{board}"), x, macs, all_macs)
                for board, portable in RUNS]
        graph4 = edgecc.load(jet_tagging_mlp.build(w_bits=4))
        macs4, all_macs4 = dense_macs(graph4, op_def)
        rows4 = [measure(edgecc, graph4, board, False, os.path.join(OUT, f"mcu_jet4_{board}_{pack}"), x, macs4,
                         all_macs4, pack_weights=pack) for board, pack in PACKED_RUNS]
        auto4 = {board: measure(edgecc, graph4, board, False, os.path.join(OUT, f"mcu_jet4_{board}_auto"), x, macs4,
                                all_macs4)["path"] for board in ("qemu-m0", "qemu-m3", "qemu-m4")}
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    print_table(rows)
    m4 = next(r for r in rows if r["board"] == "qemu-m4" and r["path"] == "smlad")
    met = m4["per_mac"] <= GOAL
    print()
    print(f"goal: at most {GOAL} instructions per MAC in the Dense layers on the Cortex-M4: "
          f"{'met' if met else 'NOT met'} ({m4['per_mac']:.3f}; {m4['per_mac_all']:.3f} counting the "
          f"{all_macs - macs} zero weights too)")
    print()
    print("the same network with 4-bit weights (pack_weights off / on):")
    print_table(rows4)
    print()
    for board in ("qemu-m0", "qemu-m3", "qemu-m4"):
        off, on = (next(r for r in rows4 if r["board"] == board and r["options"]["pack_weights"] == p)
                   for p in ("off", "on"))
        print(f"{board}: packed weights {on['flash'] - off['flash']:+d} B flash "
              f"({on['flash'] / off['flash'] - 1:+.1%}), {on['instructions'] / off['instructions'] - 1:+.1%} "
              f"instructions; auto chose {auto4[board]}")
    notes = [f"model: {os.path.relpath(MODEL, ROOT)}, Dense layers 16-64-32-32-5, {macs} nonzero multiply-"
             f"accumulates ({all_macs} with zero weights), {N} vectors per run, every output checked bit for bit.",
             f"4-bit: examples/jet_tagging_mlp.py build(w_bits=4): the same float weights on a 4-bit grid, "
             f"{all_macs4 - macs4} of {all_macs4} weights zero (index lists, which packing does not shrink).",
             "instructions: qemu-system-arm with edgecc's TCG plugin, exact per executed instruction; per layer from "
             "the addresses of each layer's function (the harness, marks and I/O excluded).",
             "flash/RAM: the model's own symbols in the linked ELF (code and constants / arena and statics), (est.) "
             "the scheduler's estimate; stack: painted-stack high-water during the inference; est. us: instructions "
             "x a per-core cycles-per-instruction model at the board's clock (qemu counts instructions, not cycles).",
             "smlad: Armv7E-M DSP extension (M4, M7), two 16-bit multiply-accumulates per instruction on weights "
             "packed offline; portable: the same C without it (-DEDGECC_NO_DSP), what M0/M3 run; packed: 4-bit "
             "weight fields, two per byte, sign-extended in the loop."]
    for n in notes:
        print(f"note: {n}")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "mcu_jet.json"), "w") as f:
        json.dump({"goal": GOAL, "goal_met": met, "rows": rows, "rows_4bit": rows4, "auto_4bit": auto4,
                   "notes": notes}, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.relpath(os.path.join(OUT, 'mcu_jet.json'), ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
