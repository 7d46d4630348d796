"""DeepLIFT sums to S(x) - S(b) on the architectures people explain, with no op left without a
rule; epsilon-LRP conserves S(x) on bias-free ReLU networks. Keras 3 models at small sizes."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, UnsupportedOpWarning

pytestmark = [pytest.mark.eager, pytest.mark.examples]  # Keras 3 models: run once, in the main run
tf1 = tf.compat.v1
RNG = np.random.default_rng(300)
EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(autouse=True)
def _seeded():
    """The same weights and data on every run, whichever tests run before."""
    global RNG
    keras.utils.set_random_seed(3)
    RNG = np.random.default_rng(300)


def _with_data_statistics(model, images):
    """Random-init nets need batch-norm statistics from data, or their activations vanish: one
    training step at learning rate 0 with momentum 0 sets them."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images, np.zeros(len(images), np.int64), epochs=1, batch_size=len(images), verbose=0)
    return model


def _conv_net(bias=True):
    i = keras.Input((12, 12, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", use_bias=bias)(i)
    if bias:
        h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.MaxPooling2D(2)(h)
    r = keras.layers.SeparableConv2D(8, 3, padding="same", activation="relu", use_bias=bias)(h)
    h = keras.layers.Add()([h, r])                              # residual
    h = keras.layers.MaxPooling2D(2)(h)
    return keras.Model(i, keras.layers.Dense(4, use_bias=bias)(keras.layers.Flatten()(h)))


def _sigmoid_end():
    i = keras.Input((6,))
    h = keras.layers.Dense(8, activation="elu")(i)
    return keras.Model(i, keras.layers.Dense(1, activation="sigmoid")(h))


def _text(kind):
    ids = keras.Input((7,), dtype="int32")
    h = keras.layers.Embedding(30, 8, name="embedding")(ids)
    if kind == "transformer":
        attended = keras.layers.MultiHeadAttention(2, 4)(h, h)
        h = keras.layers.LayerNormalization()(h + attended)
        h = keras.layers.LayerNormalization()(h + keras.layers.Dense(8)(keras.layers.Dense(16, activation="gelu")(h)))
        h = keras.layers.GlobalAveragePooling1D()(h)
    else:
        h = getattr(keras.layers, kind)(6)(h)
    return keras.Model(ids, keras.layers.Dense(3)(h))


def _check_deeplift(model, xs, classes, baselines, output="logits", layer=None, feed_values=None):
    session = tf1.Session(graph=tf.Graph())
    with DeepExplain(session=session) as de, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnsupportedOpWarning)
        imported = de.import_model(model, output=output)
        x, t = imported
        if layer is not None:  # explain from a hidden tensor (an embedding output)
            x, xs = imported.layer(layer), session.run(imported.layer(layer), {x: feed_values})
        rows = np.arange(len(xs)), classes
        for baseline in baselines(xs):
            a = de.explain("deeplift", t, x, xs, ys=classes, baseline=baseline)
            reference = np.broadcast_to(baseline, xs.shape)
            delta = session.run(t, {x: xs})[rows] - session.run(t, {x: reference})[rows]
            flat = a.reshape(len(xs), -1).astype(np.float64)
            # 1e-3 of the difference, or float32 rounding of attributions that cancel: random-init
            # deep nets can have sum |a| far above |sum a| (EfficientNet: up to 1e5 times)
            tolerance = 1e-3 * np.abs(delta) + 16 * EPS32 * np.abs(flat).sum(axis=1)
            assert np.all(np.abs(flat.sum(axis=1) - delta) <= tolerance), (flat.sum(axis=1), delta, tolerance)
    assert not [str(w.message) for w in caught if issubclass(w.category, UnsupportedOpWarning)]


def _zero_and_random(xs):
    return [np.zeros(xs.shape[1:], xs.dtype), RNG.normal(size=xs.shape[1:]).astype(xs.dtype)]


def test_conv_net_with_max_pooling_residuals_separable_convolutions_and_batch_norm():
    images = RNG.normal(size=(16, 12, 12, 3)).astype(np.float32)
    model = _with_data_statistics(_conv_net(), images)
    _check_deeplift(model, images[:3], np.array([0, 1, 3]), _zero_and_random)


def test_a_model_ending_in_a_sigmoid():
    xs = RNG.normal(size=(4, 6)).astype(np.float32)
    _check_deeplift(_sigmoid_end(), xs, np.zeros(4, np.int64), _zero_and_random, output="probabilities")


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "transformer"])
def test_text_models_from_their_embedding(kind):
    tokens = RNG.integers(0, 30, (3, 7)).astype(np.int32)
    _check_deeplift(_text(kind), None, np.array([0, 1, 2]), _zero_and_random, layer="embedding",
                    feed_values=tokens)


@pytest.mark.parametrize("name", ["MobileNetV2", "EfficientNetB0"])
def test_keras_applications(name):
    images = RNG.uniform(0, 255, size=(8, 32, 32, 3)).astype(np.float32)
    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=5)
    model = _with_data_statistics(model, images)
    _check_deeplift(model, images[:2], np.array([1, 3]),
                    lambda xs: [np.zeros(xs.shape[1:], np.float32), images[5]])


def test_epsilon_lrp_conserves_on_a_bias_free_relu_network():
    images = RNG.normal(size=(3, 12, 12, 3)).astype(np.float32)
    model = _conv_net(bias=False)
    classes = np.array([0, 2, 3])
    expected = model(images).numpy()[np.arange(3), classes]
    session = tf1.Session(graph=tf.Graph())
    with DeepExplain(session=session) as de:
        x, t = de.import_model(model)
        a = de.explain("elrp", t, x, images, ys=classes, epsilon=1e-7)
    np.testing.assert_allclose(a.sum(axis=(1, 2, 3)), expected, rtol=0, atol=1e-3 * np.abs(expected).max())
