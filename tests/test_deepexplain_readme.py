"""Every usage example of DeepExplain's README, written as a DeepExplain user wrote it (only the
import lines changed), run in its own process and checked against numpy.

The scenarios are the scripts in ``tests/deepexplain_readme/`` (one per README section); each
runs under both ways of putting TF in graph mode, ``tf.compat.v1.disable_v2_behavior()`` and
``tf.compat.v1.disable_eager_execution()`` (process-global, hence the subprocesses). A script
records every call's result or exception and prints one JSON line; the tests recompute the
numbers in float64 numpy from the weights the script fetched with ``sess.run``:

1. raw TF1, model built and trained inside the context (README Option 1)
2. raw TF1, model built and trained before the context (Option 2), also rebuilt inside it
3. ``ys=ys`` vs the masked target ``T * ys``, every method, with and without ``batch_size``
4. tf_keras Sequential trained with fit, in ``keras_session()``
5. the Explainer API: 100 ``explainer.run`` calls add no ops
6. NLP: attributions of the embedding lookup's output; integer ids as X are refused
7. multiple inputs: lists for gradient methods; perturbation methods refuse them

The selected scripts start together, a few processes at a time, when the first test needs one.

Tolerances come from float32 conditioning: TF computes in float32 (unit roundoff 6e-8) through
a few layers of a few dozen units, so errors reach about 1e-6 of the largest value involved;
the checks allow ``RTOL = 1e-4`` of that scale, never exact equality across batch shapes.
"""
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.examples  # subprocesses: run once, in the main run

SCRIPTS = Path(__file__).resolve().with_name("deepexplain_readme")
MODES = ["disable_v2_behavior", "disable_eager_execution"]
METHODS = ["saliency", "grad*input", "intgrad", "elrp", "deeplift", "occlusion", "shapley_sampling"]
GRADIENT_METHODS = METHODS[:5]
WORKERS = min(4, (os.cpu_count() or 1) + 1)
RTOL = 1e-4
EPSILON = 1e-4   # DeepExplain's (and deepexplain_ng's) default epsilon of elrp
STEPS = 100      # default steps of intgrad


# -- running the scenario scripts ------------------------------------------------------------------
def scenario(name):
    """Mark a test as reading the results of ``deepexplain_readme/<name>.py``."""
    def mark(function):
        function.scenario = name
        return function
    return mark


def _run(name, mode):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), mode], capture_output=True, text=True,
                          timeout=300, cwd=SCRIPTS,
                          env=dict(os.environ, DEEPEXPLAIN_NG_PROGRESS="0", TF_CPP_MIN_LOG_LEVEL="2"))
    return done, time.perf_counter() - start


@pytest.fixture(scope="module")
def runs(request):
    selected = {(item.function.scenario, item.callspec.params["mode"]) for item in request.session.items
                if item.path == Path(__file__) and hasattr(getattr(item, "function", None), "scenario")
                and hasattr(item, "callspec") and "mode" in item.callspec.params}
    with ThreadPoolExecutor(WORKERS) as pool:
        # the slowest (tf_keras) first, so that the last process to finish is a short one
        futures = {key: pool.submit(_run, *key) for key in sorted(selected, key=lambda k: (k[0] != "s4_keras", k))}
        yield futures


_REPORTED = set()


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


@pytest.fixture
def readme(request, runs, mode):
    """The JSON result of this test's scenario script in this mode (the script exited with 0)."""
    name = request.function.scenario
    done, seconds = runs[name, mode].result()
    assert done.returncode == 0, f"{name}.py {mode} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    if (name, mode) not in _REPORTED:
        _REPORTED.add((name, mode))
        print(f"{name}.py {mode}: {seconds:.1f} s")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- reading the recorded results ---------------------------------------------------------------------
def describe(error):
    """The exception's type and the informative lines of its message (TF's are long)."""
    lines = error["message"].strip().splitlines()
    keep = [lines[0]] + [line.strip() for line in lines[1:]
                         if line.startswith(("Detected at node", "Node:")) or "Incompatible" in line
                         or "must" in line]
    return f"{error['type']}: " + " | ".join(keep)[:600]


def value(entry, what):
    """The recorded value (float64 array, or list of arrays) or a test failure naming the exception."""
    if "error" in entry:
        pytest.fail(f"{what} raised {describe(entry['error'])}", pytrace=False)
    if entry["kind"] == "list":
        return [np.array(v, np.float64) for v in entry["value"]]
    return np.array(entry["value"], np.float64)


def mismatch(actual, expected, what, scale=None, rtol=RTOL):
    """A message if ``actual`` is not ``expected`` within ``rtol * scale`` (default: max |expected|), else None."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return f"{what}: shape {actual.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(actual)):
        return f"{what}: non-finite values {actual}"
    scale = max(float(np.abs(expected).max()) if scale is None else float(scale), 1e-12)
    error = float(np.abs(actual - expected).max())
    if error > rtol * scale:
        return (f"{what}: max |difference| {error:.3g} > {rtol:g} * {scale:.3g}\nactual\n{actual}\n"
                f"expected\n{expected}")
    return None


def assert_close(actual, expected, what, scale=None, rtol=RTOL):
    problem = mismatch(actual, expected, what, scale, rtol)
    assert problem is None, problem


# -- numpy references (float64) -----------------------------------------------------------------------
def relu(z):
    return np.maximum(z, 0)


def layers_of(params, bias=True):
    """[W1, b1, W2, b2, ...] (or [W1, W2, ...] without biases) -> [(W, b or None), ...] in float64."""
    params = [np.array(p, np.float64) for p in params]
    return list(zip(params[::2], params[1::2])) if bias else [(w, None) for w in params]


def forward(x, layers):
    """Pre-activations of the hidden layers and the output of a dense ReLU network."""
    zs, h = [], np.asarray(x, np.float64)
    for i, (w, b) in enumerate(layers):
        z = h @ w + (0 if b is None else b)
        if i == len(layers) - 1:
            return zs, z
        zs.append(z)
        h = relu(z)


def score(x, layers, ys):
    """S(x) = sum(T(x) * ys) per sample."""
    return np.sum(forward(x, layers)[1] * ys, axis=1)


def gradient_rule(z, z_ref):
    return (z > 0).astype(np.float64)


def epsilon_rule(z, z_ref, epsilon=EPSILON):
    return relu(z) / (z + epsilon * np.where(z >= 0, 1.0, -1.0))


def rescale_rule(z, z_ref):
    dz = z - z_ref
    far = np.abs(dz) > 1e-12
    return np.where(far, (relu(z) - relu(z_ref)) / np.where(far, dz, 1.0), z > 0)


def backprop(x, layers, ys, rule=gradient_rule, absolute=False):
    """dS/dx with ``rule(z, z_at_zero_input)`` as the derivative of each ReLU (chain rule of ``rule``)."""
    zs, _ = forward(x, layers)
    zs_ref, _ = forward(np.zeros_like(np.asarray(x, np.float64)), layers)
    g = np.asarray(ys, np.float64)
    for i in reversed(range(len(layers))):
        if i < len(layers) - 1:
            g = g * rule(zs[i], zs_ref[i])
        w = layers[i][0]
        g = g @ (np.abs(w) if absolute else w).T
    return g


def occlusion_reference(x, layers, ys):
    """S(x) - S(x with feature i set to 0), each feature alone (window 1)."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    for i in range(x.shape[1]):
        occluded = x.copy()
        occluded[:, i] = 0
        out[:, i] = score(x, layers, ys) - score(occluded, layers, ys)
    return out


def reference(method, x, layers, ys):
    """numpy attributions of ``method`` (shapley_sampling: None, it is random; its sums are checked)."""
    x = np.asarray(x, np.float64)
    if method == "saliency":
        return np.abs(backprop(x, layers, ys))
    if method == "grad*input":
        return x * backprop(x, layers, ys)
    if method == "intgrad":   # the same right Riemann sum, alpha = k / steps, k = 1..steps
        return x * np.mean([backprop(k / STEPS * x, layers, ys) for k in range(1, STEPS + 1)], axis=0)
    if method == "elrp":
        return x * backprop(x, layers, ys, epsilon_rule)
    if method == "deeplift":
        return x * backprop(x, layers, ys, rescale_rule)
    if method == "occlusion":
        return occlusion_reference(x, layers, ys)
    return None


def delta(x, layers, ys):
    """S(x) - S(0) and the scale of the values it is the difference of."""
    s_x, s_0 = score(x, layers, ys), score(np.zeros_like(np.asarray(x, np.float64)), layers, ys)
    return s_x - s_0, np.maximum(np.abs(s_x), np.abs(s_0))


def method_problems(method, attributions, x, layers, ys, what):
    """Messages for every way ``attributions`` of ``method`` disagree with numpy (empty if none)."""
    x = np.asarray(x, np.float64)
    problems = []
    expected = reference(method, x, layers, ys)
    differences, magnitudes = delta(x, layers, ys)
    if expected is not None:
        scale = np.abs(expected).max()
        if method == "occlusion":   # differences of two float32 scores
            scale = max(scale, magnitudes.max())
        problems.append(mismatch(attributions, expected, f"{what} vs numpy", scale))
    if method in ("deeplift", "shapley_sampling"):   # exact summation-to-delta / efficiency
        scale = max(magnitudes.max(), np.abs(attributions).sum(axis=1).max())
        problems.append(mismatch(attributions.sum(axis=1), differences, f"{what}: sum vs S(x) - S(0)", scale))
    if method == "intgrad":   # completeness up to the Riemann sum's error (~ gradient jumps at kinks / steps)
        scale = max(magnitudes.max(), np.abs(attributions).sum(axis=1).max())
        problems.append(mismatch(attributions.sum(axis=1), differences, f"{what}: sum vs S(x) - S(0)", scale,
                                 rtol=0.05))
    if method == "saliency" and np.any(attributions < 0):
        problems.append(f"{what}: negative saliency")
    return [p for p in problems if p]


def check_method(method, entry, x, layers, ys, what):
    problems = method_problems(method, value(entry, what), x, layers, ys, what)
    assert not problems, "\n".join(problems)


# -- 1. raw TF1, README Option 1: model built and trained inside the context ----------------------------------
@scenario("s1_tf_option1")
def test_option1_model_trains_inside_the_context(readme):
    losses = readme["losses"]
    assert losses[-1] < 0.9 * losses[0], losses   # the overridden ReLU gradients train normally
    xs = np.array(readme["xs"])
    for name, bias in [("mlp", True), ("nobias", False), ("linear", True)]:
        layers = layers_of(readme["weights"][name], bias)
        # the references see the network TF runs
        assert_close(readme["logits"][name], forward(xs, layers)[1], f"{name} logits")


@scenario("s1_tf_option1")
@pytest.mark.parametrize("method", METHODS)
def test_option1_every_method_matches_numpy(readme, method):
    layers = layers_of(readme["weights"]["mlp"])
    check_method(method, readme["mlp"][method], readme["xs"], layers, readme["ys"], method)


@scenario("s1_tf_option1")
def test_option1_elrp_is_grad_input_on_a_bias_free_relu_net(readme):
    xs, ys = np.array(readme["xs"], np.float64), np.array(readme["ys"])
    layers = layers_of(readme["weights"]["nobias"], bias=False)
    grad_input = value(readme["nobias"]["grad*input"], "grad*input (bias-free)")
    elrp = value(readme["nobias"]["elrp"], "elrp (bias-free)")
    expected = xs * backprop(xs, layers, ys)
    assert_close(grad_input, expected, "grad*input (bias-free) vs numpy")
    assert_close(elrp, xs * backprop(xs, layers, ys, epsilon_rule), "elrp (bias-free) vs numpy epsilon rule")
    # epsilon makes each active ReLU's factor z / (z + eps): relative change <= eps / min active z per layer
    zs, _ = forward(xs, layers)
    active = np.concatenate([z[z > 0] for z in zs])
    bound = len(zs) * EPSILON / active.min()
    path_scale = np.abs(xs * backprop(xs, layers, ys, absolute=True)).max()
    assert_close(elrp, expected, "elrp vs grad*input (bias-free)", scale=path_scale, rtol=RTOL + bound)


@scenario("s1_tf_option1")
def test_option1_occlusion_and_shapley_on_a_linear_model_are_w_times_x(readme):
    xs, ys = np.array(readme["xs"], np.float64), np.array(readme["ys"])
    w, b = layers_of(readme["weights"]["linear"])[0]
    expected = xs * (ys @ w.T)   # w_c * x for each sample's class c
    magnitudes = np.abs(xs @ w + b).max()
    problems = []
    for method in ("grad*input", "occlusion", "shapley_sampling"):
        attributions = value(readme["linear"][method], f"{method} (linear)")
        problems.append(mismatch(attributions, expected, f"{method} (linear) vs w * x",
                                 scale=max(np.abs(expected).max(), magnitudes)))
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


@scenario("s1_tf_option1")
def test_option1_zero_method(readme):
    assert readme["zero_available"], "DeepExplain's 'zero' method is not registered"
    zero = value(readme["zero"], "zero")
    assert zero.shape == np.shape(readme["xs"]) and np.all(zero == 0)


# -- 2. raw TF1, README Option 2: model built and trained before the context -----------------------------------
@scenario("s2_tf_option2")
def test_option2_model_trained_before_the_context(readme):
    assert readme["losses"][-1] < 0.9 * readme["losses"][0], readme["losses"]
    assert_close(readme["logits"]["mlp"], forward(readme["xs"], layers_of(readme["weights"]["mlp"]))[1], "logits")


@scenario("s2_tf_option2")
@pytest.mark.parametrize("method", METHODS)
def test_option2_every_method_matches_numpy(readme, method):
    layers = layers_of(readme["weights"]["mlp"])
    problems = []
    for variant, what in [("mlp", "built before the context"), ("rebuilt", "rebuilt inside the context")]:
        entry = readme[variant][method]
        if "error" in entry:
            problems.append(f"{method} ({what}) raised {describe(entry['error'])}")
            continue
        problems += method_problems(method, value(entry, method), readme["xs"], layers, readme["ys"],
                                    f"{method} ({what})")
    assert not problems, "\n".join(problems)


# -- 3. ys=ys vs the masked target T * ys -----------------------------------------------------------------------
@scenario("s3_masked_target")
@pytest.mark.parametrize("method", METHODS)
def test_masked_target_gives_the_numbers_of_ys(readme, method):
    xs, ys = np.array(readme["xs"]), np.array(readme["ys"])
    layers = layers_of(readme["weights"])
    runs = readme[method]
    base = value(runs["ys"], f"{method} ys=ys")
    problems = method_problems(method, base, xs, layers, ys, f"{method} ys=ys")
    scale = max(np.abs(base).max(), delta(xs, layers, ys)[1].max())
    for variant, what in [("masked", "T * ys"), ("ys_batch2", "ys=ys, batch_size=2"),
                          ("masked_batch2", "T * ys, batch_size=2")]:
        entry = runs[variant]
        if "error" in entry:
            problems.append(f"{method} with {what} raised {describe(entry['error'])}")
        else:
            problems.append(mismatch(value(entry, what), base, f"{method} with {what} vs ys=ys", scale))
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


# -- 4. tf_keras Sequential trained with fit, explained in keras_session() --------------------------------------
def _keras_layers(readme, name="mlp"):
    return layers_of(readme["weights"][name])


@scenario("s4_keras")
def test_keras_model_is_what_numpy_computes(readme):
    logits = forward(readme["xs"], _keras_layers(readme))[1]
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert_close(readme["predict"], softmax / softmax.sum(axis=1, keepdims=True), "model.predict")


@scenario("s4_keras")
@pytest.mark.parametrize("method", METHODS)
def test_keras_pre_softmax_target(readme, method):
    xs, ys = np.array(readme["xs"]), np.array(readme["ys"])
    layers = _keras_layers(readme)
    problems = []
    base = None
    for variant, what in [("mlp", "model.layers[-2].output, ys=ys"), ("masked", "model.layers[-2].output * ys"),
                          ("rebuilt", "Model(...)(input_tensor) rebuilt in the context, ys=ys")]:
        entry = readme[variant][method]
        if "error" in entry:
            problems.append(f"{method} ({what}) raised {describe(entry['error'])}")
            continue
        attributions = value(entry, what)
        problems += method_problems(method, attributions, xs, layers, ys, f"{method} ({what})")
        if base is None:
            base = attributions
        elif method == "shapley_sampling":   # same seed: the same orders, the same numbers
            problems.append(mismatch(attributions, base, f"{method} ({what}) vs the first variant",
                                     max(np.abs(base).max(), delta(xs, layers, ys)[1].max())))
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


@scenario("s4_keras")
def test_keras_linear_model_saliency_is_the_weight_row(readme):
    xs, ys = np.array(readme["xs"], np.float64), np.array(readme["ys"])
    w, b = _keras_layers(readme, "linear")[0]
    w_rows = ys @ w.T   # the weights of each sample's class
    assert_close(value(readme["linear"]["saliency"], "saliency (linear)"), np.abs(w_rows), "saliency == |W[:, c]|")
    assert_close(value(readme["linear"]["grad*input"], "grad*input (linear)"), xs * w_rows, "grad*input == x * W[:, c]")
    assert_close(value(readme["linear"]["occlusion"], "occlusion (linear)"), xs * w_rows, "occlusion == x * W[:, c]",
                 scale=max(np.abs(xs * w_rows).max(), np.abs(xs @ w + b).max()))


# -- 5. the Explainer API -------------------------------------------------------------------------------------
@scenario("s5_explainer_api")
def test_explainer_run_in_a_loop_adds_no_ops_and_equals_explain(readme):
    xs, ys = np.array(readme["xs"]), np.array(readme["ys"])
    loop = readme["explainer"]
    if "error" in loop:
        pytest.fail(f"the explainer loop raised {describe(loop['error'])}", pytrace=False)
    ops = loop["value"]["ops"]
    assert len(set(ops)) == 1, f"explainer.run added ops: counts went {ops[0]} -> {ops[-1]}"
    looped = np.array(loop["value"]["attributions"])
    expected = reference("saliency", xs, layers_of(readme["weights"]), ys)
    assert_close(looped, expected, "explainer.run x 100 vs numpy saliency")
    assert_close(looped, value(readme["explain"], "explain"), "explainer.run x 100 vs explain()",
                 scale=np.abs(expected).max())


@scenario("s5_explainer_api")
def test_repeated_explain_reuses_its_explainer(readme):
    loop = readme["normal"]
    if "error" in loop:
        pytest.fail(f"the explain() loop raised {describe(loop['error'])}", pytrace=False)
    ops = loop["value"]["ops"]
    assert len(set(ops)) == 1, f"explain() in a loop grew the graph: {ops}"
    expected = reference("saliency", np.array(readme["xs"])[:10], layers_of(readme["weights"]),
                         np.array(readme["ys"])[:10])
    assert_close(loop["value"]["attributions"], expected, "explain() x 10 vs numpy saliency")


# -- 6. NLP: explain the embedding lookup's output ------------------------------------------------------------
def _nlp_reference(readme, rule=gradient_rule):
    embedded = np.array(readme["embedding_out"], np.float64)
    n, length, dim = embedded.shape
    layers = layers_of(readme["weights"])
    flat = embedded.reshape(n, -1)
    return (flat * backprop(flat, layers, np.array(readme["ys"]), rule)).reshape(n, length, dim), flat, layers


@scenario("s6_nlp")
def test_nlp_word_attributions_from_the_embedding(readme):
    grad_input, flat, layers = _nlp_reference(readme)
    elrp_reference = _nlp_reference(readme, epsilon_rule)[0]
    assert np.shape(readme["embedding_out"]) == np.shape(readme["x_test"]) + (grad_input.shape[-1],)
    zs, _ = forward(flat, layers)
    bound = EPSILON / zs[0][zs[0] > 0].min()   # one ReLU layer between the embedding and the scores
    path_scale = np.abs(flat * backprop(flat, layers, np.array(readme["ys"]), absolute=True)).max()
    problems = []
    for key, what in [("elrp_masked", "de.explain('elrp', presoftmax * ys, embedding, embedding_out)"),
                      ("elrp_ys", "de.explain('elrp', presoftmax, embedding, embedding_out, ys=ys)")]:
        entry = readme[key]
        if "error" in entry:
            problems.append(f"{what} raised {describe(entry['error'])}")
            continue
        attributions = value(entry, what)
        problems.append(mismatch(attributions, elrp_reference, f"{what} vs numpy epsilon rule"))
        # per word: the sum over the embedding axis
        problems.append(mismatch(attributions.sum(-1), grad_input.sum(-1), f"{what}, per word, vs numpy grad*input",
                                 scale=max(np.abs(grad_input.sum(-1)).max(), path_scale), rtol=RTOL + bound))
    problems.append(mismatch(value(readme["grad_input_ys"], "grad*input on the embedding"), grad_input,
                             "grad*input on the embedding vs numpy"))
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


@scenario("s6_nlp")
@pytest.mark.parametrize("call", ["ids_as_input", "ids_as_input_ys"])
def test_nlp_token_ids_as_input_are_refused_with_advice(readme, call):
    outcome = readme[call]
    assert "error" in outcome, f"explaining w.r.t. the int32 token ids returned {outcome['no_error']}"
    error = outcome["error"]
    assert error["is_runtime_error"], f"not a RuntimeError (except RuntimeError misses it): {describe(error)}; " \
                                      f"bases {error['mro']}"
    assert "embedding" in error["message"].lower(), describe(error)


# -- 7. multiple inputs -----------------------------------------------------------------------------------------
@scenario("s7_multiple_inputs")
@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_multiple_inputs_gradient_methods_return_a_list(readme, method):
    xs1, xs2 = (np.array(x, np.float64) for x in readme["xs"])
    w1a, w1b, b1, w2, b2 = (np.array(w, np.float64) for w in readme["weights"])
    layers = [(np.vstack([w1a, w1b]), b1), (w2, b2)]   # the same network on the concatenated inputs
    joined = np.hstack([xs1, xs2])
    assert_close(readme["logits"], forward(joined, layers)[1], "logits")
    entry = readme["gradient"][method]
    attributions = value(entry, f"{method} with X = [x1, x2]")
    assert entry["kind"] == "list" and len(attributions) == 2, f"expected a list of 2 arrays, got {entry['kind']}"
    assert attributions[0].shape == xs1.shape and attributions[1].shape == xs2.shape
    problems = method_problems(method, np.hstack(attributions), joined, layers, np.array(readme["ys"]),
                               f"{method} [x1, x2]")
    assert not problems, "\n".join(problems)


@scenario("s7_multiple_inputs")
@pytest.mark.parametrize("method", ["occlusion", "shapley_sampling"])
def test_multiple_inputs_perturbation_methods_raise_runtime_error(readme, method):
    outcome = readme["perturbation"][method]
    assert "error" in outcome, f"{method} with X = [x1, x2] returned {outcome['no_error']}"
    error = outcome["error"]
    assert error["is_runtime_error"], f"not a RuntimeError (except RuntimeError misses it): {describe(error)}; " \
                                      f"bases {error['mro']}"
