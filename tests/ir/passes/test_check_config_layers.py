"""check_config_layers: a config that names a layer the model lacks is an error naming it (and a close match)."""
from __future__ import annotations

import pytest

from edgecc.config import CompileConfig, LayerConfig
from edgecc.errors import ModelError
from models import qonnx_mlp

from .lowering import lowered_until


def test_a_misspelt_layer_is_an_error_with_the_closest_name():
    cfg = CompileConfig(layers={"fc_4": LayerConfig(reuse_factor=2)})
    graph, config, run = lowered_until(qonnx_mlp(seed=1), "check_config_layers", cfg)
    with pytest.raises(ModelError, match=r"config names layer 'fc_4'.*did you mean 'fc4'"):
        run(graph, config)


def test_existing_layers_pass():
    cfg = CompileConfig(layers={"fc4": LayerConfig(reuse_factor=2), "fc11": LayerConfig(reuse_factor=3)})
    graph, config, run = lowered_until(qonnx_mlp(seed=1), "check_config_layers", cfg)
    assert run(graph, config) is False
