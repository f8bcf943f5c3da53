"""QKeras test models (tf_keras), built in-process with fixed seeds and cached per process: an MLP, a 1-D CNN, a 2-D
CNN with a residual Add and a depthwise-separable CNN. Together they use every quantizer edgecc reads:
quantized_bits (alpha 1, None and 'auto_po2'; keep_negative=False; symmetric), quantized_relu (with and without a
negative slope), quantized_po2 (weights), quantized_relu_po2 (an activation, as a table), quantized_tanh and
quantized_sigmoid (as tables on a quantized input, and as exact arithmetic on a wide one), QBatchNormalization
(folded into a quantized kernel, and as Mul/Add) and BatchNormalization (folded into a float kernel).

Every accumulator stays within float32's 24 bits, so QKeras's own float32 arithmetic is exact and `model.predict`
is the exact reference. Batch normalizations have dyadic parameters and a variance with var + eps == 1 in float32
(so TensorFlow's rsqrt is exact); arbitrary ones are tested separately, within one output step.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from edgecc.frontend.keras import tf_modules


def keras_modules():
    """(tensorflow, tf_keras, qkeras), imported once with Keras 2 selected; TensorFlow kept to one thread each."""
    tf, keras, qkeras = tf_modules()
    _limit_threads(tf)
    return tf, keras, qkeras


@functools.lru_cache(maxsize=None)
def _limit_threads(tf) -> None:
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # the runtime is already up: it keeps its threads


def _quietly(build):
    """tf_keras and QKeras warn about their own internals while a model is built (unseeded initializers,
    deprecated pyparsing calls): not about these models."""
    @functools.wraps(build)
    def quiet():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build()
    return quiet


def unit_variance(eps: float, n: int) -> np.ndarray:
    """A moving variance with float32(var + eps) == 1 exactly, so that rsqrt(var + eps) is exactly 1."""
    var = np.float32(1.0) - np.float32(eps)
    while np.float32(var + np.float32(eps)) != np.float32(1.0):
        var = np.nextafter(var, np.float32(0.0))
    return np.full(n, var, dtype=np.float32)


def _randomize(model, seed: int, scale: float = 0.5) -> None:
    """Every weight of every layer drawn from N(0, scale) (float32), batch normalizations excepted."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if "BatchNormalization" in type(layer).__name__:
            continue
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0, scale, size=w.shape).astype(np.float32) for w in weights])


def _set_batch_norm(layer, gamma, beta, mean) -> None:
    n = len(gamma)
    layer.set_weights([np.asarray(v, dtype=np.float32) for v in (gamma, beta, mean)]
                      + [unit_variance(layer.epsilon, n)])


@functools.lru_cache(maxsize=None)
@_quietly
def mlp():
    """16 -> quantized_bits(8,3) -> QDense 12 (bits alpha 1) -> quantized_relu -> QDense 10 (auto_po2) ->
    quantized_relu(negative_slope 1/4) -> Dropout -> QDense 6 (quantized_po2 weights) -> two heads concatenated:
    quantized_bits symmetric -> quantized_tanh (a table), and quantized_sigmoid on the accumulator (arithmetic)."""
    _, keras, qk = keras_modules()
    x = keras.Input((16,), name="x")
    h = qk.QActivation(qk.quantized_bits(8, 3, alpha=1), name="q_in")(x)
    h = qk.QDense(12, kernel_quantizer=qk.quantized_bits(6, 0, alpha=1), bias_quantizer=qk.quantized_bits(8, 3),
                  name="fc1")(h)
    h = qk.QActivation(qk.quantized_relu(6, 2), name="relu1")(h)
    h = qk.QDense(10, kernel_quantizer=qk.quantized_bits(4, 0, alpha="auto_po2"),
                  bias_quantizer=qk.quantized_bits(8, 3), name="fc2")(h)
    h = qk.QActivation(qk.quantized_relu(6, 2, negative_slope=0.25), name="leaky2")(h)
    h = keras.layers.Dropout(0.25, name="drop")(h)
    h = qk.QDense(6, kernel_quantizer=qk.quantized_po2(4), bias_quantizer=qk.quantized_bits(8, 3), name="fc3")(h)
    a = qk.QActivation(qk.quantized_bits(8, 3, symmetric=1), name="q_sym")(h)
    t = qk.QActivation(qk.quantized_tanh(6), name="tanh_table")(a)
    s = qk.QActivation(qk.quantized_sigmoid(6), name="sigmoid_linear")(h)
    y = keras.layers.Concatenate(name="heads")([t, s])
    model = keras.Model(x, y, name="keras_mlp")
    _randomize(model, seed=1)
    return model


@functools.lru_cache(maxsize=None)
@_quietly
def cnn1d():
    """[24, 2] -> quantized_bits(8,2) -> QConv1D 4 k3 same (alpha None) -> QBatchNormalization (Mul/Add: scales 3/4,
    5/4) -> quantized_relu -> MaxPooling1D 2 -> QConv1D 6 k3 stride 2 -> quantized_bits -> quantized_relu_po2 (a
    table) -> QConv1D 6 k3 dilation 2 causal -> quantized_bits -> GlobalAveragePooling1D (over 5) -> quantized_bits
    -> QDense 4 -> quantized_tanh on the accumulator (arithmetic)."""
    _, keras, qk = keras_modules()
    x = keras.Input((24, 2), name="x")
    h = qk.QActivation(qk.quantized_bits(8, 2), name="q_in")(x)
    h = qk.QConv1D(4, 3, padding="same", kernel_quantizer=qk.quantized_bits(6, 0),
                   bias_quantizer=qk.quantized_bits(8, 3), name="conv1")(h)
    bn = qk.QBatchNormalization(gamma_quantizer=qk.quantized_bits(6, 2), beta_quantizer=qk.quantized_bits(6, 2),
                                mean_quantizer=qk.quantized_bits(6, 2), variance_quantizer=None, name="bn1")
    h = bn(h)
    h = qk.QActivation(qk.quantized_relu(6, 2), name="relu1")(h)
    h = keras.layers.MaxPooling1D(2, name="pool1")(h)
    h = qk.QConv1D(6, 3, strides=2, kernel_quantizer=qk.quantized_bits(6, 0, alpha=1),
                   bias_quantizer=qk.quantized_bits(8, 3), name="conv2")(h)
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q2")(h)
    h = qk.QActivation(qk.quantized_relu_po2(4, max_value=4), name="relu_po2")(h)
    h = qk.QConv1D(6, 3, dilation_rate=2, padding="causal", kernel_quantizer=qk.quantized_bits(6, 0, alpha=1),
                   bias_quantizer=qk.quantized_bits(8, 3), name="conv3")(h)
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q3")(h)
    h = keras.layers.GlobalAveragePooling1D(name="gap")(h)
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_gap")(h)
    h = qk.QDense(4, kernel_quantizer=qk.quantized_bits(6, 0, alpha=1), bias_quantizer=qk.quantized_bits(8, 3),
                  name="fc")(h)
    y = qk.QActivation(qk.quantized_tanh(6, symmetric=True), name="tanh_linear")(h)
    model = keras.Model(x, y, name="keras_cnn1d")
    _randomize(model, seed=2)
    _set_batch_norm(bn, gamma=[0.75, 1.25, 0.5, 1.0], beta=[0.25, -0.5, 0.0, 0.125], mean=[0.5, -0.25, 0.0, 1.0])
    return model


@functools.lru_cache(maxsize=None)
@_quietly
def cnn2d():
    """[8, 8, 1] -> quantized_bits(6,2,keep_negative=False) -> Conv2D 4 3x3 same, float dyadic weights ->
    BatchNormalization (folded into them) -> quantized_relu -> MaxPooling2D 2 -> a residual block: QConv2D 4 3x3
    same (auto_po2) -> Activation relu -> quantized_bits, plus the block's input -> Add -> quantized_bits ->
    AveragePooling2D 2 -> Flatten -> QDense 5 -> quantized_bits(6,2) -> quantized_sigmoid (a table)."""
    _, keras, qk = keras_modules()
    x = keras.Input((8, 8, 1), name="x")
    h = qk.QActivation(qk.quantized_bits(6, 2, keep_negative=False), name="q_in")(x)
    h = keras.layers.Conv2D(4, (3, 3), padding="same", name="conv1")(h)
    bn = keras.layers.BatchNormalization(name="bn1")
    h = bn(h)
    h = qk.QActivation(qk.quantized_relu(6, 2), name="relu1")(h)
    p = keras.layers.MaxPooling2D(2, name="pool1")(h)
    r = qk.QConv2D(4, (3, 3), padding="same", kernel_quantizer=qk.quantized_bits(6, 0, alpha="auto_po2"),
                   bias_quantizer=qk.quantized_bits(8, 3), name="conv2")(p)
    r = keras.layers.Activation("relu", name="relu2")(r)
    r = qk.QActivation(qk.quantized_bits(8, 3), name="q2")(r)
    h = keras.layers.Add(name="residual")([p, r])
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_res")(h)
    h = keras.layers.AveragePooling2D(2, name="pool2")(h)
    h = keras.layers.Flatten(name="flat")(h)
    h = qk.QDense(5, kernel_quantizer=qk.quantized_bits(6, 0, alpha=1), bias_quantizer=qk.quantized_bits(8, 3),
                  name="fc")(h)
    h = qk.QActivation(qk.quantized_bits(6, 2), name="q_fc")(h)
    y = qk.QActivation(qk.quantized_sigmoid(5), name="sigmoid_table")(h)
    model = keras.Model(x, y, name="keras_cnn2d")
    _randomize(model, seed=3)
    rng = np.random.default_rng(30)
    conv1 = model.get_layer("conv1")
    conv1.set_weights([rng.integers(-12, 13, size=w.shape).astype(np.float32) / 16 for w in conv1.get_weights()])
    _set_batch_norm(bn, gamma=[0.75, 1.5, 0.5, 1.0], beta=[0.25, -0.5, 0.0, 0.125], mean=[0.5, -0.25, 0.0, 1.0])
    return model


@functools.lru_cache(maxsize=None)
@_quietly
def depthwise():
    """[6, 6, 2] -> quantized_bits(8,3) -> QDepthwiseConv2D 3x3 x2 same (auto_po2) -> quantized_relu -> QConv2D 6 1x1
    no bias -> QBatchNormalization with power-of-two scales (folded into the quantized kernel) -> quantized_relu
    (negative_slope 1/8) -> MaxPooling2D 3 stride 2 same -> QConv2D 4 3x3 stride 2 same -> quantized_bits ->
    GlobalMaxPooling2D -> QDense 4 -> quantized_bits -> ReLU(max_value=2)."""
    _, keras, qk = keras_modules()
    x = keras.Input((6, 6, 2), name="x")
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_in")(x)
    h = qk.QDepthwiseConv2D((3, 3), depth_multiplier=2, padding="same",
                            depthwise_quantizer=qk.quantized_bits(6, 0, alpha="auto_po2"),
                            bias_quantizer=qk.quantized_bits(8, 3), name="dw")(h)
    h = qk.QActivation(qk.quantized_relu(6, 2), name="relu_dw")(h)
    h = qk.QConv2D(6, (1, 1), use_bias=False, kernel_quantizer=qk.quantized_bits(6, 0, alpha=1), name="pw")(h)
    bn = qk.QBatchNormalization(variance_quantizer=None, name="bn_pw")   # the default quantizers otherwise
    h = bn(h)
    h = qk.QActivation(qk.quantized_relu(6, 2, negative_slope=0.125), name="leaky_pw")(h)
    h = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool")(h)
    h = qk.QConv2D(4, (3, 3), strides=2, padding="same", kernel_quantizer=qk.quantized_bits(4, 1, alpha=1),
                   bias_quantizer=qk.quantized_bits(8, 3), name="conv")(h)
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_conv")(h)
    h = keras.layers.GlobalMaxPooling2D(name="gmp")(h)
    h = qk.QDense(4, kernel_quantizer=qk.quantized_bits(6, 0, alpha=1), bias_quantizer=qk.quantized_bits(8, 3),
                  name="fc")(h)
    h = qk.QActivation(qk.quantized_bits(8, 3), name="q_fc")(h)
    y = keras.layers.ReLU(max_value=2.0, name="relu_max")(h)
    model = keras.Model(x, y, name="keras_depthwise")
    _randomize(model, seed=4)
    _set_batch_norm(bn, gamma=[0.5, 1.0, 2.0, 0.25, 1.0, 0.5], beta=[0.25, -0.5, 0.0, 0.125, 0.0, 0.5],
                    mean=[0.5, -0.25, 0.0, 1.0, 0.0, -1.0])
    return model


ZOO = {"mlp": mlp, "cnn1d": cnn1d, "cnn2d": cnn2d, "depthwise": depthwise}


def predict(model, x: np.ndarray) -> np.ndarray:
    """QKeras's own answer on float inputs, as float64 (float32 holds every value of these models exactly)."""
    return np.asarray(model.predict(x.astype(np.float32), verbose=0, batch_size=512), dtype=np.float64)
