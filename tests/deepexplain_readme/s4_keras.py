"""README, Keras: a Sequential model trained with fit, explained in the Keras session.

As DeepExplain's Keras examples: the target is the layer before the softmax
(``model.layers[-2].output``), the input ``model.input``; targets selected with ``ys=``
and with the masked tensor ``T * ys``; and, DeepExplain's way, the model rebuilt inside the
context (``Model(inputs, model.layers[-2].output)(input_tensor)``).
Only the import lines differ: DeepExplain used ``import keras``, ``from keras import backend
as K`` and ``DeepExplain(session=K.get_session())``.
"""
import numpy as np
import tensorflow as tf
from _harness import MODE, attempt, emit

getattr(tf.compat.v1, MODE)()  # tf.compat.v1.disable_eager_execution() (or disable_v2_behavior())
import tf_keras as keras  # noqa: E402
from tf_keras.layers import Activation, Dense  # noqa: E402
from tf_keras.models import Model, Sequential  # noqa: E402

from deepexplain_ng import DeepExplain, keras_session  # noqa: E402

METHODS = ["saliency", "grad*input", "intgrad", "elrp", "deeplift", "occlusion", "shapley_sampling"]
OPTIONS = {"shapley_sampling": {"seed": 0}}  # the same orders for ys= and T * ys

keras.utils.set_random_seed(0)
rng = np.random.RandomState(3)
data = rng.randn(64, 6).astype(np.float32)
labels = (data[:, 0] + data[:, 1] > 0).astype(int) + (data[:, 2] > 1)
onehot = keras.utils.to_categorical(labels, 3)
xs, ys = data[:5], onehot[:5]

model = Sequential()
model.add(Dense(16, activation="relu", input_shape=(6,)))
model.add(Dense(8, activation="relu"))
model.add(Dense(3))
model.add(Activation("softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam")
model.fit(data, onehot, batch_size=16, epochs=3, verbose=0)

linear = Sequential([Dense(3, input_shape=(6,)), Activation("softmax")])
linear.compile(loss="categorical_crossentropy", optimizer="sgd")
linear.fit(data, onehot, batch_size=16, epochs=3, verbose=0)

result = {"xs": xs, "ys": ys, "weights": {"mlp": model.get_weights(), "linear": linear.get_weights()},
          "predict": model.predict(xs, verbose=0)}

with DeepExplain(session=keras_session()) as de:   # < was: DeepExplain(session=K.get_session())
    input_tensor = model.input
    target_tensor = model.layers[-2].output          # pre-softmax
    result["mlp"] = {m: attempt(lambda: de.explain(m, target_tensor, input_tensor, xs, ys=ys, **OPTIONS.get(m, {})))
                     for m in METHODS}
    masked = target_tensor * ys
    result["masked"] = {m: attempt(lambda: de.explain(m, masked, input_tensor, xs, **OPTIONS.get(m, {})))
                        for m in METHODS}

    # DeepExplain's Keras example: a new model with the trained weights, (re)built inside the context
    fModel = Model(inputs=input_tensor, outputs=model.layers[-2].output)
    rebuilt_target = fModel(input_tensor)
    result["rebuilt"] = {m: attempt(lambda: de.explain(m, rebuilt_target, input_tensor, xs, ys=ys,
                                                       **OPTIONS.get(m, {})))
                         for m in METHODS}

    lin_target = linear.layers[-2].output
    result["linear"] = {m: attempt(lambda: de.explain(m, lin_target, linear.input, xs, ys=ys))
                        for m in ("saliency", "grad*input", "occlusion")}
emit(result)
