"""Getting a session and graph from Keras models."""


def keras_session():
    """tf_keras' graph-mode session (``tf_keras`` keeps ``get_session`` out of its public API).

    Call ``tf.compat.v1.disable_eager_execution()`` before building the tf_keras model.
    """
    from tf_keras.src import backend
    return backend.get_session()
