"""README, "Multiple inputs": X and xs as lists for gradient methods, the result a list;
perturbation methods refuse several inputs with an exception (RuntimeError-catchable, as
DeepExplain raised). Only the import lines differ from a DeepExplain-era program.
"""
import numpy as np
import tensorflow.compat.v1 as tf
from _harness import MODE, attempt, emit, expect_error

getattr(tf, MODE)()  # tf.disable_v2_behavior() (or tf.disable_eager_execution())
from deepexplain_ng import DeepExplain  # noqa: E402

GRADIENT_METHODS = ["saliency", "grad*input", "intgrad", "elrp", "deeplift"]

rng = np.random.RandomState(6)
xs1 = rng.randn(5, 4).astype(np.float32)
xs2 = rng.randn(5, 3).astype(np.float32)
ys = np.eye(3, dtype=np.float32)[[2, 0, 1, 1, 0]]

sess = tf.Session()
result = {"xs": [xs1, xs2], "ys": ys}
with DeepExplain(session=sess) as de:
    x1 = tf.placeholder(tf.float32, [None, 4])
    x2 = tf.placeholder(tf.float32, [None, 3])
    W1a = tf.Variable(rng.normal(scale=0.5, size=(4, 10)).astype(np.float32))
    W1b = tf.Variable(rng.normal(scale=0.5, size=(3, 10)).astype(np.float32))
    b1 = tf.Variable(rng.normal(scale=0.1, size=10).astype(np.float32))
    W2 = tf.Variable(rng.normal(scale=0.4, size=(10, 3)).astype(np.float32))
    b2 = tf.Variable(rng.normal(scale=0.1, size=3).astype(np.float32))
    T = tf.matmul(tf.nn.relu(tf.matmul(x1, W1a) + tf.matmul(x2, W1b) + b1), W2) + b2
    sess.run(tf.global_variables_initializer())
    result["weights"] = sess.run([W1a, W1b, b1, W2, b2])
    result["logits"] = sess.run(T, {x1: xs1, x2: xs2})

    result["gradient"] = {m: attempt(lambda: de.explain(m, T, [x1, x2], [xs1, xs2], ys=ys))
                          for m in GRADIENT_METHODS}
    result["perturbation"] = {m: expect_error(lambda: de.explain(m, T, [x1, x2], [xs1, xs2], ys=ys))
                              for m in ("occlusion", "shapley_sampling")}
emit(result)
