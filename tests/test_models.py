"""Models you already have: Keras 3, tf_keras (eager), SavedModel, .keras, GraphDef, hidden tensors."""

import numpy as np
import pytest
import tensorflow as tf

from deepexplain_ng import DeepExplain
from deepexplain_ng.text import token_attributions
from builders import bn_model_weights as _weights, keras_bn_model as _keras_model, raw_bn_model as _raw_tf, samples
from tolerance import assert_float32_close

keras = pytest.importorskip("keras")

pytestmark = pytest.mark.eager
tf1 = tf.compat.v1
METHODS = {"saliency": {}, "grad*input": {}, "intgrad": {"steps": 20}, "elrp": {}, "deeplift": {}}
XS = samples((5, 6), seed=31)
CLASSES = np.array([0, 1, 2, 1, 0])


def _explain_all(session, x, t):
    with DeepExplain(session=session) as de:
        return {m: de.explain(m, t, x, XS, ys=CLASSES, **o) for m, o in METHODS.items()}


@pytest.fixture(scope="module")
def reference():
    return _explain_all(*_raw_tf(_weights()))


def _imported(model, **kwargs):
    session = tf1.Session(graph=tf.Graph())
    with DeepExplain(session=session) as de:
        x, t = de.import_model(model, **kwargs)
    return session, x, t


def _assert_same(got, expected):
    for method in expected:
        scale = np.abs(expected[method]).max()
        np.testing.assert_allclose(got[method], expected[method], rtol=0, atol=1e-4 * scale, err_msg=method)


def test_keras3_model_matches_the_raw_tf_build(reference):
    model = _keras_model(keras, _weights())
    session, x, t = _imported(model)
    assert t.op.type in ("BiasAdd", "AddV2", "Add")  # logits: the input of the final softmax
    _assert_same(_explain_all(session, x, t), reference)
    # probabilities are the model's own output, in inference mode (dropout off, moving statistics)
    session, x, p = _imported(model, output="probabilities")
    np.testing.assert_allclose(session.run(p, {x: XS}), model.predict(XS, verbose=0), rtol=1e-5, atol=1e-6)


def test_tf_keras_eager_model_matches_the_raw_tf_build(reference):
    tf_keras = pytest.importorskip("tf_keras")
    session, x, t = _imported(_keras_model(tf_keras, _weights()))
    _assert_same(_explain_all(session, x, t), reference)


def test_saved_model_and_keras_file_round_trips(tmp_path, reference):
    model = _keras_model(keras, _weights())
    model.save(tmp_path / "model.keras")
    model.save(tmp_path / "model.h5")
    model.export(str(tmp_path / "saved"), verbose=False)
    for path in (str(tmp_path / "model.keras"), str(tmp_path / "model.h5"), str(tmp_path / "saved")):
        session, x, t = _imported(path)
        _assert_same(_explain_all(session, x, t), reference)


def test_graph_def_and_pb_file_with_tensor_names(reference, tmp_path):
    session, x, t = _raw_tf(_weights())
    tf.io.write_graph(session.graph.as_graph_def(), str(tmp_path), "frozen.pb", as_text=False)
    for model in (session.graph.as_graph_def(), str(tmp_path / "frozen.pb")):
        session2 = tf1.Session(graph=tf.Graph())
        with DeepExplain(session=session2) as de:
            x2, t2 = de.import_model(model, inputs=[x.name], outputs=[t.name])
        _assert_same(_explain_all(session2, x2, t2), reference)
    with DeepExplain(session=session2) as de:
        with pytest.raises(ValueError, match="inputs/outputs: .*nowhere:0"):
            de.import_model(str(tmp_path / "frozen.pb"), inputs=[x.name], outputs=["nowhere:0"])


def test_sequential_and_subclassed_models():
    seq = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu"),
                            keras.layers.Dense(2)])

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.inner = keras.layers.Dense(4, activation="elu")
            self.out = keras.layers.Dense(2)

        def call(self, inputs):
            return self.out(self.inner(inputs))

    sub = Sub()
    sub(XS)  # subclassed models are traced once called
    for model in (seq, sub):
        session, x, t = _imported(model)
        np.testing.assert_allclose(session.run(t, {x: XS}), model.predict(XS, verbose=0), rtol=1e-5, atol=1e-6)
        with DeepExplain(session=session) as de:
            a = de.explain("deeplift", t, x, XS, ys=[0, 1, 0, 1, 0])
        delta = model.predict(XS, verbose=0)[np.arange(5), [0, 1, 0, 1, 0]] - \
            model.predict(np.zeros((1, 6)), verbose=0)[0, [0, 1, 0, 1, 0]]
        np.testing.assert_allclose(a.sum(1), delta, rtol=1e-4, atol=1e-5)


def test_layer_output_as_target():
    model = _keras_model(keras, _weights())
    session, x, hidden = _imported(model, output="hidden")
    expected = np.tanh(XS @ _weights()["w1"] + _weights()["b1"])
    np.testing.assert_allclose(session.run(hidden, {x: XS}), expected, rtol=1e-5, atol=1e-6)


def test_hidden_tensor_input_with_raw_feed_equals_precomputed_activations():
    session, x, t = _raw_tf(_weights())
    hidden = session.graph.get_operations()
    hidden = [op for op in hidden if op.type == "Tanh"][0].outputs[0]
    activations = session.run(hidden, {x: XS})
    with DeepExplain(session=session) as de:
        for method, options in METHODS.items():
            direct = de.explain(method, t, hidden, activations, ys=CLASSES, **options)
            fed = de.explain(method, t, hidden, ys=CLASSES, feed={x: XS}, batch_size=2, **options)
            # X computed in chunks of 2 vs all at once: equal up to float32 rounding
            assert_float32_close(fed, direct, err_msg=method)
        with pytest.raises(ValueError, match="feed=\\{input_placeholder: array\\}"):
            de.explain("saliency", t, hidden)


def test_embedding_model_token_attributions():
    vocab, dim = 12, 4
    table = samples((vocab, dim), seed=33)
    graph = tf.Graph()
    with graph.as_default():
        ids = tf1.placeholder(tf.int32, (None, 5))
        embedded = tf.gather(tf.constant(table), ids)
        logits = tf.matmul(tf.reduce_mean(tf.tanh(embedded), axis=1), samples((dim, 2), seed=34))
    session = tf1.Session(graph=graph)
    tokens = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 0]])
    with DeepExplain(session=session) as de:
        with pytest.raises(TypeError, match="embedding"):
            de.explain("deeplift", logits, ids, tokens)
        a = de.explain("deeplift", logits, embedded, feed={ids: tokens}, ys=[0, 1])
    per_token = token_attributions(a)
    assert per_token.shape == (2, 5)
    delta = session.run(logits, {ids: tokens})[[0, 1], [0, 1]] - \
        session.run(logits, {embedded: np.zeros((1, 5, dim))})[0, [0, 1]]
    np.testing.assert_allclose(per_token.sum(1), delta, rtol=1e-4, atol=1e-6)


def test_multi_input_keras_model_gives_a_list():
    left, right = keras.Input((3,), name="left"), keras.Input((2,), name="right")
    merged = keras.layers.Concatenate()([keras.layers.Dense(4, activation="relu")(left), right])
    model = keras.Model([left, right], keras.layers.Dense(2)(merged))
    session, xs, t = _imported(model)
    assert isinstance(xs, list) and len(xs) == 2
    data = [samples((3, 3), seed=35), samples((3, 2), seed=36)]
    with DeepExplain(session=session) as de:
        for method, options in METHODS.items():
            result = de.explain(method, t, xs, data, ys=[0, 1, 1], **options)
            assert [r.shape for r in result] == [(3, 3), (3, 2)]
        a = de.explain("deeplift", t, xs, data, ys=[0, 1, 1])
    delta = model.predict(data, verbose=0)[np.arange(3), [0, 1, 1]] - \
        model.predict([np.zeros((1, 3)), np.zeros((1, 2))], verbose=0)[0, [0, 1, 1]]
    np.testing.assert_allclose(a[0].sum(1) + a[1].sum(1), delta, rtol=1e-4, atol=1e-5)


def test_bad_models():
    with pytest.raises(ValueError, match="no file or directory at '/nowhere/model.keras'"):
        _imported("/nowhere/model.keras")

    class NeverCalled(keras.Model):
        def call(self, inputs):
            return inputs * 2

    with pytest.raises(ValueError, match="input shape is unknown"):
        _imported(NeverCalled())
    with pytest.raises(ValueError, match="no layer named 'nope'.*hidden"):
        _imported(_keras_model(keras, _weights()), output="nope")
    with pytest.raises(ValueError, match="inputs= and outputs="):
        _imported(tf.Graph().as_graph_def())
    with pytest.raises(TypeError, match="expected a Keras model"):
        _imported(object())
    with DeepExplain(session=tf1.Session(graph=tf.Graph())) as de:
        # a classic slip: a Keras 3 model built in the graph block
        built_inside = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
        with pytest.raises(ValueError, match="must be built outside the `with DeepExplain"):
            de.import_model(built_inside)


def test_explaining_from_a_keras_layer_with_raw_inputs_fed():
    session = tf1.Session(graph=tf.Graph())
    keras_model = _keras_model(keras, _weights())  # Keras 3 builds eagerly, outside the graph
    with DeepExplain(session=session) as de:
        model = de.import_model(keras_model)
        hidden = model.layer("norm")
        x, t = model
        activations = session.run(hidden, {x: XS})
        for method in ("grad*input", "deeplift"):
            fed = de.explain(method, t, hidden, ys=CLASSES, feed={x: XS})
            assert_float32_close(fed, de.explain(method, t, hidden, activations, ys=CLASSES), err_msg=method)
        # on the normalised activations the rest of the net is affine: exact for both methods
        w = _weights()
        expected = activations * w["w2"][:, CLASSES].T
        np.testing.assert_allclose(fed, expected, rtol=1e-4, atol=1e-6)
        with pytest.raises(ValueError, match="no layer named 'embedding'.*hidden.*norm"):
            model.layer("embedding")
