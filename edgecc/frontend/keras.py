"""Keras 2 (tf_keras) and QKeras models -> ir.Graph, straight from the layer graph: loading, the walk over the layers,
and the layer-handler registry (handlers in keras_layers.py, quantizers in keras_quantizers.py).

Keras tensors are channels-last, which is the IR's own layout for spatial tensors, so no layout op is ever added.
TensorFlow is imported here only, and only when a Keras model is read (it takes seconds).
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from typing import Callable

import numpy as np

from ..errors import ModelError, UnsupportedOp
from ..ir.graph import Graph, Node, Tensor

KERAS_EXTENSIONS = (".h5", ".hdf5", ".keras")

HANDLERS: dict[str, Callable] = {}


def keras_handler(*class_names: str):
    """Register a handler for Keras layer classes: handler(ctx, layer, inputs) -> IR names of the layer's outputs."""
    def deco(fn):
        for name in class_names:
            HANDLERS[name] = fn
        return fn
    return deco


def supported_layers() -> list[str]:
    from . import keras_layers  # noqa: F401  (fill HANDLERS)
    return sorted(HANDLERS)


def is_keras_model(obj) -> bool:
    """A Keras / QKeras model object, told by its class's home package without importing TensorFlow."""
    roots = {c.__module__.split(".")[0] for c in type(obj).__mro__}
    return bool(roots & {"tf_keras", "keras", "qkeras"}) and hasattr(obj, "layers")


def is_saved_model_dir(path: str) -> bool:
    return os.path.isdir(path) and os.path.exists(os.path.join(path, "saved_model.pb"))


def tf_modules():
    """(tensorflow, tf_keras, qkeras), imported with Keras 2 selected (QKeras runs on tf_keras only)."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _native_stderr_silenced():
            import tensorflow as tf
            import tf_keras
    except ImportError as e:
        raise ModelError(f"Keras input needs TensorFlow and tf-keras ({e}): pip install 'edgecc[keras]'") from None
    if tf.keras.layers.Layer is not tf_keras.layers.Layer:
        raise ModelError("TensorFlow was imported with Keras 3; QKeras and edgecc read Keras 2 models: set "
                         "TF_USE_LEGACY_KERAS=1 before TensorFlow is imported")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import qkeras
    except ImportError as e:
        raise ModelError(f"Keras input needs QKeras ({e}): pip install 'edgecc[keras]'") from None
    return tf, tf_keras, qkeras


@contextlib.contextmanager
def _native_stderr_silenced():
    """TensorFlow's native libraries write start-up lines (no GPU, CPU flags) to file descriptor 2 before their
    logging is set up, whatever TF_CPP_MIN_LOG_LEVEL says; the command line promises one line on an error. They are
    kept from stderr while TensorFlow loads, and shown if it fails to."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):   # no real stderr (an embedding host): nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def _library_warnings_silenced(tf):
    """tf_keras and QKeras warn about their own internals (deprecations, unseeded initializers, shared quantizer
    objects) while a model loads; none of it is the user's to act on."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def read_keras(model):
    """A Keras model object, or an .h5 / .keras file or SavedModel folder, loaded with QKeras's layers known."""
    tf, tf_keras, qkeras = tf_modules()
    if not isinstance(model, (str, os.PathLike)):
        if not isinstance(model, tf_keras.Model):
            raise UnsupportedOp(f"{type(model).__module__}.{type(model).__name__} is not a tf_keras model: edgecc "
                                "reads Keras 2 models (tf_keras, QKeras); Keras 3 models are not supported")
        return model, "<keras model>"
    path = os.fspath(model)
    if not os.path.exists(path):
        raise ModelError(f"model file {path!r} does not exist")
    from qkeras.utils import _add_supported_quantized_objects

    custom_objects: dict = {}
    _add_supported_quantized_objects(custom_objects)
    try:
        with _library_warnings_silenced(tf):
            loaded = tf_keras.models.load_model(path, custom_objects=custom_objects, compile=False)
    except Exception as e:  # h5py, zip and protobuf errors, unknown layers: each library raises its own types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = ""
        if path.lower().endswith(".keras") and "deserialized" in first:
            hint = ("; QKeras layers given quantizer objects (not strings) do not survive the .keras format: "
                    "save the model as .h5")
        raise ModelError(f"cannot read {path!r} as a Keras model ({type(e).__name__}: {first}){hint}") from None
    if not isinstance(loaded, tf_keras.Model):
        raise ModelError(f"{path!r} is a TensorFlow SavedModel without Keras layers (not saved from a Keras model)")
    return loaded, os.path.basename(os.path.normpath(path))


class KerasContext:
    """What handlers see: the IR graph being built, the current layer, and helpers to add constants and nodes."""

    def __init__(self, graph: Graph, tf, keras, qkeras):
        self.graph = graph
        self.tf, self.keras, self.qkeras = tf, keras, qkeras
        self.layer = None                          # the Keras layer being translated
        self.out_shapes: list[tuple[int, ...]] = []  # its outputs' shapes, batch stripped
        # IR tensor -> how many layers (and model outputs) read it in the Keras model, not counting layers that
        # pass it on unchanged (Dropout): a BatchNormalization folds into its producer only where it alone reads it
        self.readers: dict[str, int] = {}
        # IR tensors whose fixed-point type a model quantizer fixes (for tables built from that type)
        self.specs: dict[str, object] = {}
        self.quantized = False                     # any QKeras quantizer seen: the model fixes its arithmetic
        self.quantized_kernels: set[str] = set()   # IR constants that hold a quantizer's values

    @property
    def name(self) -> str:
        return self.layer.name

    def shape(self, tensor: str) -> tuple[int, ...]:
        return self.graph.tensors[tensor].shape

    def add_const(self, base: str, values) -> str:
        name = self.graph.fresh_name(base)
        data = np.asarray(values, dtype=np.float64)
        self.graph.add_tensor(Tensor(name, tuple(int(d) for d in data.shape), None, data))
        return name

    def add_node(self, op: str, inputs: list[str], shape, attrs=None, suffix: str = "") -> str:
        """An IR node of the current layer: named after it (with `suffix` for the second and later nodes)."""
        base = f"{self.name}{suffix}"
        out = self.graph.fresh_name(base)
        self.graph.add_tensor(Tensor(out, tuple(int(d) for d in shape)))
        self.graph.add_node(Node(self.graph.fresh_node_name(base), op, list(inputs), [out], attrs or {}))
        return out

    def read_once(self, tensor: str) -> bool:
        """Whether IR tensor `tensor` is read by the current layer only (so that layer may fold into its producer)."""
        return self.readers.get(tensor, 0) == 1 and not self.graph.consumers(tensor)

    def refuse(self, message: str):
        raise UnsupportedOp(message, self.name)


def load_keras(model) -> Graph:
    """Read a Keras / QKeras model (object, .h5, .keras or SavedModel folder) into the model-level IR."""
    tf, tf_keras, qkeras = tf_modules()
    from . import keras_layers  # noqa: F401  (fill HANDLERS)

    model, source = read_keras(model)
    if not getattr(model, "_is_graph_network", False) or not model.inputs:
        raise UnsupportedOp(f"model {model.name!r} has no layer graph (a subclassed model, or a Sequential model "
                            "that was never built): build it with an input shape, e.g. keras.Input(shape=...)")
    graph = Graph(model.name or "model")
    graph.meta["source"] = source
    graph.meta["frontend"] = "keras"
    ctx = KerasContext(graph, tf, tf_keras, qkeras)
    inputs = []
    for t in model.inputs:
        name = graph.fresh_name(_input_name(t))
        graph.add_tensor(Tensor(name, _strip_batch(t, name)))
        graph.inputs.append(name)
        inputs.append(name)
    with _library_warnings_silenced(tf):
        outputs = _walk(ctx, model, inputs)
    for out in outputs:
        if graph.tensors[out].data is not None:
            raise UnsupportedOp(f"model output {out!r} is a constant")
    graph.outputs = list(outputs)
    graph.meta["quantized"] = ctx.quantized
    graph.prune()
    graph.toposort()
    return graph


def _walk(ctx: KerasContext, model, inputs: list[str]) -> list[str]:
    """Translate the layers of a (functional or Sequential) model whose inputs are the IR tensors `inputs`, in the
    order Keras itself runs them; returns the IR names of the model's outputs. A nested model is walked in place."""
    by_depth = model._nodes_by_depth
    nodes = [n for d in sorted(by_depth, reverse=True) for n in by_depth[d] if not n.is_input]
    uses: dict[str, int] = {}
    for i in [i for n in nodes for i in n.flat_input_ids] + [str(id(t)) for t in model.outputs]:
        uses[i] = uses.get(i, 0) + 1
    tensors: dict[str, str] = {}

    def bind(keras_id: str, ir_name: str) -> None:
        tensors[keras_id] = ir_name
        ctx.readers[ir_name] = ctx.readers.get(ir_name, 0) + uses.get(keras_id, 0)

    for t, name in zip(model.inputs, inputs):
        bind(str(id(t)), name)
    for node in nodes:
        layer = node.layer
        missing = [i for i in node.flat_input_ids if i not in tensors]
        if missing:
            raise ModelError("reads a tensor that no earlier layer produces", layer.name)
        ins = [tensors[i] for i in node.flat_input_ids]
        saved = ctx.layer, ctx.out_shapes
        ctx.layer = layer
        ctx.out_shapes = [_strip_batch(t, layer.name) for t in node.outputs] if isinstance(node.outputs, list) \
            else [_strip_batch(node.outputs, layer.name)]
        if isinstance(layer, ctx.keras.Model):
            outs = _walk(ctx, layer, ins)
        else:
            outs = _handler(layer)(ctx, layer, ins)
        ctx.layer, ctx.out_shapes = saved
        if len(outs) != len(node.flat_output_ids):
            raise UnsupportedOp(f"layer has {len(node.flat_output_ids)} outputs, edgecc made {len(outs)}", layer.name)
        for name in set(ins) & set(outs):   # passed on unchanged: this layer is no reader of it
            ctx.readers[name] -= 1
        for i, out in zip(node.flat_output_ids, outs):
            bind(i, out)
    return [tensors[str(id(t))] for t in model.outputs]


def _handler(layer):
    for cls in type(layer).__mro__:
        if cls.__name__ in HANDLERS:
            # a subclass of a supported layer is read as that layer only if it keeps the layer's own `call`
            if cls is type(layer) or type(layer).call is cls.call:
                return HANDLERS[cls.__name__]
            break
    raise UnsupportedOp(f"Keras layer {type(layer).__name__} is not supported (supported: "
                        f"{', '.join(supported_layers())})", layer.name)


def _input_name(t) -> str:
    name = getattr(t, "name", None) or "input"
    return name.split(":")[0] or "input"


def _strip_batch(t, what: str) -> tuple[int, ...]:
    shape = list(t.shape)
    if not shape:
        raise ModelError(f"tensor of {what!r} is a scalar; edgecc needs a batch dimension")
    dims = shape[1:]
    if any(d is None for d in dims):
        raise ModelError(f"{what!r} has a dynamic dimension in shape {['N'] + dims}; only the batch may be dynamic")
    if shape[0] not in (None, 1):
        raise ModelError(f"{what!r} has batch dimension {shape[0]}; edgecc needs 1 or a dynamic one")
    return tuple(int(d) for d in dims)
