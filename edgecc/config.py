"""Compile options a user sets: default precision, per-layer types and reuse factors (from --config YAML)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ModelError
from .ir.types import FixedType, parse_type

# fixed<16,6> as hls4ml's default, but rounding to nearest (ties to even) and saturating, so that a float
# model's error stays within half a step per quantization and never wraps.
DEFAULT_PRECISION = FixedType(16, 6, True, "ROUND", "SAT")


@dataclass(frozen=True)
class LayerConfig:
    reuse_factor: int | None = None
    result_type: FixedType | None = None
    weight_type: FixedType | None = None
    bias_type: FixedType | None = None
    table_input: FixedType | None = None   # a lookup-table activation's input type (its size is 2**width)
    table_type: FixedType | None = None    # a Softmax's exponential and reciprocal table entries
    pe: int | None = None                  # RTL Dense/Conv folded as pe processing elements x simd lanes
    simd: int | None = None
    ram_style: str | None = None           # where a folded layer's weights live: auto, block, distributed, logic


@dataclass
class CompileConfig:
    default_type: FixedType = DEFAULT_PRECISION
    input_type: FixedType | None = None
    layers: dict[str, LayerConfig] = field(default_factory=dict)

    def layer(self, name: str) -> LayerConfig:
        return self.layers.get(name, LayerConfig())

    def to_json(self) -> dict:
        return {"default_type": str(self.default_type),
                "input_type": str(self.input_type) if self.input_type else None,
                "layers": {k: {f: (str(v) if isinstance(v, FixedType) else v) for f, v in vars(c).items()
                               if v is not None} for k, c in sorted(self.layers.items())}}


_LAYER_KEYS = {"reuse_factor", "result", "weight", "bias", "table_input", "table", "pe", "simd", "ram_style"}
RAM_STYLES = ("auto", "block", "distributed", "logic")


def _precision(text) -> FixedType:
    # a precision written without modes rounds to nearest and saturates, like the default
    return parse_type(text, DEFAULT_PRECISION.rounding, DEFAULT_PRECISION.overflow)


def load_config(path: str | None = None, precision: str | None = None) -> CompileConfig:
    """Read --precision and --config YAML: {precision, input, layers: {NAME: {reuse_factor, result, weight, bias,
    table_input, table, pe, simd, ram_style}}}."""
    cfg = CompileConfig()
    doc = {}
    if path:
        import yaml

        try:
            with open(path) as f:
                doc = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ModelError(f"cannot read config {path!r}: {str(e).splitlines()[0]}") from None
        if not isinstance(doc, dict):
            raise ModelError(f"config {path!r} must be a mapping")
        unknown = set(doc) - {"precision", "input", "layers"}
        if unknown:
            raise ModelError(f"config {path!r}: unknown keys {sorted(unknown)} (known: precision, input, layers)")
    if doc.get("precision"):
        cfg.default_type = _precision(doc["precision"])
    if precision:
        cfg.default_type = _precision(precision)
    if doc.get("input"):
        cfg.input_type = _precision(doc["input"])
    for name, entry in (doc.get("layers") or {}).items():
        entry = entry or {}
        bad = set(entry) - _LAYER_KEYS
        if bad:
            raise ModelError(f"config layer {name!r}: unknown keys {sorted(bad)} (known: {sorted(_LAYER_KEYS)})")
        for key in ("reuse_factor", "pe", "simd"):
            value = entry.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ModelError(f"config layer {name!r}: {key} must be an integer >= 1")
        style = entry.get("ram_style")
        if style is not None and style not in RAM_STYLES:
            raise ModelError(f"config layer {name!r}: ram_style must be one of {', '.join(RAM_STYLES)}, got {style!r}")
        if entry.get("reuse_factor") is not None and (entry.get("pe") is not None or entry.get("simd") is not None):
            raise ModelError(f"config layer {name!r}: give reuse_factor or pe/simd, not both")
        cfg.layers[str(name)] = LayerConfig(
            entry.get("reuse_factor"), *(_precision(entry[k]) if entry.get(k) else None
                                         for k in ("result", "weight", "bias", "table_input", "table")),
            pe=entry.get("pe"), simd=entry.get("simd"), ram_style=style)
    return cfg
