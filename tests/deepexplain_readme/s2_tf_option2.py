"""README, Tensorflow, Option 2: first create and train the model, then apply DeepExplain.

DeepExplain required the graph to be (re)constructed within the context; deepexplain_ng
also explains the tensors built before it. Both are run: ``logits`` (built before the
context) and ``new_logits`` (init_model() called again inside it, on the trained weights).
Only the import lines differ from a DeepExplain-era program.
"""
import numpy as np
import tensorflow.compat.v1 as tf
from _harness import MODE, attempt, emit

getattr(tf, MODE)()  # tf.disable_v2_behavior() (or tf.disable_eager_execution())
from deepexplain_ng import DeepExplain  # noqa: E402

METHODS = ["saliency", "grad*input", "intgrad", "elrp", "deeplift", "occlusion", "shapley_sampling"]

rng = np.random.RandomState(1)
data = rng.randn(64, 6).astype(np.float32)
labels = (data[:, 0] - data[:, 3] > 0).astype(int) + (data[:, 4] > 0.5)
onehot = np.eye(3, dtype=np.float32)[labels]
xs, ys = data[:5], onehot[:5]

sizes = [6, 16, 8, 3]
weights = [tf.Variable(rng.normal(scale=1.0 / np.sqrt(a), size=(a, b)).astype(np.float32))
           for a, b in zip(sizes[:-1], sizes[1:])]
biases = [tf.Variable(rng.normal(scale=0.1, size=b).astype(np.float32)) for b in sizes[1:]]


def init_model(x):
    """The model's graph on the (shared, trained) variables."""
    h = x
    for i, (W, b) in enumerate(zip(weights, biases)):
        h = tf.matmul(h, W) + b
        if i < len(weights) - 1:
            h = tf.nn.relu(h)
    return h


X = tf.placeholder(tf.float32, [None, 6])
Y = tf.placeholder(tf.float32, [None, 3])
logits = init_model(X)                                                   # < construct the model
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=Y, logits=logits))
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
sess = tf.Session()
sess.run(tf.global_variables_initializer())
result = {"xs": xs, "ys": ys,
          "losses": [sess.run([train, loss], {X: data, Y: onehot})[1] for _ in range(20)]}  # < train
params = [p for pair in zip(weights, biases) for p in pair]
result["weights"] = {"mlp": sess.run(params)}
result["logits"] = {"mlp": sess.run(logits, {X: xs})}

with DeepExplain(session=sess) as de:                                    # < enter DeepExplain context
    new_logits = init_model(X)                                           # < DeepExplain's way: rebuilt inside
    result["mlp"] = {m: attempt(lambda: de.explain(m, logits, X, xs, ys=ys)) for m in METHODS}
    result["rebuilt"] = {m: attempt(lambda: de.explain(m, new_logits, X, xs, ys=ys)) for m in METHODS}
emit(result)
