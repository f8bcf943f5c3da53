"""The cocotb testbench every generated RTL design runs under: stream vectors, record outputs and cycle counts.

It only drives and observes: the comparison with the golden model happens in edgecc.sim after the run.
Configuration comes from the JSON file named by EDGECC_TB_CONFIG; results go to the file it names.
"""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

PERIOD = 10  # ns


def _pack(codes: list[int], width: int) -> int:
    mask = (1 << width) - 1
    value = 0
    for k, c in enumerate(codes):
        value |= (int(c) & mask) << (k * width)
    return value


def _unpack(value: int, count: int, width: int, signed: bool) -> list[int]:
    mask = (1 << width) - 1
    out = []
    for k in range(count):
        c = (value >> (k * width)) & mask
        if signed and c >> (width - 1):
            c -= 1 << width
        out.append(c)
    return out


@cocotb.test()
async def stream(dut):
    with open(os.environ["EDGECC_TB_CONFIG"]) as f:
        cfg = json.load(f)
    vectors = cfg["inputs"]            # tokens: a streaming design takes a frame as several
    n = len(vectors)
    n_results = cfg.get("out_tokens", n)
    stress = cfg["stress"]
    rng = random.Random(cfg["seed"])
    packed = [_pack(v, cfg["in_width"]) for v in vectors]

    cocotb.start_soon(Clock(dut.clk, PERIOD, unit="ns").start())
    dut.rst.value = 1
    dut.in_valid.value = 0
    dut.in_data.value = 0
    dut.out_ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    start = get_sim_time("ns")   # the rising edge that begins cycle 0

    outputs, in_cycles, out_cycles, valid_since = [], [], [], []
    sent, cycle, waiting = 0, 0, None
    limit = cfg["cycle_limit"]
    hold_low = cfg.get("hold_out_ready_low", 0)
    while len(outputs) < n_results and cycle < limit:
        offer = sent < n and (not stress or rng.random() >= 0.3)
        ready = cycle >= hold_low and (not stress or rng.random() >= 0.3)
        dut.in_valid.value = int(offer)
        dut.in_data.value = packed[sent] if offer else 0
        dut.out_ready.value = int(ready)
        await ReadOnly()
        out_valid = bool(dut.out_valid.value)
        if out_valid and waiting is None:
            waiting = cycle
        accepted = offer and bool(dut.in_ready.value)
        if accepted:
            in_cycles.append(cycle)
            sent += 1
        if out_valid and ready:
            value = dut.out_data.value.to_unsigned()
            outputs.append(_unpack(value, cfg["n_out"], cfg["out_width"], cfg["out_signed"]))
            out_cycles.append(cycle)
            valid_since.append(waiting)
            waiting = None
        if not stress and cycle >= hold_low and not out_valid and not accepted:
            # nothing can happen until the design raises in_ready or out_valid, and what it is offered stays as
            # it is: sleep until one of them changes and go on at the cycle that began at that clock edge (the
            # ports change only at rising edges). Long streaming frames simulate in a fraction of the time that a
            # Python step per cycle would take.
            watch = [dut.out_valid.value_change] + ([dut.in_ready.value_change] if sent < n else [])
            await First(*watch, Timer(max(limit - cycle, 1) * PERIOD, unit="ns"))
            cycle = max(cycle + 1, round((get_sim_time("ns") - start) / PERIOD))
            continue
        await RisingEdge(dut.clk)
        cycle += 1
    with open(cfg["result_path"], "w") as f:
        json.dump({"outputs": outputs, "in_cycles": in_cycles, "out_cycles": out_cycles,
                   "valid_since": valid_since, "cycles": cycle}, f)
    assert len(outputs) == n_results, f"only {len(outputs)} of {n_results} outputs within {limit} cycles"
