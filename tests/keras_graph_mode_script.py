"""Run in its own process by test_keras.py: tf_keras needs eager execution off globally."""
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
import tf_keras  # noqa: E402

from deepexplain_ng import DeepExplain, SoftmaxTargetWarning, UnsupportedOpWarning, keras_session  # noqa: E402
from builders import bn_model_weights, keras_bn_model, raw_bn_model, samples  # noqa: E402

tf_keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
data = rng.normal(size=(64, 6)).astype(np.float32)
labels = (data[:, 0] + data[:, 1] > 0).astype(np.int64) + (data[:, 2] > 1)
model = tf_keras.Sequential([
    tf_keras.layers.Dense(16, activation="relu", input_shape=(6,)),
    tf_keras.layers.Dropout(0.5),
    tf_keras.layers.Dense(8, activation="relu"),
    tf_keras.layers.Dense(3, name="logits"),
])
model.compile("adam", tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(data, labels, epochs=2, verbose=0)
probabilities = tf_keras.layers.Softmax()(model.output)

xs, classes = data[:5], labels[:5]
result = {}
with DeepExplain(session=keras_session()) as de:
    with warnings.catch_warnings(record=True) as unsupported:
        warnings.simplefilter("always", UnsupportedOpWarning)
        runs = {m: [de.explain(m, model.output, model.input, xs, ys=classes).tolist() for _ in range(3)]
                for m in ("saliency", "grad*input", "intgrad", "elrp", "deeplift")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        de.get_explainer("saliency", probabilities, model.input)
with DeepExplain() as de:  # no session given: tf_keras' graph-mode session is found
    result["default_session_is_keras"] = de.session is keras_session()
result["runs"] = runs
result["unsupported"] = [str(w.message) for w in unsupported if issubclass(w.category, UnsupportedOpWarning)]
result["softmax_warned"] = any(issubclass(w.category, SoftmaxTargetWarning) for w in caught)
result["predict"] = model.predict(xs, verbose=0)[np.arange(5), classes].tolist()
result["predict_baseline"] = model.predict(np.zeros((1, 6), np.float32), verbose=0)[0, classes].tolist()
result["weights"] = [w.tolist() for w in model.get_weights()]
result["xs"], result["classes"] = xs.tolist(), classes.tolist()

# the same weights as a raw TF graph and as a tf_keras graph-mode model with BatchNorm and Dropout
methods = {"saliency": {}, "grad*input": {}, "intgrad": {"steps": 20}, "elrp": {}, "deeplift": {}}
bn_xs, bn_ys = samples((5, 6), seed=31), [0, 1, 2, 1, 0]
session, x, logits = raw_bn_model(bn_model_weights())
with DeepExplain(session=session) as de:
    raw = {m: de.explain(m, logits, x, bn_xs, ys=bn_ys, **o) for m, o in methods.items()}
bn_model = keras_bn_model(tf_keras, bn_model_weights())
with DeepExplain(session=keras_session()) as de:
    x, t = de.import_model(bn_model)  # same graph: no freezing, logits found behind the softmax
    keras_graph = {m: de.explain(m, t, x, bn_xs, ys=bn_ys, **o) for m, o in methods.items()}
result["same_weights_relative_error"] = {
    m: float(np.abs(keras_graph[m] - raw[m]).max() / np.abs(raw[m]).max()) for m in methods}
result["bn_logits_op"] = t.op.type
json.dump(result, sys.stdout)
