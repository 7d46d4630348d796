"""A small CNN trained in seconds on scikit-learn's digits (8x8, shipped offline), shared by
the examples. The model is built inside a DeepExplain context, DeepExplain's "Option 1";
building it before the context works as well (ops are marked when an explainer is built).
"""
import time
from dataclasses import dataclass

from common import parse_args, save

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from deepexplain_ng import DeepExplain  # noqa: E402
from deepexplain_ng.plot import compare  # noqa: E402

tf1 = tf.compat.v1


@dataclass
class DigitsModel:
    session: object
    X: object            # (None, 8, 8, 1) placeholder
    logits: object       # (None, 10)
    test_images: np.ndarray
    test_labels: np.ndarray
    accuracy: float


def _dense_or_conv_weights(name, shape):
    return tf1.get_variable(name, shape, initializer=tf1.glorot_uniform_initializer())


def build_and_train(seed=0, steps=400, activation=tf.nn.relu):
    """Train the CNN; returns a :class:`DigitsModel` (about 5 s on 2 cores)."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target
    order = np.random.default_rng(seed).permutation(len(images))
    train, test = order[:1500], order[1500:]

    graph = tf.Graph()
    session = tf1.Session(graph=graph)
    with DeepExplain(session=session):
        tf1.set_random_seed(seed)
        x = tf1.placeholder(tf.float32, (None, 8, 8, 1), name="digits")
        y = tf1.placeholder(tf.int64, (None,), name="labels")
        h = activation(tf.nn.conv2d(x, _dense_or_conv_weights("k1", (3, 3, 1, 16)), 1, "SAME")
                       + tf1.get_variable("c1", (16,), initializer=tf1.zeros_initializer()))
        h = activation(tf.nn.conv2d(h, _dense_or_conv_weights("k2", (3, 3, 16, 32)), 1, "SAME")
                       + tf1.get_variable("c2", (32,), initializer=tf1.zeros_initializer()))
        h = tf.reshape(tf.nn.avg_pool2d(h, 2, 2, "VALID"), (-1, 4 * 4 * 32))
        h = activation(tf.matmul(h, _dense_or_conv_weights("w1", (512, 64)))
                       + tf1.get_variable("b1", (64,), initializer=tf1.zeros_initializer()))
        logits = tf.add(tf.matmul(h, _dense_or_conv_weights("w2", (64, 10))),
                        tf1.get_variable("b2", (10,), initializer=tf1.zeros_initializer()), name="logits")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train_op = tf1.train.AdamOptimizer(3e-3).minimize(loss)
        session.run(tf1.global_variables_initializer())
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            batch = rng.choice(train, 64)
            session.run(train_op, {x: images[batch], y: labels[batch]})
        predicted = session.run(logits, {x: images[test]}).argmax(axis=1)
    accuracy = float((predicted == labels[test]).mean())
    return DigitsModel(session, x, logits, images[test], labels[test], accuracy)


def run_method_example(method, description, **options):
    """Train, explain a few test digits for their true class, save a picture.

    Returns ``(model, xs, labels, attributions)`` for the example to check its property.
    """
    args = parse_args(description)
    model = build_and_train()
    print(f"digits CNN: test accuracy {model.accuracy:.3f}")
    xs, labels = model.test_images[:args.samples], model.test_labels[:args.samples]
    with DeepExplain(session=model.session) as de:
        start = time.perf_counter()
        attributions = de.explain(method, model.logits, model.X, xs, ys=labels, **options)
        print(f"{method}: {time.perf_counter() - start:.2f} s for {len(xs)} digits")
    figure = compare(xs, {method: attributions}, titles=[f"class {c}" for c in labels])
    save(figure, args.out, method.replace("*", "_") + ".png")
    return model, xs, labels, attributions


def target_scores(model, xs, labels):
    """The explained logit of each sample, (n,)."""
    return model.session.run(model.logits, {model.X: xs})[np.arange(len(xs)), labels]
