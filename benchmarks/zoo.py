"""Keras zoo: import Keras 3 architectures into a DeepExplain context and check every method on them.

Models: 13 ``keras.applications`` (``weights=None``, classes=10, input 64x64x3 or the model's
minimum: 71 Xception, 75 InceptionV3 / InceptionResNetV2) and four hand-built Keras 3 models:
LSTM and GRU text classifiers and a transformer encoder block (token ids of length 12, explained
from the embedding output: ``imported.layer("embedding")`` with ``feed={token_ids: ids}``), and a
model that contains another model. Random init; every BatchNormalization layer gets its moving
statistics from one batch of 16 random inputs (momentum 0, one SGD step at learning rate 0).

Each model runs in a process of its own, built outside the ``DeepExplain`` block, then
``X, T = de.import_model(model)`` (T: the logits). One table row per model and step:

* build: model construction + batch-norm calibration (build s); parameters / BN layers;
* import: ``de.import_model`` (build s), one forward of the batch (1st s); check: the imported
  logits against the model's own eager logits, max |difference| / max |eager logits|;
* saliency, intgrad (steps=32), deeplift, elrp, occlusion (window (8, 8, 3), step 8 on images;
  one token on text, one feature on the nested model), on a batch of 4 inputs and the predicted
  classes: ``de.get_explainer`` (build s), the first ``run`` (1st s) and a second one (run s).
  Checks: saliency against the model's eager ``tf.GradientTape`` gradient (max |difference| /
  max |gradient|); intgrad completeness and deeplift summation-to-delta (max over the samples of
  |sum of attributions - (T(x) - T(0))| / max over the samples of |T(x) - T(0)|).
* warnings / error: the UnsupportedOpWarning (and SoftmaxTargetWarning) op types the step
  reported, with counts (``Mulx3``: three Mul ops), and other warnings of the package; or FAILED
  with the exception's first line. Every exception is caught per model and step, and a worker
  that dies or times out gets a FAILED row, so the table always completes.

Run by hand (the whole list takes tens of minutes on 2 cores):

    .venv/bin/python benchmarks/zoo.py
    .venv/bin/python benchmarks/zoo.py --models VGG16 LSTM --size 64 --markdown zoo.md
"""
import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DEEPEXPLAIN_NG_PROGRESS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

BATCH = 4
CLASSES = 10
SEQUENCE = 12
VOCAB = 100
EMBEDDING = 16
METHODS = {
    "saliency": {},
    "intgrad": {"steps": 32},
    "deeplift": {},
    "elrp": {},
    "occlusion": {},  # window and step depend on the input, see Case.occlusion
}

# keras.applications: (constructor name, minimum input side, input range the model expects)
#   caffe: BGR minus the ImageNet mean; tf: [-1, 1]; torch: standardised; raw: [0, 255] with the
#   preprocessing inside the model
APPLICATIONS = {
    "VGG16": ("VGG16", 32, "caffe"),
    "DenseNet121": ("DenseNet121", 32, "torch"),
    "Xception": ("Xception", 71, "tf"),
    "InceptionV3": ("InceptionV3", 75, "tf"),
    "NASNetMobile": ("NASNetMobile", 32, "tf"),
    "MobileNetV2": ("MobileNetV2", 32, "tf"),
    "MobileNetV3Small": ("MobileNetV3Small", 32, "raw"),
    "ResNet50": ("ResNet50", 32, "caffe"),
    "ResNet50V2": ("ResNet50V2", 32, "tf"),
    "InceptionResNetV2": ("InceptionResNetV2", 75, "tf"),
    "EfficientNetB0": ("EfficientNetB0", 32, "raw"),
    "EfficientNetV2B0": ("EfficientNetV2B0", 32, "raw"),
    "ConvNeXtTiny": ("ConvNeXtTiny", 32, "raw"),
}
RANGES = {"caffe": (-128.0, 128.0), "tf": (-1.0, 1.0), "torch": (-2.0, 2.0), "raw": (0.0, 255.0)}
HAND_BUILT = ["LSTM", "GRU", "Transformer", "Nested"]
MODELS = list(APPLICATIONS) + HAND_BUILT


# -- the models -------------------------------------------------------------------------------
class Case:
    """A model and what to explain it on.

    raw: the model's input batch; layer: the layer to explain from (None: the model's input);
    eager_x(raw) -> the values of X; eager_logits(x) -> logits from the values of X, eagerly.
    """

    def __init__(self, model, raw, calibration, layer=None, eager_x=None, eager_logits=None, occlusion=None):
        self.model, self.raw, self.calibration, self.layer = model, raw, calibration, layer
        self.eager_x = eager_x or (lambda raw: raw)
        self.eager_logits = eager_logits or logits_function(model)
        self.occlusion = occlusion or {}
        self.input = "x".join(str(d) for d in raw.shape[1:])


def logits_function(model):
    """Eager logits of ``model``: its output, or the input of a final softmax/sigmoid."""
    import keras
    from keras import ops
    last = model.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    if activation in ("softmax", "sigmoid"):
        features = keras.Model(model.inputs, last.input)
        if isinstance(last, keras.layers.Dense):
            return lambda x: ops.matmul(features(x, training=False), last.kernel) + last.bias
        if isinstance(last, keras.layers.Activation):
            return lambda x: features(x, training=False)
    return lambda x: model(x, training=False)


def application(name, size, rng):
    import keras
    constructor, minimum, kind = APPLICATIONS[name]
    side = max(size, minimum)
    model = getattr(keras.applications, constructor)(weights=None, input_shape=(side, side, 3), classes=CLASSES)
    low, high = RANGES[kind]
    images = lambda n: rng.uniform(low, high, (n, side, side, 3)).astype("float32")  # noqa: E731
    return Case(model, images(BATCH), images(16), occlusion={"window_shape": (8, 8, 3), "step": 8})


def text(name, rng):
    """Embedding -> LSTM/GRU/attention block -> Dense logits; explained from the embedding."""
    import keras
    from keras import layers
    ids = keras.Input((SEQUENCE,), dtype="int32", name="token_ids")
    embedding = layers.Embedding(VOCAB, EMBEDDING, name="embedding")
    if name in ("LSTM", "GRU"):
        recurrent = getattr(layers, name)(EMBEDDING, name=name.lower())
        head = layers.Dense(CLASSES, name="logits")

        def body(e):
            return head(recurrent(e, training=False))
        model = keras.Model(ids, layers.Activation("softmax", name="probabilities")(body(embedding(ids))))
    else:  # a transformer encoder block
        attention = layers.MultiHeadAttention(num_heads=2, key_dim=8, name="attention")
        norm = layers.LayerNormalization(name="norm")
        feed_forward = layers.Dense(32, activation="gelu", name="feed_forward")
        pool = layers.GlobalAveragePooling1D(name="pool")
        head = layers.Dense(CLASSES, name="logits")

        def body(e):
            return head(pool(feed_forward(norm(e + attention(e, e, training=False)))))
        model = keras.Model(ids, body(embedding(ids)))
    tokens = lambda n: rng.integers(1, VOCAB, (n, SEQUENCE)).astype("int32")  # noqa: E731
    return Case(model, tokens(BATCH), tokens(16), layer="embedding", eager_x=lambda raw: embedding(raw),
                eager_logits=body, occlusion={"window_shape": (1, EMBEDDING), "step": 1})


def nested(rng):
    """A model that contains another model."""
    import keras
    i = keras.Input((8,), name="base_input")
    base = keras.Model(i, keras.layers.Dense(4, activation="relu")(i), name="base")
    j = keras.Input((8,), name="outer_input")
    model = keras.Model(j, keras.layers.Dense(2, name="logits")(base(j)), name="outer")
    rows = lambda n: rng.normal(size=(n, 8)).astype("float32")  # noqa: E731
    return Case(model, rows(BATCH), rows(16), occlusion={"window_shape": 1, "step": 1})


def build(name, size):
    import keras
    import numpy as np
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if name in APPLICATIONS:
        return application(name, size, rng)
    if name == "Nested":
        return nested(rng)
    return text(name, rng)


def batch_norms(layer):
    """Every BatchNormalization layer in ``layer``, inside nested models too."""
    import keras
    found = [layer] if isinstance(layer, keras.layers.BatchNormalization) else []
    for sub in getattr(layer, "layers", []):
        found += batch_norms(sub)
    return found


def calibrate(case):
    """Moving statistics from a batch of data: one step at learning rate 0 with momentum 0."""
    import keras
    import numpy as np
    norms = batch_norms(case.model)
    if not norms:
        return 0
    for layer in norms:
        layer.momentum = 0.0
    case.model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse", jit_compile=False)
    targets = np.zeros((len(case.calibration),) + tuple(case.model.outputs[0].shape[1:]), "float32")
    case.model.fit(case.calibration, targets, batch_size=len(case.calibration), epochs=1, verbose=0)
    return len(norms)


# -- measuring one model (in a worker process) ---------------------------------------------------
def first_line(error):
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}".strip()


_GROUPED = re.compile(r"\b(\d+) x (\w+)")          # "3 x Mul of two inputs ...: 'a', 'b'"
_NAMED = re.compile(r"'[^']+' \((\w+)")              # "'a' (PartitionedCall)", "'a' (Mul of ..."
_SOFTMAX = re.compile(r"through (\w+) op")


def op_types(message):
    """Counter of the op types a warning names (its first line when it names none)."""
    grouped = _GROUPED.findall(message)
    if grouped:
        counts = collections.Counter()
        for count, kind in grouped:
            counts[kind] += int(count)
        return counts
    named = _NAMED.findall(message)
    return collections.Counter(named or [message.splitlines()[0][:80]])


def shorten(caught):
    """Warnings as short text: UnsupportedOpWarning (and SoftmaxTargetWarning) as op-type counts."""
    import deepexplain_ng
    unsupported = getattr(deepexplain_ng, "UnsupportedOpWarning", ())
    softmax = getattr(deepexplain_ng, "SoftmaxTargetWarning", ())
    types, others = collections.Counter(), []
    for w in caught:
        message = str(w.message)
        if issubclass(w.category, unsupported):
            types.update(op_types(message))
        elif issubclass(w.category, softmax):
            types.update(f"SoftmaxTarget({t})" for t in _SOFTMAX.findall(message)[:1] or ["?"])
        elif "uncovered" in message:
            others.append(message.split("leaves ")[-1].split(";")[0])  # "N of M features uncovered"
        elif "deepexplain_ng" in (w.filename or "") or os.path.basename(w.filename or "") == "zoo.py":
            # the package attributes its other warnings to the caller's line (here)
            others.append(f"{w.category.__name__}: {message.splitlines()[0][:80]}")
    short = " ".join(t if count == 1 else f"{t}x{count}" for t, count in sorted(types.items()))
    return "; ".join(part for part in [short] + sorted(set(others)) if part)


def relative(got, expected):
    import numpy as np
    scale = float(np.max(np.abs(expected)))
    return float(np.max(np.abs(np.asarray(got, np.float64) - expected))) / (scale if scale > 0 else 1.0)


def measure(name, size, emit):
    """Measure ``name``; ``emit(row)`` receives one dict per step as soon as it is known."""
    import numpy as np
    import tensorflow as tf
    from deepexplain_ng import DeepExplain
    tf1 = tf.compat.v1

    def row(step, **values):
        emit(dict({"model": name, "input": values.pop("input", ""), "step": step, "build_s": None,
                   "first_s": None, "run_s": None, "check": "", "value": None, "warnings": "", "error": None},
                  **values))

    try:
        started = time.perf_counter()
        case = build(name, size)
        norms = calibrate(case)
        setup = time.perf_counter() - started
    except Exception as error:  # noqa: BLE001
        row("build", error=first_line(error))
        return
    row("build", input=case.input, build_s=setup, check="params / BN set", warnings="",
        value=f"{case.model.count_params()} / {norms}")

    # eager references, from the model's own Keras code
    reference = {}
    try:
        x_eager = case.eager_x(case.raw)
        x = tf.constant(np.asarray(x_eager))
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = case.eager_logits(x)
            classes = np.argmax(np.asarray(logits), axis=1)
            score = tf.reduce_sum(logits * tf.one_hot(classes, logits.shape[-1], dtype=logits.dtype))
        reference = {"x": np.asarray(x_eager), "logits": np.asarray(logits), "classes": classes,
                     "gradient": np.asarray(tape.gradient(score, x))}
    except Exception as error:  # noqa: BLE001
        reference["error"] = first_line(error)

    session = tf1.Session(graph=tf.Graph())
    with DeepExplain(session=session) as de:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                started = time.perf_counter()
                imported = de.import_model(case.model)
                elapsed = time.perf_counter() - started
                raw_input, target = imported
                inputs = imported.layer(case.layer) if case.layer else raw_input
                feed_x = {raw_input: case.raw}
                started = time.perf_counter()
                logits = session.run(target, feed_x)
                forward = time.perf_counter() - started
        except Exception as error:  # noqa: BLE001
            row("import", input=case.input, error=first_line(error), warnings=shorten(caught))
            return
        if "error" in reference:
            check, value = "logits vs eager", "eager: " + reference["error"]
            classes = np.argmax(logits, axis=1)
        else:
            check, value = "logits vs eager", relative(logits, reference["logits"])
            classes = reference["classes"]
        row("import", input=case.input, build_s=elapsed, first_s=forward, check=check, value=value,
            warnings=shorten(caught))

        try:
            zeros = np.zeros((BATCH,) + tuple(inputs.shape[1:]), inputs.dtype.as_numpy_dtype)
            feed_zero = {**feed_x, inputs: zeros} if case.layer else {inputs: zeros}
            picked = np.arange(BATCH), classes
            deltas = logits[picked] - session.run(target, feed_zero)[picked]
        except Exception as error:  # noqa: BLE001
            deltas = first_line(error)

        for method, options in METHODS.items():
            options = dict(options, **case.occlusion) if method == "occlusion" else options
            build_s = first_s = run_s = None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    started = time.perf_counter()
                    explainer = de.get_explainer(method, target, inputs, **options)
                    build_s = time.perf_counter() - started
                    run = ((lambda: explainer.run(None, ys=classes, feed=feed_x)) if case.layer
                           else (lambda: explainer.run(case.raw, ys=classes)))
                    started = time.perf_counter()
                    attributions = run()
                    first_s = time.perf_counter() - started
                    started = time.perf_counter()
                    run()
                    run_s = time.perf_counter() - started
                    check, value = "", None
                    if method == "saliency":
                        check = "vs tape grad"
                        value = (relative(attributions, np.abs(reference["gradient"])) if "gradient" in reference
                                 else "eager: " + reference["error"])
                    elif method in ("intgrad", "deeplift"):
                        check = "completeness" if method == "intgrad" else "sum-to-delta"
                        if isinstance(deltas, str):
                            value = "T(0): " + deltas
                        else:
                            sums = attributions.reshape(BATCH, -1).astype(np.float64).sum(axis=1)
                            value = relative(sums, deltas)
                    bad = int((~np.isfinite(attributions)).sum())
                    notes = shorten(caught)
                    if bad and method != "occlusion":
                        notes = "; ".join(filter(None, [notes, f"{bad} non-finite attributions"]))
                    row(method, input=case.input, build_s=build_s, first_s=first_s, run_s=run_s, check=check,
                        value=value, warnings=notes)
                except Exception as error:  # noqa: BLE001
                    row(method, input=case.input, build_s=build_s, first_s=first_s, run_s=run_s,
                        error=first_line(error),
                        warnings=shorten(caught))
    session.close()


def worker(name, size, result):
    with open(result, "a") as out:
        def emit(row):
            out.write(json.dumps(row) + "\n")
            out.flush()
        measure(name, size, emit)


# -- the driver ------------------------------------------------------------------------------------
def run_model(name, size, timeout, environment=None):
    """Rows of one model, measured in a process of its own; (rows, crash message or None)."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as handle:
        result = handle.name
    try:
        command = [sys.executable, os.path.abspath(__file__), "--worker", name, "--size", str(size),
                   "--result", result]
        env = dict(os.environ, **(environment or {}))
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
            crash = None
            if done.returncode != 0:
                tail = [line for line in done.stderr.splitlines() if line.strip()]
                how = (f"signal {signal.Signals(-done.returncode).name}" if done.returncode < 0
                       else f"exit code {done.returncode}")
                crash = f"worker died ({how}): {tail[-1][:200] if tail else 'no stderr'}"
        except subprocess.TimeoutExpired:
            crash = f"worker timed out after {timeout} s"
        with open(result) as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
    finally:
        os.unlink(result)
    return rows, crash


def complete(name, rows, crash):
    """The model's rows, with one FAILED row for the step during which its worker died."""
    if crash is None:
        return rows
    done = {r["step"] for r in rows}
    steps = ["build", "import"] + list(METHODS)
    missing = [s for s in steps if s not in done]
    given = rows[0]["input"] if rows else ""
    if missing:
        rows = rows + [{"model": name, "input": given, "step": missing[0], "build_s": None,
                        "first_s": None, "run_s": None,
                        "check": "", "value": None, "warnings": "", "error": crash}]
    return rows


def cell(value, digits):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if digits else f"{value:.1e}"
    return str(value)


COLUMNS = [("model", 17), ("input", 8), ("step", 9), ("build s", 7), ("1st s", 7), ("run s", 7), ("check", 16),
           ("value", 9), ("warnings / error", 0)]


def cells(r):
    value = cell(r["value"], 0) if r["error"] is None else "FAILED"
    last = r["warnings"] if r["error"] is None else "; ".join(filter(None, [r["error"], r["warnings"]]))
    return [r["model"], r["input"], r["step"], cell(r["build_s"], 2), cell(r["first_s"], 2), cell(r["run_s"], 2),
            r["check"], value, last]


def text_row(values):
    return " ".join(f"{v:<{w}}" if w else v for v, (_, w) in zip(values, COLUMNS))


def markdown(rows):
    lines = ["| " + " | ".join(c for c, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(v.replace("|", "/") for v in cells(r)) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS, metavar="NAME",
                        help=f"models to run (default: all): {' '.join(MODELS)}")
    parser.add_argument("--size", type=int, default=64,
                        help="image side (raised to a model's minimum: 71 Xception, 75 Inception*)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as markdown")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per model")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.size, args.result)
        return
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; known: {' '.join(MODELS)}")

    print(text_row([c for c, _ in COLUMNS]), flush=True)
    table = []
    for name in args.models:
        print(f"[zoo] {name} ...", file=sys.stderr, flush=True)
        rows, crash = run_model(name, args.size, args.timeout)
        if crash and "SIGABRT" in crash and os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
            # oneDNN's eager kernels sometimes abort with a double free: once more without them
            retry, again = run_model(name, args.size, args.timeout, {"TF_ENABLE_ONEDNN_OPTS": "0"})
            for r in retry:
                r["warnings"] = "; ".join(filter(None, [r["warnings"], "TF_ENABLE_ONEDNN_OPTS=0 (retry)"]))
            rows, crash = retry, again and f"{again} (retry with TF_ENABLE_ONEDNN_OPTS=0; first try: {crash})"
        rows = complete(name, rows, crash)
        for r in rows:
            print(text_row(cells(r)), flush=True)
        table += rows

    failures = [r for r in table if r["error"]]
    print(f"\n{len(failures)} FAILED of {len(table)} rows", flush=True)
    for r in failures:
        print(f"  {r['model']} / {r['step']}: {r['error']}")
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(markdown(table))


if __name__ == "__main__":
    main()
