"""The main demo (`make demo`): every method on the same digits, side by side.

Trains the digits CNN once (built inside the DeepExplain context, DeepExplain's Option 1),
explains a few test digits for their true class with every registered method and writes
<out>/compare_methods.png (red: evidence for the class, blue: against), printing each
method's run time.

    python examples/compare_methods.py --out out
"""
import os
import time

from common import parse_args

from deepexplain_ng import DeepExplain, available_methods  # noqa: E402
from deepexplain_ng.plot import compare  # noqa: E402
from digits_model import build_and_train, describe, titles  # noqa: E402


def method_options(background):
    """Each method's options, in the picture's column order (names not registered are skipped);
    ``background``: digits for the expectation methods' baselines."""
    return {
        "saliency": {},
        "grad*input": {},
        "intgrad": {"steps": 100},
        "elrp": {},
        "deeplift": {},
        "occlusion": {"window_shape": (2, 2, 1)},
        "shapley_sampling": {"samples": 20, "sampling_dims": [1, 2], "seed": 0},
        "guided_backprop": {},
        "deconvnet": {},
        "smoothgrad": {"samples": 50, "seed": 0},
        "smoothgrad_sq": {"samples": 50, "seed": 0},
        "vargrad": {"samples": 50, "seed": 0},
        "expected_gradients": {"samples": 100, "seed": 0, "baselines": background},
        "gradient_shap": {"samples": 100, "seed": 0, "stdev": 0.05, "baselines": background},
        "deeplift_shap": {"baselines": background[:20]},
        "gradcam": {},
        "gradcam_plus_plus": {},
        "guided_gradcam": {},
        "fem": {},
        "fullgrad": {},
        "lrp": {"rule": "epsilon_plus"},
        "feature_ablation": {"feature_mask": "grid", "cell": 2},
        "kernel_shap": {"feature_mask": "grid", "cell": 2, "samples": 512, "seed": 0},
        "lime": {"feature_mask": "grid", "cell": 2, "samples": 512, "seed": 0},
        "rise": {"samples": 2000, "grid_size": 4, "seed": 0},
        "feature_permutation": {"feature_mask": "grid", "cell": 2, "seed": 0},
        "sobol": {"grid_size": 4, "samples": 32},
        "hsic": {"grid_size": 4, "samples": 256},
        "conductance": {"layer": "conv1", "steps": 50},  # (n, 8, 8, 16): summed over channels below
    }


def main():
    args = parse_args(__doc__.splitlines()[0])
    model = build_and_train(de_context_fn=lambda sess: DeepExplain(session=sess))
    describe(model)
    xs, labels = model.test_images[:args.samples], model.test_labels[:args.samples]
    options_by_method = method_options(model.test_images[100:200])  # not the explained digits
    registered = available_methods()
    skipped = [m for m in options_by_method if m not in registered]
    if skipped:
        print(f"not registered, skipped: {', '.join(skipped)}")
    results = {}
    with DeepExplain(session=model.sess) as de:
        for method, options in options_by_method.items():
            if method not in registered:
                continue
            start = time.perf_counter()
            result = de.explain(method, model.logits, model.X, xs, ys=labels, **options)
            results[method] = result.sum(axis=-1) if method == "conductance" else result
            print(f"{method:>16}: {time.perf_counter() - start:6.3f} s for {len(xs)} digits")
    path = os.path.join(args.out, "compare_methods.png")
    compare(xs, results, titles=titles(labels), path=path)
    print(f"wrote {os.path.abspath(path)}")


if __name__ == "__main__":
    main()
