"""The model-import examples run offline and say something true."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.examples  # subprocesses: run once, in the main run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script, out):
    done = subprocess.run([sys.executable, str(EXAMPLES / script), "--out", str(out)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, DEEPEXPLAIN_NG_PROGRESS="0"))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_text_example_credits_sentiment_words(tmp_path):
    output = _run("text_embeddings.py", tmp_path)
    assert (tmp_path / "text_embeddings.png").stat().st_size > 10_000
    accuracy = float(re.search(r"accuracy: ([0-9.]+)", output).group(1))
    assert accuracy > 0.9
    # in every printed sentence the largest |attribution| sits on a sentiment word
    sentiment = {"great", "lovely", "superb", "enjoyable", "brilliant",
                 "awful", "boring", "dull", "terrible", "clumsy"}
    agree = re.search(r"agrees in sign with intgrad on the top two tokens: (\d+) of (\d+)", output)
    assert agree and agree.group(1) == agree.group(2) == "12"
    lines = [line for line in output.splitlines() if re.match(r"\s*(negative|positive):", line)]
    assert len(lines) == 6
    for line in lines:
        words = re.findall(r"(\S+)\(([+-][0-9.]+)\)", line)
        top = max(words, key=lambda w: abs(float(w[1])))[0]
        assert top in sentiment, line


def test_multiple_inputs_example_finds_the_informative_features(tmp_path):
    output = _run("multiple_inputs_keras.py", tmp_path)
    assert (tmp_path / "multiple_inputs_keras.png").exists()
    rows = re.findall(r"metadata \[\s*([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s*\]", output)
    assert len(rows) == 5, output  # one per gradient method
    for first, second, third in (map(float, row) for row in rows):
        assert first > 3 * max(second, third), output


def _printed(output, label):
    return np.array([float(v) for v in re.search(label + r"\s*\[([^\]]*)\]", output).group(1).split()])


def test_max_pooling_example_sums_exactly_where_the_gradient_does_not(tmp_path):
    output = _run("deeplift_max_pooling.py", tmp_path)
    assert float(re.search(r"test accuracy ([0-9.]+)", output).group(1)) > 0.85
    sums, delta = _printed(output, "deeplift sums:"), _printed(output, r"logit\(x\) - logit\(blank\):")
    np.testing.assert_allclose(sums, delta, rtol=1e-3, atol=1e-3)
    plain = _printed(output, r"grad\*input sums \(no rule\):")
    assert np.abs(plain - delta).max() > 0.1  # the rule matters on this model
    assert (tmp_path / "deeplift_max_pooling.png").exists()


def test_transformer_example_sums_exactly_and_credits_sentiment_words(tmp_path):
    output = _run("deeplift_transformer.py", tmp_path)
    sums = _printed(output, "sum of attributions:")
    delta = _printed(output, r"logit\(x\) - logit\(reference\):")
    assert len(sums) == 6
    np.testing.assert_allclose(sums, delta, rtol=1e-3, atol=1e-3)
    sentiment = {"great", "lovely", "superb", "enjoyable", "brilliant",
                 "awful", "boring", "dull", "terrible", "clumsy"}
    for line in (line for line in output.splitlines() if re.match(r"\s*(negative|positive):", line)):
        words = re.findall(r"(\S+)\(([+-][0-9.]+)\)", line)
        assert max(words, key=lambda w: abs(float(w[1])))[0] in sentiment, line
