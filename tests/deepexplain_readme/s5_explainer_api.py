"""README, "Performance: Explainer API": compile once with get_explainer(), run many times.

``explainer.run()`` in a loop of 100 must add no operation to the graph and give what
``explain()`` gives. Only the import lines differ from a DeepExplain-era program.
"""
import numpy as np
import tensorflow.compat.v1 as tf
from _harness import MODE, attempt, emit

getattr(tf, MODE)()  # tf.disable_v2_behavior() (or tf.disable_eager_execution())
from deepexplain_ng import DeepExplain  # noqa: E402

rng = np.random.RandomState(4)
xs = rng.randn(100, 6).astype(np.float32)
ys = np.eye(3, dtype=np.float32)[rng.randint(0, 3, size=100)]

sess = tf.Session()
result = {"xs": xs, "ys": ys}
with DeepExplain(session=sess) as de:
    X = tf.placeholder(tf.float32, [None, 6])
    h, params = X, []
    for i, (a, b) in enumerate([(6, 16), (16, 8), (8, 3)]):
        W = tf.Variable(rng.normal(scale=1.0 / np.sqrt(a), size=(a, b)).astype(np.float32))
        c = tf.Variable(rng.normal(scale=0.1, size=b).astype(np.float32))
        params += [W, c]
        h = tf.matmul(h, W) + c
        if i < 2:
            h = tf.nn.relu(h)
    T = h
    sess.run(tf.global_variables_initializer())
    result["weights"] = sess.run(params)
    graph = tf.get_default_graph()

    def explainer_loop():
        # First create an explainer
        explainer = de.get_explainer('saliency', T, X)
        ops = [len(graph.get_operations())]
        attributions = []
        for i in range(100):
            # Then generate explanations for some data without slowing things down
            attributions.append(explainer.run(xs[i:i + 1], ys=ys[i:i + 1], batch_size=3))
            ops.append(len(graph.get_operations()))
        return {"ops": ops, "attributions": np.concatenate(attributions)}

    result["explainer"] = attempt(explainer_loop)
    result["explain"] = attempt(lambda: de.explain('saliency', T, X, xs, ys=ys))

    def normal_loop():
        # Normal API (DeepExplain grew the graph at each call; deepexplain_ng caches explainers)
        ops, attributions = [], []
        for i in range(10):
            attributions.append(de.explain('saliency', T, X, xs[i:i + 1], ys=ys[i:i + 1], batch_size=3))
            ops.append(len(graph.get_operations()))
        return {"ops": ops, "attributions": np.concatenate(attributions)}

    result["normal"] = attempt(normal_loop)
emit(result)
