"""Small graphs shared by the engine tests (numpy weights, so numpy can recompute them)."""
import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1


def mlp_weights(sizes=(5, 8, 6, 3), seed=0, bias=True):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = rng.normal(scale=1.2 / np.sqrt(fan_in), size=(fan_in, fan_out)).astype(np.float32)
        b = rng.normal(scale=0.3, size=fan_out).astype(np.float32) if bias else None
        layers.append((w, b))
    return layers


def mlp(x, layers, activation=tf.nn.relu):
    """Dense layers with ``activation`` between them; the last layer is linear (logits)."""
    h = x
    for i, (w, b) in enumerate(layers):
        h = tf.matmul(h, tf.constant(w))
        if b is not None:
            h = tf.nn.bias_add(h, tf.constant(b))
        if i < len(layers) - 1:
            h = activation(h)
    return h


def mlp_graph(activation=tf.nn.relu, seed=0, bias=True, batch=None, sizes=(5, 8, 6, 3)):
    """(graph, session, X, T) for an MLP built in a fresh graph."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (batch, sizes[0]), name="x")
        t = mlp(x, mlp_weights(sizes, seed, bias), activation)
    return graph, tf1.Session(graph=graph), x, t


def cnn(x, seed=0, activation=tf.nn.relu, pool=tf.nn.avg_pool2d):
    rng = np.random.default_rng(seed)
    k1 = rng.normal(scale=0.5, size=(3, 3, x.shape[-1], 4)).astype(np.float32)
    k2 = rng.normal(scale=0.3, size=(3, 3, 4, 6)).astype(np.float32)
    h = activation(tf.nn.conv2d(x, k1, 1, "SAME") + rng.normal(scale=0.1, size=4).astype(np.float32))
    h = activation(tf.nn.conv2d(h, k2, 1, "VALID"))
    h = pool(h, 2, 2, "VALID")
    flat = tf.reshape(h, [-1, int(np.prod(h.shape[1:]))])
    w = rng.normal(scale=0.3, size=(flat.shape[1], 3)).astype(np.float32)
    return tf.matmul(flat, w)


def samples(shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def bn_model_weights(seed=30):
    rng = np.random.default_rng(seed)
    return dict(w1=rng.normal(scale=0.6, size=(6, 8)), b1=rng.normal(scale=0.2, size=8),
                gamma=rng.uniform(0.5, 1.5, 8), beta=rng.normal(scale=0.2, size=8),
                mean=rng.normal(scale=0.3, size=8), var=rng.uniform(0.5, 2.0, 8),
                w2=rng.normal(scale=0.5, size=(8, 3)), b2=rng.normal(scale=0.2, size=3))


def keras_bn_model(module, w):
    """Dense(tanh) -> BatchNorm -> Dropout -> Dense(softmax), with the weights ``w``."""
    layers = module.layers
    inputs = module.Input((6,), name="features")
    h = layers.Dense(8, activation="tanh", name="hidden")(inputs)
    h = layers.BatchNormalization(epsilon=1e-3, name="norm")(h)
    h = layers.Dropout(0.5, name="drop")(h)
    outputs = layers.Dense(3, activation="softmax", name="scores")(h)
    model = module.Model(inputs, outputs)
    model.get_layer("hidden").set_weights([w["w1"], w["b1"]])
    model.get_layer("norm").set_weights([w["gamma"], w["beta"], w["mean"], w["var"]])
    model.get_layer("scores").set_weights([w["w2"], w["b2"]])
    return model


def raw_bn_model(w):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 6))
        h = tf.tanh(tf.matmul(x, w["w1"].astype(np.float32)) + w["b1"].astype(np.float32))
        scale = w["gamma"] / np.sqrt(w["var"] + 1e-3)
        h = h * scale.astype(np.float32) + (w["beta"] - w["mean"] * scale).astype(np.float32)
        logits = tf.matmul(h, w["w2"].astype(np.float32)) + w["b2"].astype(np.float32)
    return tf1.Session(graph=graph), x, logits
