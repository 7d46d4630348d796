"""Train a small Keras 3 CNN on scikit-learn's digits and save it with rows to explain: the model
file and inputs of the batch-job example (examples/batch_job.sh).

    python examples/digits_keras.py --out out/batch --rows 2000
"""
import argparse
import os

import keras
import numpy as np
from sklearn.datasets import load_digits


def train(seed=0, epochs=8):
    """(model, images (1797, 8, 8, 1) float32 in [0, 1], labels)."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(images, digits.target, batch_size=64, epochs=epochs, verbose=0)
    return model, images, digits.target


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/batch")
    parser.add_argument("--rows", type=int, default=2000, help="rows of digits.npy (the 1797 digits, repeated)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    model, images, labels = train()
    model.save(os.path.join(args.out, "digits.keras"))
    rows = np.resize(np.arange(len(images)), args.rows)
    np.save(os.path.join(args.out, "digits.npy"), images[rows])
    np.save(os.path.join(args.out, "labels.npy"), labels[rows])
    accuracy = float((model.predict(images, verbose=0).argmax(1) == labels).mean())
    print(f"trained: accuracy {accuracy:.3f} on the digits; wrote {args.out}/digits.keras, digits.npy "
          f"({args.rows} rows), labels.npy")


if __name__ == "__main__":
    main()
