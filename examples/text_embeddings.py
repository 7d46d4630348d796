"""Which words made a sentiment classifier say what it said?

A small Keras 3 text classifier is trained in seconds on sentences this script generates,
imported into a DeepExplain context, and explained from its embedding output (token ids
carry no gradient), one number per token: integrated gradients, and KernelSHAP with each token
(its embedding vector) one feature group, which with 8 tokens enumerates every coalition
(exact Shapley values); the two agree in sign on each sentence's top tokens.

    python examples/text_embeddings.py --out out
"""
from common import parse_args, save

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deepexplain_ng import DeepExplain  # noqa: E402
from deepexplain_ng.text import token_attributions  # noqa: E402

POSITIVE = ["great", "lovely", "superb", "enjoyable", "brilliant"]
NEGATIVE = ["awful", "boring", "dull", "terrible", "clumsy"]
NEUTRAL = ["the", "film", "plot", "was", "and", "acting", "quite", "music", "a", "story"]
VOCAB = ["<pad>"] + POSITIVE + NEGATIVE + NEUTRAL
LENGTH = 8


def make_sentences(count, rng):
    """Token ids (count, LENGTH) and labels: 1 when positive words outnumber negative ones."""
    ids, labels = [], []
    while len(ids) < count:
        n_pos, n_neg = rng.integers(0, 3, size=2)
        if n_pos == n_neg:
            continue
        words = list(rng.choice(POSITIVE, n_pos)) + list(rng.choice(NEGATIVE, n_neg))
        words += list(rng.choice(NEUTRAL, LENGTH - len(words)))
        rng.shuffle(words)
        ids.append([VOCAB.index(w) for w in words])
        labels.append(int(n_pos > n_neg))
    return np.array(ids), np.array(labels)


def show_tokens(sentences, per_token, classes, title):
    """Print each sentence with its tokens' attributions and draw them as a red/blue grid.

    ``sentences``: token ids (n, LENGTH); ``per_token``: attributions (n, LENGTH); ``classes``: n labels.
    Returns the matplotlib figure.
    """
    for words, scores, label in zip(sentences, per_token, classes):
        shown = " ".join(f"{VOCAB[w]}({s:+.2f})" for w, s in zip(words, scores))
        print(f"{['negative', 'positive'][label]:>8}: {shown}")
    limit = np.abs(per_token).max()
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(sentences) + 0.8), dpi=80)
    ax.imshow(per_token, cmap="bwr", vmin=-limit, vmax=limit, aspect="auto")
    for row, words in enumerate(sentences):
        for col, w in enumerate(words):
            ax.text(col, row, VOCAB[w], ha="center", va="center", fontsize=9)
    ax.set_yticks(range(len(sentences)), [["negative", "positive"][c] for c in classes])
    ax.set_xticks([])
    ax.set_title(title)
    return fig


def fit_on_sentences(model, ids, labels, epochs, loss="sparse_categorical_crossentropy", optimizer="adam"):
    """Train on the first 2,500 sentences; returns (model, held-out ids, their labels, accuracy)."""
    model.compile(optimizer, loss, metrics=["accuracy"])
    model.fit(ids[:2500], labels[:2500], epochs=epochs, batch_size=64, verbose=0)
    accuracy = model.evaluate(ids[2500:], labels[2500:], verbose=0)[1]
    return model, ids[2500:], labels[2500:], accuracy


def train(seed=0):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    ids, labels = make_sentences(3000, rng)
    model = keras.Sequential([
        keras.Input((LENGTH,), dtype="int32"),
        keras.layers.Embedding(len(VOCAB), 8, name="embedding"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(2, activation="softmax", name="sentiment"),
    ])
    return fit_on_sentences(model, ids, labels, epochs=8)


def main():
    args = parse_args(__doc__.splitlines()[0])
    model, ids, labels, accuracy = train()
    print(f"held-out accuracy: {accuracy:.3f}")

    sess = tf.compat.v1.Session(graph=tf.Graph())
    with DeepExplain(session=sess) as de:
        imported = de.import_model(model)             # X: token ids, T: logits before the softmax
        token_ids, logits = imported
        embedded = imported.layer("embedding")        # explain from here: (n, LENGTH, 8)
        sentences, classes = ids[:6], labels[:6]
        attributions = de.explain("intgrad", logits, embedded, feed={token_ids: sentences}, ys=classes)
        # one group per token: the mask's axis is the tokens, broadcast over the embedding axis
        shapley = de.explain("kernel_shap", logits, embedded, feed={token_ids: sentences}, ys=classes,
                             feature_mask=np.arange(LENGTH), seed=0)
    per_token = token_attributions(attributions)      # (n, LENGTH)
    shapley_per_token = token_attributions(shapley)
    top = np.argsort(-np.abs(per_token), axis=1)[:, :2]  # each sentence's two strongest tokens
    same = np.sign(np.take_along_axis(per_token, top, 1)) == np.sign(np.take_along_axis(shapley_per_token, top, 1))
    print(f"kernel_shap per token agrees in sign with intgrad on the top two tokens: {int(same.sum())} of {same.size}")

    fig = show_tokens(sentences, per_token, classes,
                      "integrated gradients per token (red: evidence for the label, blue: against)")
    save(fig, args.out, "text_embeddings.png")


if __name__ == "__main__":
    main()
