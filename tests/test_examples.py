"""The examples run offline and check their own method's property (they exit non-zero if not)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script, out):
    done = subprocess.run([sys.executable, str(EXAMPLES / script), "--out", str(out)], capture_output=True,
                          text=True, timeout=300, cwd=EXAMPLES, env=dict(os.environ, DEEPEXPLAIN_NG_PROGRESS="0"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def test_the_demo_compares_every_registered_method(tmp_path):
    from deepexplain_ng import available_methods
    output = _run("compare_methods.py", tmp_path)
    assert float(re.search(r"test accuracy ([0-9.]+)", output).group(1)) > 0.9
    timed = re.findall(r"^\s*(\S+): +[0-9.]+ s for 4 digits", output, re.M)
    assert sorted(timed) == sorted(available_methods())
    assert (tmp_path / "compare_methods.png").stat().st_size > 10_000
    assert f"wrote {tmp_path / 'compare_methods.png'}" in output


@pytest.mark.parametrize("script", ["saliency.py", "grad_input.py", "intgrad.py", "elrp.py", "deeplift.py",
                                    "occlusion.py", "shapley_sampling.py"])
def test_method_example(script, tmp_path):
    output = _run(script, tmp_path)
    assert list(tmp_path.glob("*.png")), output
    if script == "intgrad.py":  # completeness error shrinks with steps
        errors = [float(e) for e in re.findall(r"= ([0-9.]+)  \(S", output)]
        assert len(errors) == 3 and errors[0] > errors[1] > errors[2]
