"""Structure-aware fuzzing of `edgecc compile` (tests/frontend/fuzz_onnx.py): thousands of mutated copies of the
suite's models, each exit 0 with a complete OUT, or exit 2 (3) with one line on stderr and no OUT, within seconds."""
from __future__ import annotations

import json
import os

from frontend.fuzz_onnx import describe, fuzz

# a fixed seed: CI sees the same cases every run (EDGECC_FUZZ_SEED / _CASES explore further)
SEED = int(os.environ.get("EDGECC_FUZZ_SEED", "20240609"))
CASES = int(os.environ.get("EDGECC_FUZZ_CASES", "2400"))


def test_mutated_models_compile_or_are_refused_in_one_line(tmp_path, record_property):
    summary, failures = fuzz(CASES, SEED, str(tmp_path), time_limit=5.0)
    print("fuzz summary:", json.dumps(summary, indent=1))
    record_property("fuzz_summary", json.dumps(summary))
    assert summary["cases"] >= 2000
    assert not failures, f"{len(failures)} of {summary['cases']} cases broke the contract:\n" + \
        "\n".join(describe(case, outcome) for case, outcome in failures[:10])
    # enough mutants survive the frontend that the passes, the scheduler and the emitters are fuzzed as well
    assert summary["outcomes"].get("ok", 0) >= CASES // 20, summary["outcomes"]
