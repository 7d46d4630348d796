"""Batch jobs: the command's throughput against `explainer.run` over the same rows in one process,
and Dask's speed-up from one worker process to two (results in README.md).

    python benchmarks/batch.py [--rows 4000] [--steps 64]

1. A Keras digits CNN (examples/digits_keras.py) is saved; `rows` digits are explained with
   intgrad (`steps`) for their labels (a) by `explainer.run` on all rows at once, the explainer
   built beforehand, and (b) by the command `deepexplain-ng explain` (a process of its own),
   writing a zarr store chunk by chunk with fsyncs; the command's time counts from its first
   chunk to its last write, by its own clock (its start-up: imports, model, digests, store, is
   reported apart). Median of 3.
2. The same job through `distributed.explain_array` on a LocalCluster of 1 and of 2 worker
   processes (1 thread each, TF limited to it); each cluster is warmed up (model loaded) on a
   small array first. Median of 3.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from deepexplain_ng.batch.job import Job  # noqa: E402


def _median(times):
    return float(np.median(times))


def command_against_run(root, rows, steps, repeats=3):
    xs = np.load(root / "digits.npy")
    labels = np.load(root / "labels.npy")
    job = Job(str(root / "digits.keras"), "intgrad", {"steps": steps})
    explainer = job.build()
    explainer.run(xs[:64], ys=labels[:64])
    run_times, command_times, startup = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        explainer.run(xs, ys=labels)
        run_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "deepexplain_ng", "explain", str(root / "digits.keras"),
                               "--method", "intgrad", "--input", str(root / "digits.npy"), "--labels",
                               str(root / "labels.npy"), "--output", str(root / "maps.zarr"), "--option",
                               f"steps={steps}", "--overwrite"], capture_output=True, text=True)
        total = time.perf_counter() - start
        assert done.returncode == 0, done.stderr
        rates = [float(r) for r in re.findall(r"\((\d+) rows/s since start\)", done.stderr)]
        running = rows / rates[-1]  # the command's own clock: first chunk start to last write
        command_times.append(running)
        startup.append(total - running)
    return _median(run_times), _median(command_times), _median(startup)


def dask_speedup(root, rows, steps, repeats=3):
    import dask.array as da
    from distributed import Client, LocalCluster

    from deepexplain_ng.distributed import explain_array

    xs = np.load(root / "digits.npy")
    labels = np.load(root / "labels.npy")
    times = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster):
            model = str(root / "digits.keras")
            explain_array(da.from_array(xs[:8 * workers], chunks=8), model, "intgrad", ys=labels[:8 * workers],
                          steps=steps).compute()  # every worker loads the model
            measured = []
            for _ in range(repeats):
                start = time.perf_counter()
                explain_array(da.from_array(xs, chunks=rows // 16), model, "intgrad", ys=labels, steps=steps).compute()
                measured.append(time.perf_counter() - start)
            times[workers] = _median(measured)
    return times


def main_benchmark():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=64)
    args = parser.parse_args()
    import digits_keras

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model, images, target = digits_keras.train()
        model.save(root / "digits.keras")
        order = np.resize(np.arange(len(images)), args.rows)
        np.save(root / "digits.npy", images[order])
        np.save(root / "labels.npy", target[order])
        run, command, startup = command_against_run(root, args.rows, args.steps)
        print(f"{args.rows} digits, intgrad steps={args.steps}:")
        print(f"  explainer.run     {run:6.2f} s  ({args.rows / run:7.0f} rows/s)")
        print(f"  deepexplain-ng    {command:6.2f} s  ({args.rows / command:7.0f} rows/s)  ratio {command / run:.2f}"
              f"  (+ {startup:.1f} s start-up: imports, model, digests, store)")
        times = dask_speedup(root, args.rows, args.steps)
        print(f"  dask 1 worker     {times[1]:6.2f} s  ({args.rows / times[1]:7.0f} rows/s)")
        print(f"  dask 2 workers    {times[2]:6.2f} s  ({args.rows / times[2]:7.0f} rows/s)  speed-up "
              f"{times[1] / times[2]:.2f}")


if __name__ == "__main__":
    main_benchmark()
