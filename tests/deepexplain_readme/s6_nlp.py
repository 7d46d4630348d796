"""README, "NLP / Embedding lookups": explain the embedding lookup's output, not the token ids.

The README's Tensorflow pseudocode, verbatim, on a small text classifier whose tensors are
named like in it ("input_x", "embedding", "output/scores"); per-word attributions are the
sum over the embedding axis. Passing the integer ids as X must fail with a RuntimeError
that tells to explain the embedding. Only the import lines differ.
"""
import numpy as np
import tensorflow.compat.v1 as tf
from _harness import MODE, attempt, emit, expect_error

getattr(tf, MODE)()  # tf.disable_v2_behavior() (or tf.disable_eager_execution())
from deepexplain_ng import DeepExplain  # noqa: E402

VOCAB, LENGTH, DIM, HIDDEN, CLASSES = 20, 6, 4, 8, 2
rng = np.random.RandomState(5)
tokens = rng.randint(0, VOCAB, size=(64, LENGTH)).astype(np.int32)
labels = (tokens < 5).any(axis=1).astype(int)          # "does the text contain a word 0..4"
onehot = np.eye(CLASSES, dtype=np.float32)[labels]

# -- a text classifier: token ids -> embedding lookup -> flatten -> ReLU -> scores
input_x = tf.placeholder(tf.int32, [None, LENGTH], name="input_x")
input_y = tf.placeholder(tf.float32, [None, CLASSES], name="input_y")
W_emb = tf.Variable(rng.uniform(-1, 1, size=(VOCAB, DIM)).astype(np.float32), name="W_emb")
embedded = tf.identity(tf.nn.embedding_lookup(W_emb, input_x), name="embedding")
flat = tf.reshape(embedded, [-1, LENGTH * DIM])
W1 = tf.Variable(rng.normal(scale=0.3, size=(LENGTH * DIM, HIDDEN)).astype(np.float32))
b1 = tf.Variable(rng.normal(scale=0.1, size=HIDDEN).astype(np.float32))
hidden = tf.nn.relu(tf.matmul(flat, W1) + b1)
W2 = tf.Variable(rng.normal(scale=0.3, size=(HIDDEN, CLASSES)).astype(np.float32))
b2 = tf.Variable(np.zeros(CLASSES, np.float32))
with tf.name_scope("output"):
    scores = tf.add(tf.matmul(hidden, W2), b2, name="scores")
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=input_y, logits=scores))
train = tf.train.GradientDescentOptimizer(0.2).minimize(loss)
sess = tf.Session()
sess.run(tf.global_variables_initializer())
for _ in range(20):
    sess.run(train, {input_x: tokens, input_y: onehot})

x_test, y_test_logits = tokens[:5], onehot[:5]
result = {"x_test": x_test, "ys": y_test_logits, "weights": sess.run([W1, b1, W2, b2])}
graph = sess.graph

with DeepExplain(session=sess) as de:
    # --- the README's pseudocode
    input_x = graph.get_operation_by_name("input_x").outputs[0]
    embedding = graph.get_operation_by_name("embedding").outputs[0]
    presoftmax = graph.get_operation_by_name("output/scores").outputs[0]

    embedding_out = sess.run(embedding, {input_x: x_test})

    result["embedding_out"] = embedding_out
    result["elrp_masked"] = attempt(lambda: de.explain('elrp', presoftmax * y_test_logits, embedding, embedding_out))
    # ---
    result["elrp_ys"] = attempt(lambda: de.explain('elrp', presoftmax, embedding, embedding_out, ys=y_test_logits))
    result["grad_input_ys"] = attempt(
        lambda: de.explain('grad*input', presoftmax, embedding, embedding_out, ys=y_test_logits))
    # the mistake the README warns about: the token ids as the input tensor
    result["ids_as_input"] = expect_error(lambda: de.explain('elrp', presoftmax * y_test_logits, input_x, x_test))
    result["ids_as_input_ys"] = expect_error(
        lambda: de.explain('grad*input', presoftmax, input_x, x_test, ys=y_test_logits))
emit(result)
