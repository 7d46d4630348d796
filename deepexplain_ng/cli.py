"""The command line: ``deepexplain-ng explain | methods | info`` (also ``python -m deepexplain_ng``).

Exit codes: 0 done, 2 bad arguments or inputs, 1 a failure during the run (naming the chunk),
130 interrupted (Ctrl-C) after the chunk in flight was written.
"""
import argparse
import ast
import datetime
import os
import re
import signal
import sys
import time

import numpy as np

EXAMPLE = """example:
  deepexplain-ng explain digits.keras --method intgrad --input digits.npy --output maps.zarr \\
      --target predicted --option steps=64 --batch-size 64
  deepexplain-ng info maps.zarr"""
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 1024, "m": 1e6, "mb": 1e6, "mib": 1024 ** 2, "g": 1e9, "gb": 1e9,
          "gib": 1024 ** 3}


def _bytes(text):
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"expected a size like 512MiB, 1GB or 268435456, got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, (list, tuple)) else value


def _option(text):
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. steps=64), got {text!r}")
    if value == "zeros":
        return name, None  # the methods' default baseline
    try:
        return name, _hashable(ast.literal_eval(value))
    except (ValueError, SyntaxError):
        return name, value


def _parser():
    parser = argparse.ArgumentParser(prog="deepexplain-ng", description="Attributions of TensorFlow models, "
                                     "as resumable batch jobs.", epilog=EXAMPLE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    explain = commands.add_parser(
        "explain", help="explain every row of an input into a zarr store (resumable)", epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Explain every row of INPUT with MODEL into a zarr store, chunk by chunk. Running the same "
                    "command again resumes where it stopped.")
    explain.add_argument("model", metavar="MODEL", help=".keras, .h5, a SavedModel directory, or .pb (with "
                         "--inputs/--outputs)")
    explain.add_argument("--method", required=True, help="a method name (see `deepexplain-ng methods`)")
    explain.add_argument("--input", required=True, help="rows to explain: file.npy (memory-mapped), file.npz[:name], "
                         "store.zarr[:array] or a folder of images (with --image-size)")
    explain.add_argument("--output", required=True, help="the zarr store to write (a directory)")
    target = explain.add_mutually_exclusive_group()
    target.add_argument("--target", choices=["predicted"], default="predicted",
                        help="explain each row's predicted class (default)")
    target.add_argument("--labels", help="class indices, one per row (.npy, .npz[:name], .zarr)")
    target.add_argument("--class", dest="class_index", type=int, help="one class index for every row")
    explain.add_argument("--option", action="append", type=_option, default=[], metavar="NAME=VALUE",
                         help="a method option, e.g. steps=64 or baseline=zeros (repeat for several)")
    explain.add_argument("--batch-size", type=int, default=None, help="rows per explainer batch (default: from "
                         "the memory budget)")
    explain.add_argument("--chunk-rows", type=int, default=256, help="rows per store chunk (default 256): the unit "
                         "written whole, and the most a kill can lose")
    explain.add_argument("--memory-budget", type=_bytes, default=None, help="bytes of activations per session.run, "
                         "e.g. 512MiB (default 256MiB)")
    explain.add_argument("--output-layer", default="logits", help="'logits' (default), 'probabilities' or a layer name")
    explain.add_argument("--inputs", nargs="+", help="input tensor names of a .pb graph")
    explain.add_argument("--outputs", nargs="+", help="output tensor names of a .pb graph")
    explain.add_argument("--image-size", type=int, help="resize a folder's images to SIZE x SIZE")
    explain.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786): run the chunks on that "
                         "cluster; without it, in this process")
    explain.add_argument("--overwrite", action="store_true", help="replace an existing store instead of resuming")
    explain.add_argument("--quiet", action="store_true", help="no progress output")
    commands.add_parser("methods", help="list the methods, their options and defaults",
                        description="List the methods, their options and defaults (give options to "
                                    "`explain` as --option NAME=VALUE).",
                        epilog="example:\n  deepexplain-ng methods | grep intgrad",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    info = commands.add_parser("info", help="what a store holds and how far its job got",
                               description="What a store holds and how far its job got.",
                               epilog="example:\n  deepexplain-ng info maps.zarr",
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    info.add_argument("output", metavar="OUTPUT", help="a store written by `deepexplain-ng explain`")
    return parser


def _methods():
    from .methods import METHODS, method_class

    for name in METHODS:
        cls = method_class(name)
        options = ", ".join(f"{k}={v!r}" for k, v in cls.options.items()) or "(no options)"
        print(f"{name:22s} {options}")


class _Interrupt:
    """Ctrl-C asks to stop after the chunk in flight is written."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupted: finishing the current chunk's write (Ctrl-C again to abort)", file=sys.stderr)


def _prepare(args):
    """Everything checked before the run: (job, source, labels, store, todo). Raises ExplainError."""
    from . import __version__
    from .batch.job import Job, file_digest
    from .batch.sources import open_input, open_labels
    from .batch.store import Store
    from .errors import ExplainValueError

    for name in ("batch_size", "chunk_rows"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ExplainValueError(f"--{name.replace('_', '-')}: expected a positive integer, got {value}.")
    if not os.path.exists(args.model):
        raise ExplainValueError(f"MODEL: '{args.model}' does not exist (expected .keras, .h5, a SavedModel "
                                f"directory or .pb).")
    source = open_input(args.input, args.image_size)
    if len(source.shape) < 2 or source.shape[0] == 0:
        raise ExplainValueError(f"--input: expected rows (n, ...) with n > 0, got shape {source.shape}.")
    labels = open_labels(args.labels, source.shape[0]) if args.labels else None
    job = Job(args.model, args.method, dict(args.option), output=args.output_layer, inputs=args.inputs,
              outputs=args.outputs, batch_size=args.batch_size, memory_budget=args.memory_budget)
    explainer = job.build()  # loads the model here: a bad model or option is a bad argument
    sample_shape = job.sample_shape()
    if tuple(source.shape[1:]) != sample_shape:
        raise ExplainValueError(f"--input: the model takes rows of shape {sample_shape}, the input's rows are "
                                f"{tuple(source.shape[1:])} (shape {source.shape}).")
    target = ("labels " + file_digest(args.labels.partition(":")[0]) if labels is not None else
              f"class {args.class_index}" if args.class_index is not None else "predicted")
    description = {
        "model_sha256": file_digest(args.model), "method": explainer.name,
        "options": {k: repr(v) for k, v in job.options}, "output_layer": args.output_layer,
        "inputs": list(job.inputs), "outputs": list(job.outputs), "target": target,
        "input": f"{file_digest(args.input.partition(':')[0] if not os.path.exists(args.input) else args.input)} "
                 f"{list(source.shape)} {source.dtype}",
        "batch_size": args.batch_size, "memory_budget": args.memory_budget, "chunk_rows": args.chunk_rows,
        "image_size": args.image_size}
    columns = ["target", "score"] + (["baseline_score", "attribution_sum"] if job.complete else [])
    store = Store.open(args.output, description, source.shape[0], sample_shape, args.chunk_rows, columns,
                       overwrite=args.overwrite)
    if "started" not in store.group.attrs:
        import tensorflow as tf

        store.set_attrs(job=dict(description, model=os.path.abspath(args.model), input=os.path.abspath(args.input)),
                        package_version=__version__, tensorflow_version=tf.__version__,
                        started=datetime.datetime.now(datetime.timezone.utc).isoformat())
    todo = [c for c in store.chunks() if c[0] not in store.finished()]
    return job, source, labels, store, todo


def _target(args, labels, lo, hi):
    if labels is not None:
        return labels[lo:hi]
    return args.class_index if args.class_index is not None else "predicted"


def _explain(args):
    from .batch.job import ChunkError
    from .errors import ExplainError

    try:
        job, source, labels, store, todo = _prepare(args)
    except ExplainError as error:
        print(f"deepexplain-ng: error: {error}", file=sys.stderr)
        return 2
    rows_done = store.rows - sum(hi - lo for _, lo, hi in todo)
    interrupt = _Interrupt()
    previous = signal.signal(signal.SIGINT, interrupt)
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=store.rows, initial=rows_done, unit="rows", desc=f"{job.method}", smoothing=0.1)
    try:
        if args.scheduler:
            from .distributed import explain_chunks
        else:
            explain_chunks = _in_process
        chunks = explain_chunks(job, source, todo, lambda lo, hi: _target(args, labels, lo, hi),
                                scheduler=args.scheduler)
        start, resumed_at = time.perf_counter(), rows_done

        def report(index, lo, hi):
            nonlocal rows_done
            rows_done += hi - lo
            if bar is not None:
                bar.update(hi - lo)
            elif not args.quiet:
                rate = (rows_done - resumed_at) / max(time.perf_counter() - start, 1e-9)
                print(f"chunk {index}: rows {lo}-{hi} written; {rows_done}/{store.rows} rows ({rate:.0f} rows/s "
                      f"since start)", file=sys.stderr, flush=True)

        with _Writer(store, report) as writer:
            for index, lo, hi, results in chunks:
                writer.submit(index, lo, hi, results)
                if interrupt.requested:
                    chunks.close()
                    writer.wait()
                    print(f"stopped after chunk {index}; run the same command to resume.", file=sys.stderr)
                    return 130
    except ChunkError as error:
        print(f"deepexplain-ng: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aborted; the chunks recorded as written are kept, run the same command to resume.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
    store.set_attrs(finished=datetime.datetime.now(datetime.timezone.utc).isoformat())
    if not args.quiet:
        print(f"done: {store.rows} rows in {os.path.abspath(args.output)}", file=sys.stderr)
    return 0


class _Writer:
    """Writes each chunk in a thread while the next one is computed (TF releases the GIL during
    a run): at most one chunk waits for its write, so memory holds two chunks at most."""

    def __init__(self, store, report):
        from concurrent.futures import ThreadPoolExecutor

        self.store, self.report = store, report
        self.pool, self.pending = ThreadPoolExecutor(1, thread_name_prefix="store"), None

    def submit(self, index, lo, hi, results):
        self.wait()
        self.pending = (index, lo, hi, self.pool.submit(self.store.write, index, lo, hi, results))

    def wait(self):
        """Block until the pending chunk is durable and recorded, then report it."""
        from .batch.job import chunk_error

        if self.pending is None:
            return
        index, lo, hi, future = self.pending
        self.pending = None
        try:
            future.result()
        except Exception as error:
            raise chunk_error(index, lo, hi, error) from error
        self.report(index, lo, hi)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                self.wait()
        finally:
            self.pool.shutdown(wait=True)
        return False


def _in_process(job, source, todo, target_of, scheduler=None):
    """``(index, lo, hi, results)`` of each chunk, computed here in order."""
    from .batch.job import chunk_error

    for index, lo, hi in todo:
        try:
            results = job.run(np.asarray(source[lo:hi]), target_of(lo, hi))
        except Exception as error:
            raise chunk_error(index, lo, hi, error) from error
        yield index, lo, hi, results


def main(argv=None):
    """Entry point of the ``deepexplain-ng`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "methods":
        _methods()
        return 0
    if args.command == "info":
        from .batch.store import describe
        from .errors import ExplainError

        try:
            print(describe(args.output))
        except ExplainError as error:
            print(f"deepexplain-ng: error: {error}", file=sys.stderr)
            return 2
        return 0
    return _explain(args)

if __name__ == "__main__":
    sys.exit(main())
