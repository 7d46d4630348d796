"""A small CNN trained in a second or two on scikit-learn's digits (8x8, shipped offline),
shared by the examples.

The model is written with raw ``tf.compat.v1`` ops in a fresh graph and session. It can be
built in either of DeepExplain's two ways:

* Option 1, inside the context (as in DeepExplain's README)::

      model = build_and_train(de_context_fn=lambda sess: DeepExplain(session=sess))

* Option 2, before any context (the default): a trained model needs no rebuilding, the ops
  between X and T are marked when an explainer is built::

      model = build_and_train()
      with DeepExplain(session=model.sess) as de:
          attributions = de.explain("deeplift", model.logits, model.X, xs, ys=labels)
"""
import contextlib
import os
import time
from dataclasses import dataclass

from common import parse_args

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from deepexplain_ng import DeepExplain  # noqa: E402
from deepexplain_ng.plot import compare  # noqa: E402

tf1 = tf.compat.v1
TRAIN_SIZE = 1500   # of the 1797 digits; the other 297 are the test set


def load_data(seed=0):
    """scikit-learn's digits scaled to [0, 1], split at random (fixed by ``seed``).

    Returns:
        ``(train_images (1500, 8, 8, 1) float32, train_labels (1500,) int64,
        test_images (297, 8, 8, 1) float32, test_labels (297,) int64)``.
    """
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(images))
    train, test = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    return images[train], labels[train], images[test], labels[test]


@dataclass
class DigitsModel:
    """A trained digits CNN and its held-out data."""

    sess: object             # tf.compat.v1.Session holding the weights
    graph: object            # its tf.Graph
    X: object                # input placeholder (None, 8, 8, 1), values in [0, 1]
    logits: object           # (None, 10), pre-softmax scores: the tensor to explain
    test_images: np.ndarray  # (297, 8, 8, 1) float32
    test_labels: np.ndarray  # (297,) int64
    accuracy: float          # on the test images
    train_seconds: float


def _weights(name, shape):
    return tf1.get_variable(name, shape, initializer=tf1.glorot_uniform_initializer())


def _bias(name, size):
    return tf1.get_variable(name, (size,), initializer=tf1.zeros_initializer())


def build_and_train(de_context_fn=None, activation=tf.nn.relu, seed=0, steps=300):
    """Build and train the CNN in a new graph and session.

    input (None, 8, 8, 1) -> conv 3x3x16 SAME + activation -> conv 3x3x32 SAME + activation
    -> 2x2 average pool -> flatten (512) -> dense 64 + activation -> dense 10 (logits).
    Adam (learning rate 3e-3), ``steps`` batches of 64; the seed fixes initial weights, split
    and batches.

    Args:
        de_context_fn: ``None`` to build without a context, or a function of the new session
            returning the context to build the model in, e.g.
            ``lambda sess: DeepExplain(session=sess)`` (DeepExplain's Option 1).
        activation: the nonlinearity, e.g. ``tf.nn.relu`` or ``tf.nn.tanh``.
        seed: random seed.
        steps: training steps (300 reach about 98 % test accuracy in about a second on 2 cores).
    Returns:
        A :class:`DigitsModel`.
    """
    start = time.perf_counter()
    train_images, train_labels, test_images, test_labels = load_data(seed)
    graph = tf.Graph()
    sess = tf1.Session(graph=graph)
    context = contextlib.nullcontext() if de_context_fn is None else de_context_fn(sess)
    with graph.as_default(), context:
        tf1.set_random_seed(seed)
        X = tf1.placeholder(tf.float32, (None, 8, 8, 1), name="digits")
        y = tf1.placeholder(tf.int64, (None,), name="labels")
        h = tf.identity(activation(tf.nn.conv2d(X, _weights("k1", (3, 3, 1, 16)), 1, "SAME") + _bias("c1", 16)),
                        name="conv1")
        h = activation(tf.nn.conv2d(h, _weights("k2", (3, 3, 16, 32)), 1, "SAME") + _bias("c2", 32))
        h = tf.reshape(tf.nn.avg_pool2d(h, 2, 2, "VALID"), (-1, 4 * 4 * 32))
        h = activation(tf.matmul(h, _weights("w1", (512, 64))) + _bias("b1", 64))
        logits = tf.add(tf.matmul(h, _weights("w2", (64, 10))), _bias("b2", 10), name="logits")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train_op = tf1.train.AdamOptimizer(3e-3).minimize(loss)
        sess.run(tf1.global_variables_initializer())
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            batch = rng.choice(len(train_images), 64)
            sess.run(train_op, {X: train_images[batch], y: train_labels[batch]})
    predicted = sess.run(logits, {X: test_images}).argmax(axis=1)
    accuracy = float((predicted == test_labels).mean())
    return DigitsModel(sess, graph, X, logits, test_images, test_labels, accuracy,
                       time.perf_counter() - start)


def describe(model):
    """Print the model's test accuracy and training time."""
    print(f"digits CNN: test accuracy {model.accuracy:.3f} on {len(model.test_labels)} held-out digits "
          f"(trained in {model.train_seconds:.1f} s)")


def target_scores(model, xs, labels):
    """The explained logit ``S(x) = logits[label]`` of each sample, (n,)."""
    return model.sess.run(model.logits, {model.X: xs})[np.arange(len(xs)), labels]


def titles(labels):
    """Row labels for :func:`deepexplain_ng.plot.compare`."""
    return [f"class {c}" for c in labels]


def run_method_example(method, description, **options):
    """What every single-method example does first.

    Parses ``--out``/``--samples``, trains the CNN (Option 2: before the context), explains the
    first test digits for their true class with ``method`` and ``options``, saves
    ``<out>/<method>.png`` and prints where.

    Returns:
        ``(model, xs, labels, attributions)`` for the example to show its method's property.
    """
    args = parse_args(description)
    model = build_and_train()
    describe(model)
    xs, labels = model.test_images[:args.samples], model.test_labels[:args.samples]
    with DeepExplain(session=model.sess) as de:
        start = time.perf_counter()
        attributions = de.explain(method, model.logits, model.X, xs, ys=labels, **options)
        print(f"{method}: {time.perf_counter() - start:.3f} s for {len(xs)} digits")
    path = os.path.join(args.out, method.replace("*", "_") + ".png")
    compare(xs, {method: attributions}, titles=titles(labels), path=path)
    print(f"wrote {os.path.abspath(path)}")
    return model, xs, labels, attributions


def run_family_example(name, description, options_by_method):
    """:func:`run_method_example` for several methods of a family, drawn side by side.

    Explains the first test digits for their true class with each method of
    ``options_by_method`` (``{method: options}``, or a function of the trained model giving it;
    ``(n, H, W)`` maps are drawn as they are), saves ``<out>/<name>.png`` and prints each
    method's time.

    Returns:
        ``(model, xs, labels, {method: attributions})``.
    """
    args = parse_args(description)
    model = build_and_train()
    describe(model)
    xs, labels = model.test_images[:args.samples], model.test_labels[:args.samples]
    if callable(options_by_method):
        options_by_method = options_by_method(model)
    results = {}
    with DeepExplain(session=model.sess) as de:
        for method, options in options_by_method.items():
            start = time.perf_counter()
            results[method] = de.explain(method, model.logits, model.X, xs, ys=labels, **options)
            print(f"{method}: {time.perf_counter() - start:.3f} s for {len(xs)} digits")
    path = os.path.join(args.out, name + ".png")
    compare(xs, results, titles=titles(labels), path=path)
    print(f"wrote {os.path.abspath(path)}")
    return model, xs, labels, results

