"""What a run reports: a mismatch or a timing other than predicted raises, and a golden-model run is recorded apart
from simulations."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgecc.errors import MismatchError
from edgecc.ir.types import FixedType
from edgecc.sim import RunResult, record


def result(mismatches=0, latency=(9, 9), ii=1, checked=True, simulator="verilator"):
    codes = np.arange(6).reshape(3, 2)
    return RunResult(codes, codes, FixedType(8, 4), 3, mismatches, simulator, 0.1, latency[0], ii, latency[1],
                     9, 1, checked)


def test_a_clean_run_passes_its_check():
    assert result().check().timing_ok


def test_any_mismatch_raises():
    with pytest.raises(MismatchError, match="1 of 3 vectors differ from the golden model"):
        result(mismatches=1).check()


@pytest.mark.parametrize("latency,ii", [((10, 10), 1), ((9, 11), 1), ((9, 9), 2)])
def test_measured_timing_other_than_predicted_raises(latency, ii):
    with pytest.raises(MismatchError, match="differ from the predicted 9, 1"):
        result(latency=latency, ii=ii).check()


def test_timing_under_forced_stalls_is_not_compared():
    assert result(latency=(9, 40), checked=False).check().timing_ok


def test_outputs_are_the_exact_values_of_the_codes():
    np.testing.assert_array_equal(result().outputs, np.arange(6).reshape(3, 2) / 16.0)


def test_golden_runs_and_simulations_are_recorded_under_their_own_keys(tmp_path):
    (tmp_path / "report.json").write_text(json.dumps({"backend": "rtl"}))
    record(str(tmp_path), result(mismatches=2))
    record(str(tmp_path), result(simulator="golden"))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["sim"]["mismatches"] == 2 and report["sim"]["simulator"] == "verilator"
    assert report["golden"] == {"vectors": 3, "seconds": 0.1}
