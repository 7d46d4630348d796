"""A tf_keras (Keras 2) model in graph mode, explained through its own session.

A Sequential CNN with Dropout is trained on the digits; DeepExplain runs in tf_keras' session
(``keras_session()``) and feeds Keras' learning phase as inference, so dropout is off:
explanations are deterministic, and DeepLIFT's attributions add up to the logit differences
that ``model.predict`` gives.

    python examples/keras_tf_keras.py --out out
"""
import os
import time
import warnings

from common import parse_args

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()   # tf_keras in graph mode: before building any model
import tf_keras  # noqa: E402

# tf_keras' own notice while it builds its graph-mode training function, not ours
warnings.filterwarnings("ignore", message="`Model.state_updates` will be removed", category=UserWarning)

from deepexplain_ng import DeepExplain, UnsupportedOpWarning, keras_session  # noqa: E402
from deepexplain_ng.plot import compare  # noqa: E402
from digits_model import load_data, titles  # noqa: E402

METHOD_OPTIONS = {"saliency": {}, "grad*input": {}, "intgrad": {"steps": 100}, "elrp": {}, "deeplift": {}}


def train(seed=0, epochs=12):
    """A tf_keras Sequential CNN with Dropout; returns (model, test images, test labels, accuracy)."""
    train_images, train_labels, test_images, test_labels = load_data(seed)
    tf_keras.utils.set_random_seed(seed)
    layers = tf_keras.layers
    model = tf_keras.Sequential([
        tf_keras.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.AveragePooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.3),
        layers.Dense(10, name="logits"),
        layers.Activation("softmax", name="probabilities"),
    ])
    model.compile(tf_keras.optimizers.legacy.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_images, train_labels, epochs=epochs, batch_size=64, verbose=0)
    accuracy = model.evaluate(test_images, test_labels, verbose=0)[1]
    return model, test_images, test_labels, accuracy


def main():
    args = parse_args(__doc__.splitlines()[0])
    start = time.perf_counter()
    model, test_images, test_labels, accuracy = train()
    print(f"tf_keras CNN with dropout: test accuracy {accuracy:.3f} (trained in {time.perf_counter() - start:.1f} s)")
    xs, labels = test_images[:args.samples], test_labels[:args.samples]

    X, T = model.input, model.get_layer("logits").output        # explain the logits, not the softmax
    results = {}
    with DeepExplain(session=keras_session()) as de, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnsupportedOpWarning)
        for method, options in METHOD_OPTIONS.items():
            start = time.perf_counter()
            results[method] = de.explain(method, T, X, xs, ys=labels, **options)
            again = de.explain(method, T, X, xs, ys=labels, **options)
            print(f"{method:>10}: {time.perf_counter() - start:.3f} s for two runs, "
                  f"max difference between them {np.abs(results[method] - again).max():.1e}")
            assert np.array_equal(results[method], again), f"{method} is not deterministic"

    notes = sorted({str(w.message).split(": ", 1)[1] for w in caught if w.category is UnsupportedOpWarning})
    for note in notes:
        # tf_keras' Dropout is an If op in graph mode; its branches (identity, or a mask multiply)
        # hold no nonlinearity, so this does not change the numbers, as the check below shows
        print(f"the library warned (every method): {note}")

    # dropout off: DeepLIFT's sums equal the logit differences Keras' own inference computes
    logits_model = tf_keras.Model(X, T)
    chosen = np.arange(len(xs)), labels
    delta = logits_model.predict(xs, verbose=0)[chosen] - logits_model.predict(np.zeros_like(xs), verbose=0)[chosen]
    sums = results["deeplift"].sum(axis=(1, 2, 3))
    print("deeplift sums:                ", np.round(sums, 4))
    print("predict: S(x) - S(0) per digit:", np.round(delta, 4))
    np.testing.assert_allclose(sums, delta, rtol=1e-4, atol=1e-4)
    print("equal: the explanations ran the model in inference mode (dropout off)")

    path = os.path.join(args.out, "keras_tf_keras.png")
    compare(xs, results, titles=titles(labels), path=path)
    print(f"wrote {os.path.abspath(path)}")


if __name__ == "__main__":
    main()
