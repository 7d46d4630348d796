"""tf_keras in graph mode, explained through its session, in inference mode."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.examples  # subprocesses: run once, in the main run


@pytest.fixture(scope="module")
def keras_run():
    script = Path(__file__).with_name("keras_graph_mode_script.py")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, DEEPEXPLAIN_NG_PROGRESS="0"))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dropout_model_explains_deterministically(keras_run):
    for method, runs in keras_run["runs"].items():
        for again in runs[1:]:
            np.testing.assert_array_equal(again, runs[0], err_msg=method)


def test_attributions_use_inference_mode(keras_run):
    xs, classes = np.array(keras_run["xs"]), np.array(keras_run["classes"])
    w1, b1, w2, b2, w3, b3 = (np.array(w, np.float64) for w in keras_run["weights"])
    # numpy grad*input of the same weights without dropout
    z1 = xs @ w1 + b1
    z2 = np.maximum(z1, 0) @ w2 + b2
    grads = ((w3[:, classes].T * (z2 > 0)) @ w2.T * (z1 > 0)) @ w1.T
    np.testing.assert_allclose(keras_run["runs"]["grad*input"][0], xs * grads, rtol=1e-4, atol=1e-6)
    # DeepLIFT sums to model.predict(x) - model.predict(0) for the explained class
    deltas = np.array(keras_run["predict"]) - np.array(keras_run["predict_baseline"])
    np.testing.assert_allclose(np.sum(keras_run["runs"]["deeplift"][0], axis=1), deltas, rtol=1e-4, atol=1e-5)


def test_dropout_conditional_is_not_reported(keras_run):
    # graph-mode Dropout is an If op whose branches are the identity and a random mask: affine
    assert keras_run["unsupported"] == []


def test_softmax_output_warns(keras_run):
    assert keras_run["softmax_warned"]


def test_graph_mode_model_with_batch_norm_matches_the_raw_tf_build(keras_run):
    assert keras_run["bn_logits_op"] in ("BiasAdd", "AddV2")
    for method, error in keras_run["same_weights_relative_error"].items():
        assert error < 1e-4, (method, error)


def test_without_a_session_argument_tf_keras_session_is_used(keras_run):
    assert keras_run["default_session_is_keras"]
