"""DeepLIFT through attention: a small transformer sentiment classifier, explained exactly.

A Keras 3 encoder (token and position embeddings, multi-head self-attention, LayerNormalization,
a GELU feed-forward block) is trained in seconds on sentences this script generates, imported
into a DeepExplain context and explained by DeepLIFT from its embedding output. Softmax
attention, the products of queries and keys, LayerNorm's statistics and GELU each have a
difference rule, so each sentence's attributions sum to logit(x) - logit(reference) exactly.

    python examples/deeplift_transformer.py --out out
"""
from common import parse_args, save

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deepexplain_ng import DeepExplain  # noqa: E402
from deepexplain_ng.text import token_attributions  # noqa: E402
from text_embeddings import LENGTH, VOCAB, fit_on_sentences, make_sentences, show_tokens  # noqa: E402


class PositionEmbedding(keras.layers.Layer):
    def build(self, input_shape):
        self.positions = self.add_weight(shape=input_shape[1:], initializer="random_normal", name="positions")

    def call(self, x):
        return x + self.positions


def train(seed=0):
    keras.utils.set_random_seed(seed)
    ids, labels = make_sentences(3000, np.random.default_rng(seed))
    tokens = keras.Input((LENGTH,), dtype="int32")
    embedded = keras.layers.Embedding(len(VOCAB), 16, name="embedding")(tokens)
    h = PositionEmbedding()(embedded)
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)(h, h)
    h = keras.layers.LayerNormalization()(h + attended)
    h = keras.layers.LayerNormalization()(h + keras.layers.Dense(16)(keras.layers.Dense(32, activation="gelu")(h)))
    logits = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling1D()(h))
    return fit_on_sentences(keras.Model(tokens, logits), ids, labels, epochs=6,
                            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                            optimizer=keras.optimizers.Adam(3e-3))


def main():
    args = parse_args(__doc__.splitlines()[0])
    model, ids, labels, accuracy = train()
    print(f"transformer: held-out accuracy {accuracy:.3f}")
    sentences, classes = ids[:6], labels[:6]
    sess = tf.compat.v1.Session(graph=tf.Graph())
    with DeepExplain(session=sess) as de:
        imported = de.import_model(model)
        token_ids, logits = imported
        layer = imported.layer("embedding")                         # (n, LENGTH, 16)
        embedded = sess.run(layer, {token_ids: sentences})
        pad = sess.run(layer, {token_ids: np.zeros_like(sentences)})   # reference: every token <pad>
        attributions = de.explain("deeplift", logits, layer, embedded, ys=classes, baseline=pad)
        chosen = np.arange(len(classes)), classes
        delta = sess.run(logits, {layer: embedded})[chosen] - sess.run(logits, {layer: pad})[chosen]
    per_token = token_attributions(attributions)
    print("sum of attributions:        ", np.round(per_token.sum(axis=1), 5))
    print("logit(x) - logit(reference):", np.round(delta, 5))
    np.testing.assert_allclose(per_token.sum(axis=1), delta, rtol=1e-4, atol=1e-4)
    print("summation-to-delta holds through attention, LayerNorm and GELU")
    fig = show_tokens(sentences, per_token, classes,
                      "DeepLIFT per token through a transformer (red: for the label, blue: against)")
    save(fig, args.out, "deeplift_transformer.png")


if __name__ == "__main__":
    main()
