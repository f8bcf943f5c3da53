"""Lookup-table activations and the integer Softmax: tables computed once in the IR, sized and typed per layer from
the config (table_input: the table's input type, so its size; result: its output type; table: a Softmax's
exponential and reciprocal entries)."""
from __future__ import annotations

import numpy as np
import pytest

import edgecc
from edgecc.config import CompileConfig, LayerConfig
from edgecc.errors import ModelError
from edgecc.ir.types import FixedType, parse_type
from helpers import probe_inputs
from models_cnn import table_activations
from suite import TABLE_CONFIG

def _node(graph, name):
    return next(n for n in graph.nodes if n.name == name)


def test_table_sizes_and_types_follow_the_layer_config():
    default = edgecc.load(table_activations())
    graph = edgecc.load(table_activations(), config=TABLE_CONFIG)
    assert len(_node(default, "sig8").attrs["table"]) == 256          # reads its 8-bit input directly
    sig = _node(graph, "sig8")
    assert len(sig.attrs["table"]) == 64 and sig.attrs["in_lo"] == -32
    # every entry is the following quantizer (ufixed<8,1>, ROUND) applied to sigmoid of the entry's input
    codes = np.arange(-32, 32)
    want = sig.attrs["out_type"].quantize(1 / (1 + np.exp(-codes / 8.0)))
    np.testing.assert_array_equal(np.array(sig.attrs["table"]), want)
    assert len(_node(graph, "tanh16").attrs["table"]) == 512
    sm = _node(graph, "softmax25").attrs
    assert sm["exp_type"] == sm["inv_type"] == FixedType(12, 1, False, "ROUND", "SAT")
    assert len(sm["exp_table"]) == 256 and max(sm["exp_table"]) == 1 << 11     # e^0 = 1.0 exactly
    x = probe_inputs(graph, 300, seed=2)
    assert np.any(graph.golden(x) != default.golden(x))               # the coarser tables change answers


@pytest.mark.parametrize("text", ["fixed<12,1>", "ufixed<12,0>", "ufixed<40,1>"])
def test_a_softmax_table_type_that_cannot_hold_its_entries_is_refused(text):
    cfg = CompileConfig(layers={"softmax25": LayerConfig(table_type=parse_type(text))})
    with pytest.raises(ModelError, match="softmax25.*|Softmax table type"):
        edgecc.load(table_activations(), config=cfg)
