"""import_model gives a flat graph: custom gradients, function calls, recurrent loops and nested
models come in as ordinary ops, so that gradients, the path search and the rules see them all.

One small Keras 3 model per mechanism; the imported logits equal the model's, and saliency and
integrated gradients equal the model's own GradientTape gradients at the same points.
"""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain, SoftmaxTargetWarning, UnsupportedOpWarning
from builders import samples

tf1 = tf.compat.v1

pytestmark = pytest.mark.eager
CALLS = {"PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile", "Enter", "Exit",
         "If", "StatelessIf"}


def _swish_mlp():  # tf.nn.silu carries a tf.custom_gradient
    i = keras.Input((6,))
    h = keras.layers.Dense(8, activation="swish")(i)
    return keras.Model(i, keras.layers.Dense(3)(h)), samples((4, 6), seed=70)


def _function_call():  # a tf.function inside a layer traces to a PartitionedCall
    scale = tf.function(lambda v: tf.tanh(v) * 2.0)
    i = keras.Input((5,))
    h = keras.layers.Lambda(lambda v: scale(v), output_shape=(7,))(keras.layers.Dense(7)(i))
    return keras.Model(i, keras.layers.Dense(3)(h)), samples((4, 5), seed=71)


def _grouped_convolutions():  # Keras runs grouped convolutions in an XLA-compiled function
    i = keras.Input((6, 6, 4))
    h = keras.layers.Conv2D(8, 3, padding="same", groups=4, activation="relu")(i)  # depthwise
    h = keras.layers.Conv2D(4, 3, padding="same", groups=2)(h)                     # two groups
    return keras.Model(i, keras.layers.Dense(3)(keras.layers.Flatten()(h))), samples((4, 6, 6, 4), seed=76)


def _recurrent(kind):
    def build():
        i = keras.Input((6, 4))
        h = getattr(keras.layers, kind)(5)(i)
        return keras.Model(i, keras.layers.Dense(3)(h)), samples((4, 6, 4), seed=72)
    return build


def _attention():
    i = keras.Input((5, 8))
    attended = keras.layers.MultiHeadAttention(2, 4)(i, i)
    h = keras.layers.LayerNormalization()(i + attended)
    h = keras.layers.Dense(8, activation="gelu")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    return keras.Model(i, keras.layers.Dense(3)(h)), samples((4, 5, 8), seed=73)


def _nested():
    inner_input = keras.Input((5,))
    base = keras.Model(inner_input, keras.layers.Dense(4, activation="tanh")(inner_input), name="base")
    outer_input = keras.Input((5,))
    return keras.Model(outer_input, keras.layers.Dense(3)(base(outer_input))), samples((4, 5), seed=74)


BUILDERS = {"custom_gradient": _swish_mlp, "function_call": _function_call,
            "grouped_convolutions": _grouped_convolutions, "lstm": _recurrent("LSTM"),
            "gru": _recurrent("GRU"), "einsum_attention": _attention, "nested_model": _nested}
CLASSES = np.array([0, 1, 2, 1])


def _tape(model, xs, baseline=None, steps=1):
    """mean over IG steps of d logit[class] / dx, by the model's own eager gradients."""
    baseline = np.zeros_like(xs) if baseline is None else baseline
    total = np.zeros_like(xs, dtype=np.float64)
    for k in range(1, steps + 1):
        point = tf.constant(baseline + (k / steps if steps > 1 else 1.0) * (xs - baseline))
        with tf.GradientTape() as tape:
            tape.watch(point)
            chosen = tf.gather(model(point, training=False), CLASSES, axis=1, batch_dims=1)
        total += tape.gradient(chosen, point).numpy()
    return total / steps


@pytest.mark.parametrize("mechanism", list(BUILDERS))
def test_imported_model_is_flat_and_its_gradients_are_the_models(mechanism):
    model, xs = BUILDERS[mechanism]()
    logits = model(xs, training=False).numpy()
    delta = (logits - model(np.zeros_like(xs), training=False).numpy())[np.arange(len(xs)), CLASSES]
    gradient = _tape(model, xs)
    integrated = xs * _tape(model, xs, steps=16)
    session = tf1.Session(graph=tf.Graph())
    with DeepExplain(session=session) as de, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, t = de.import_model(model)
        left = sorted({op.type for op in de.graph.get_operations() if op.type in CALLS})
        assert left == [], f"function calls left in the imported graph: {left}"
        np.testing.assert_allclose(session.run(t, {x: xs}), logits, rtol=0, atol=1e-5 * np.abs(logits).max())
        saliency = de.explain("saliency", t, x, xs, ys=CLASSES)
        np.testing.assert_allclose(saliency, np.abs(gradient), rtol=0, atol=1e-3 * np.abs(gradient).max())
        ig = de.explain("intgrad", t, x, xs, ys=CLASSES, steps=16)
        np.testing.assert_allclose(ig, integrated, rtol=0, atol=1e-3 * np.abs(integrated).max())
        # DeepLIFT's rules cover every op of these models (gates, softmax, normalisation): the
        # attributions sum to S(x) - S(0) exactly, up to float32 rounding
        deeplift = de.explain("deeplift", t, x, xs, ys=CLASSES)
        sums = deeplift.reshape(len(xs), -1).sum(axis=1)
        np.testing.assert_allclose(sums, delta, rtol=0, atol=1e-3 * np.abs(delta).max() + 1e-6)
    # the attention softmax is inside the network, not at the target
    assert not [w for w in caught if issubclass(w.category, SoftmaxTargetWarning)]
    reported = " ".join(str(w.message) for w in caught if issubclass(w.category, UnsupportedOpWarning))
    assert reported == ""


def test_nested_model_layer_is_its_call_in_the_outer_model():
    model, xs = _nested()
    expected = model.get_layer("base")(xs).numpy()
    session = tf1.Session(graph=tf.Graph())
    with DeepExplain(session=session) as de:
        imported = de.import_model(model)
        np.testing.assert_allclose(session.run(imported.layer("base"), {imported.input: xs}), expected,
                                   rtol=0, atol=1e-6)


def test_embedding_lstm_explained_from_its_embedding():
    ids = keras.Input((7,), dtype="int32")
    embedded = keras.layers.Embedding(20, 4, name="embedding")(ids)
    model = keras.Model(ids, keras.layers.Dense(2)(keras.layers.LSTM(5)(embedded)))
    tokens = np.random.default_rng(75).integers(0, 20, (3, 7)).astype(np.int32)
    expected = model(tokens).numpy()
    session = tf1.Session(graph=tf.Graph())
    with DeepExplain(session=session) as de:
        imported = de.import_model(model)
        x, t = imported
        layer = imported.layer("embedding")
        np.testing.assert_allclose(session.run(t, {x: tokens}), expected, rtol=0, atol=1e-6)
        for method in ("saliency", "intgrad", "occlusion"):
            a = de.explain(method, t, layer, feed={x: tokens}, ys=[0, 1, 0])
            assert a.shape == (3, 7, 4) and np.abs(a).max() > 0
        delta = session.run(t, {layer: session.run(layer, {x: tokens})}) - session.run(
            t, {layer: np.zeros((3, 7, 4), np.float32)})
        ig = de.explain("intgrad", t, layer, feed={x: tokens}, ys=[0, 1, 0], steps=200)
        np.testing.assert_allclose(ig.sum(axis=(1, 2)), delta[np.arange(3), [0, 1, 0]], rtol=0, atol=2e-3)
