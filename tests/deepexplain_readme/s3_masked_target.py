"""README, "Which tensor to target?": ``ys=ys`` (Option 1) and the masked target ``T * ys``
(Option 2), for every method, without and with ``batch_size``.

DeepExplain warned that the masked target "will not work with batch processing";
deepexplain_ng must give the same numbers either way. Only the import lines differ.
"""
import numpy as np
import tensorflow.compat.v1 as tf
from _harness import MODE, attempt, emit

getattr(tf, MODE)()  # tf.disable_v2_behavior() (or tf.disable_eager_execution())
from deepexplain_ng import DeepExplain  # noqa: E402

METHODS = ["saliency", "grad*input", "intgrad", "elrp", "deeplift", "occlusion", "shapley_sampling"]
OPTIONS = {"shapley_sampling": {"seed": 0}}

rng = np.random.RandomState(2)
xs = rng.randn(5, 6).astype(np.float32)
ys = np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]]   # one-hot, batch size of xs

sess = tf.Session()
with DeepExplain(session=sess) as de:
    X = tf.placeholder(tf.float32, [None, 6])
    h = X
    for i, (a, b) in enumerate([(6, 16), (16, 8), (8, 3)]):
        W = tf.Variable(rng.normal(scale=1.0 / np.sqrt(a), size=(a, b)).astype(np.float32))
        c = tf.Variable(rng.normal(scale=0.1, size=b).astype(np.float32))
        h = tf.matmul(h, W) + c
        if i < 2:
            h = tf.nn.relu(h)
    T = h
    sess.run(tf.global_variables_initializer())
    result = {"xs": xs, "ys": ys, "weights": sess.run(tf.trainable_variables())}

    masked = T * ys   # < masked target tensor: only the selected component of each row is used
    for m in METHODS:
        o = OPTIONS.get(m, {})
        result[m] = {
            "ys": attempt(lambda: de.explain(m, T, X, xs, ys=ys, **o)),
            "masked": attempt(lambda: de.explain(m, masked, X, xs, **o)),
            "ys_batch2": attempt(lambda: de.explain(m, T, X, xs, ys=ys, batch_size=2, **o)),
            "masked_batch2": attempt(lambda: de.explain(m, masked, X, xs, batch_size=2, **o)),
        }
emit(result)
