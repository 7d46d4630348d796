"""Every Python code block of the README runs as printed, each in its own process (some switch
TF to graph mode for good), offline."""
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.examples  # subprocesses: run once, in the main run

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    def run(index):
        script = tmp_path_factory.mktemp(f"block{index}") / "block.py"
        script.write_text(BLOCKS[index])
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                              cwd=script.parent, env=dict(os.environ, DEEPEXPLAIN_NG_PROGRESS="0",
                                                          MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2"))
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(run, range(len(BLOCKS))))


def test_the_readme_has_code_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_code_block_runs(runs, index):
    done = runs[index]
    assert done.returncode == 0, f"README block {index}:\n{BLOCKS[index]}\n{done.stderr[-3000:]}"


def test_quick_start_deeplift_sums_to_the_logit_differences(runs):
    """The quick start prints how far DeepLIFT's sums are from logit(x) - logit(0)."""
    assert float(runs[0].stdout.split()[-1]) < 1e-4
