"""README, Tensorflow, Option 1: create and train the model within a DeepExplain context.

A raw TF1 program as a DeepExplain user wrote it; only the import lines differ
(DeepExplain: ``from deepexplain.tensorflow import DeepExplain``).
"""
import numpy as np
import tensorflow.compat.v1 as tf
from _harness import MODE, attempt, emit

getattr(tf, MODE)()  # tf.disable_v2_behavior() (or tf.disable_eager_execution())
from deepexplain_ng import DeepExplain, available_methods  # noqa: E402

METHODS = ["saliency", "grad*input", "intgrad", "elrp", "deeplift", "occlusion", "shapley_sampling"]

rng = np.random.RandomState(0)
data = rng.randn(64, 6).astype(np.float32)
labels = (data[:, 0] + data[:, 1] > 0).astype(int) + (data[:, 2] > 1)
onehot = np.eye(3, dtype=np.float32)[labels]
xs, ys = data[:5], onehot[:5]


def dense(h, n_in, n_out, bias=True):
    W = tf.Variable(rng.normal(scale=1.0 / np.sqrt(n_in), size=(n_in, n_out)).astype(np.float32))
    if not bias:
        return tf.matmul(h, W), [W]
    b = tf.Variable(rng.normal(scale=0.1, size=n_out).astype(np.float32))
    return tf.matmul(h, W) + b, [W, b]


def mlp(x, sizes, bias=True):
    h, params = x, []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        h, p = dense(h, n_in, n_out, bias)
        params += p
        if i < len(sizes) - 2:
            h = tf.nn.relu(h)
    return h, params


sess = tf.Session()
result = {"xs": xs, "ys": ys}
with DeepExplain(session=sess) as de:  # < enter DeepExplain context
    X = tf.placeholder(tf.float32, [None, 6])
    Y = tf.placeholder(tf.float32, [None, 3])
    logits, mlp_params = mlp(X, [6, 16, 8, 3])                        # ReLU MLP with biases
    logits_nb, nobias_params = mlp(X, [6, 16, 8, 3], bias=False)      # bias-free ReLU MLP
    logits_lin, linear_params = mlp(X, [6, 3])                        # purely linear model
    loss = sum(tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=Y, logits=t))
               for t in (logits, logits_nb, logits_lin))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess.run(tf.global_variables_initializer())
    losses = [sess.run([train, loss], {X: data, Y: onehot})[1] for _ in range(20)]
    result["losses"] = losses

    result["weights"] = {"mlp": sess.run(mlp_params), "nobias": sess.run(nobias_params),
                         "linear": sess.run(linear_params)}
    result["logits"] = sess.run({"mlp": logits, "nobias": logits_nb, "linear": logits_lin}, {X: xs})

    result["mlp"] = {m: attempt(lambda: de.explain(m, logits, X, xs, ys=ys)) for m in METHODS}
    result["nobias"] = {m: attempt(lambda: de.explain(m, logits_nb, X, xs, ys=ys))
                        for m in ("grad*input", "elrp")}
    result["linear"] = {m: attempt(lambda: de.explain(m, logits_lin, X, xs, ys=ys))
                        for m in ("grad*input", "occlusion", "shapley_sampling")}
    result["zero_available"] = "zero" in available_methods()
    if result["zero_available"]:
        result["zero"] = attempt(lambda: de.explain("zero", logits, X, xs, ys=ys))
emit(result)
