"""DeepLIFT through max-pooling and batch norm: a Keras 3 digits CNN, explained exactly.

Conv -> BatchNorm -> ReLU -> MaxPool -> Conv -> ReLU -> MaxPool -> Dense, trained on
scikit-learn's digits, imported into a DeepExplain context. Each max-pooling window's change
max(x) - max(reference) is routed to the winners of input and reference, so the attributions of
every digit sum to logit(x) - logit(blank) exactly (the plain gradient through max-pooling, as
other libraries use, loses most of it).

    python examples/deeplift_max_pooling.py --out out
"""
from common import parse_args

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deepexplain_ng import DeepExplain  # noqa: E402
from deepexplain_ng.plot import compare  # noqa: E402
from digits_model import load_data, titles  # noqa: E402


def train(seed=0):
    keras.utils.set_random_seed(seed)
    train_images, train_labels, test_images, test_labels = load_data(seed)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(10, name="logits"),
    ])
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(train_images, train_labels, epochs=10, batch_size=64, verbose=0)
    return model, test_images, test_labels, model.evaluate(test_images, test_labels, verbose=0)[1]


def main():
    args = parse_args(__doc__.splitlines()[0])
    model, images, labels, accuracy = train()
    print(f"max-pooling CNN: test accuracy {accuracy:.3f}")
    xs, classes = images[:args.samples], labels[:args.samples]
    sess = tf.compat.v1.Session(graph=tf.Graph())
    with DeepExplain(session=sess) as de:
        X, T = de.import_model(model)
        results = {m: de.explain(m, T, X, xs, ys=classes) for m in ("deeplift", "grad*input")}
        chosen = np.arange(len(xs)), classes
        delta = sess.run(T, {X: xs})[chosen] - sess.run(T, {X: np.zeros_like(xs)})[chosen]
    sums = results["deeplift"].sum(axis=(1, 2, 3))
    print("deeplift sums:            ", np.round(sums, 4))
    print("logit(x) - logit(blank):  ", np.round(delta, 4))
    print("grad*input sums (no rule):", np.round(results["grad*input"].sum(axis=(1, 2, 3)), 4))
    np.testing.assert_allclose(sums, delta, rtol=1e-4, atol=1e-4)
    print("summation-to-delta holds through max-pooling and batch norm")
    path = f"{args.out}/deeplift_max_pooling.png"
    compare(xs, results, titles=titles(classes), path=path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
