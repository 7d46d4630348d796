"""The job on Dask: two worker processes give the bytes one process gives, through
``explain_array`` and through the command's ``--scheduler``, on a LocalCluster and on a scheduler
and workers started by hand on loopback."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from deepexplain_ng.batch.job import Job  # noqa: E402
from deepexplain_ng.cli import main  # noqa: E402
from deepexplain_ng.distributed import explain_array  # noqa: E402
from builders import samples  # noqa: E402
from test_batch import _chunk_files, write_cnn  # noqa: E402

pytestmark = pytest.mark.examples  # worker processes: run once, in the main run


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask")
    inputs, outputs = write_cnn(root / "cnn.pb", seed=210)
    xs = np.abs(samples((30, 8, 8, 1), seed=211))
    np.save(root / "rows.npy", xs)
    return root, inputs, outputs, xs


def _one_process(root, inputs, outputs, xs, labels, chunk):
    job = Job(str(root / "cnn.pb"), "intgrad", {"steps": 32}, inputs=inputs, outputs=outputs, threads=1)
    return np.concatenate([job.run(xs[lo:lo + chunk], labels[lo:lo + chunk])["attributions"]
                           for lo in range(0, len(xs), chunk)])


def _cli(root, inputs, outputs, output, *extra):
    return main(["explain", str(root / "cnn.pb"), "--inputs", *inputs, "--outputs", *outputs, "--input",
                 str(root / "rows.npy"), "--output", str(output), "--method", "intgrad", "--option", "steps=32",
                 "--chunk-rows", "7", "--quiet", *extra])


def test_local_cluster_gives_the_bytes_of_one_process(model, tmp_path):
    root, inputs, outputs, xs = model
    labels = np.arange(30) % 3
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        lazy = explain_array(da.from_array(xs, chunks=8), str(root / "cnn.pb"), "intgrad", ys=labels,
                             inputs=inputs, outputs=outputs, steps=32)
        assert lazy.shape == xs.shape and lazy.dtype == np.float32 and lazy.chunks[0] == (8, 8, 8, 6)
        maps = lazy.compute()
        assert len({w for w in client.run(os.getpid).values()}) == 2
        assert _cli(root, inputs, outputs, tmp_path / "cluster.zarr", "--scheduler", cluster.scheduler_address) == 0
    np.testing.assert_array_equal(maps, _one_process(root, inputs, outputs, xs, labels, 8))
    assert _cli(root, inputs, outputs, tmp_path / "here.zarr") == 0
    here = zarr.open_group(str(tmp_path / "here.zarr"), mode="r")
    there = zarr.open_group(str(tmp_path / "cluster.zarr"), mode="r")
    np.testing.assert_allclose(there["attributions"][:], here["attributions"][:], rtol=0,
                               atol=1e-5 * np.abs(here["attributions"][:]).max())
    np.testing.assert_array_equal(there["target"][:], here["target"][:])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_scheduler_and_workers_started_by_hand(model, tmp_path):
    root, inputs, outputs, xs = model
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    logs = open(tmp_path / "dask.log", "w")
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], stdout=logs, stderr=logs, env=env)]
    try:
        time.sleep(2)
        processes += [subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                                        "--host", "127.0.0.1"], stdout=logs, stderr=logs, env=env)
                      for _ in range(2)]
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
        assert _cli(root, inputs, outputs, tmp_path / "cluster.zarr", "--scheduler", address) == 0
        assert _cli(root, inputs, outputs, tmp_path / "here.zarr") == 0
        assert len(_chunk_files(tmp_path / "cluster.zarr")) == 5 * 5  # five arrays of five chunks
        here = zarr.open_group(str(tmp_path / "here.zarr"), mode="r")
        there = zarr.open_group(str(tmp_path / "cluster.zarr"), mode="r")
        # the same rows on another process's TF threads: equal up to float32 summation order
        np.testing.assert_allclose(there["attributions"][:], here["attributions"][:], rtol=0,
                                   atol=1e-5 * np.abs(here["attributions"][:]).max())
        np.testing.assert_array_equal(there["target"][:], here["target"][:])
    finally:
        for process in processes[::-1]:
            process.terminate()
        for process in processes:
            process.wait(30)
        logs.close()
