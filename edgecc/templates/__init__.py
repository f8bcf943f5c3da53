"""The jinja2 templates every generated file comes from, one folder per target (hls/, rtl/, ...), and how they are
rendered: plain data in, text out, compiled templates cached on disk across runs."""
from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.abspath(__file__))


def folder(name: str) -> str:
    """The template folder of one target, e.g. folder("rtl")."""
    return os.path.join(ROOT, name)


_ENVS: dict[str, object] = {}


def template_env(target: str):
    """The jinja2 environment of one target's folder (e.g. "rtl"), its compiled templates cached on disk."""
    import jinja2

    folder = os.path.join(ROOT, target)
    if folder not in _ENVS:
        from ..cache import cache_root

        bytecode_dir = os.path.join(cache_root(), "jinja")
        os.makedirs(bytecode_dir, exist_ok=True)
        _ENVS[folder] = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder), autoescape=False, keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined, bytecode_cache=jinja2.FileSystemBytecodeCache(bytecode_dir))
    return _ENVS[folder]


def render(env, template: str, path: str, **data) -> None:
    """Write one template rendered with plain data to `path` (Unix newlines, a final newline)."""
    text = env.get_template(template).render(**data)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="\n") as f:
        f.write(text if text.endswith("\n") else text + "\n")
