"""Explaining a two-input Keras 3 model: attributions come back as a list, one per input.

The model sees a 16-step signal and 3 metadata features; the label depends on both.
Every gradient method returns [signal attributions (n, 16), metadata attributions (n, 3)].

    python examples/multiple_inputs_keras.py --out out
"""
from common import parse_args, save

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from deepexplain_ng import DeepExplain  # noqa: E402

METHODS = {"saliency": {}, "grad*input": {}, "intgrad": {"steps": 50}, "elrp": {}, "deeplift": {}}


def make_data(count, rng):
    signal = rng.normal(size=(count, 16)).astype(np.float32)
    meta = rng.normal(size=(count, 3)).astype(np.float32)
    # class 1 when the signal's middle is high and the first metadata feature agrees
    score = signal[:, 6:10].mean(axis=1) + 0.8 * meta[:, 0]
    return signal, meta, (score > 0).astype(np.int64)


def train(seed=0):
    keras.utils.set_random_seed(seed)
    signal, meta, labels = make_data(3000, np.random.default_rng(seed))
    s_in, m_in = keras.Input((16,), name="signal"), keras.Input((3,), name="metadata")
    h = keras.layers.Concatenate()([keras.layers.Dense(16, activation="tanh")(s_in),
                                    keras.layers.Dense(4, activation="tanh")(m_in)])
    h = keras.layers.Dense(16, activation="relu")(h)
    model = keras.Model([s_in, m_in], keras.layers.Dense(2, activation="softmax")(h))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit([signal[:2500], meta[:2500]], labels[:2500], epochs=10, batch_size=64, verbose=0)
    accuracy = model.evaluate([signal[2500:], meta[2500:]], labels[2500:], verbose=0)[1]
    return model, [signal[2500:], meta[2500:]], labels[2500:], accuracy


def main():
    args = parse_args(__doc__.splitlines()[0])
    model, data, labels, accuracy = train()
    print(f"held-out accuracy: {accuracy:.3f}")
    xs, ys = [d[:200] for d in data], labels[:200]

    sess = tf.compat.v1.Session(graph=tf.Graph())
    with DeepExplain(session=sess) as de:
        inputs, logits = de.import_model(model)      # inputs: [signal, metadata] placeholders
        results = {m: de.explain(m, logits, inputs, xs, ys=ys, **o) for m, o in METHODS.items()}

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), dpi=80, gridspec_kw={"width_ratios": [16, 3]})
    for method, (signal_attr, meta_attr) in results.items():
        print(f"{method:>10}: mean |attribution| signal {np.abs(signal_attr).mean():.3f}, "
              f"metadata {np.abs(meta_attr).mean(axis=0).round(3)}")
        axes[0].plot(np.abs(signal_attr).mean(axis=0), label=method)
        axes[1].plot(np.abs(meta_attr).mean(axis=0), marker="o", label=method)
    axes[0].set_title("signal: mean |attribution| per step (steps 6-9 matter)")
    axes[1].set_title("metadata (feature 0 matters)")
    axes[1].set_xticks(range(3))
    axes[0].legend(fontsize=8)
    save(fig, args.out, "multiple_inputs_keras.png")


if __name__ == "__main__":
    main()
