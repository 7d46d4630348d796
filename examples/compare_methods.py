"""The main demo (`make demo`): every method on the same digits, side by side.

Trains the digits CNN once, explains a few test digits for their true class with each
registered method and writes out/compare_methods.png (red: evidence for the class, blue:
against), printing each method's run time.

    python examples/compare_methods.py --out out
"""
import time

from common import parse_args, save
from deepexplain_ng import DeepExplain, available_methods
from deepexplain_ng.plot import compare
from digits_model import build_and_train

#: options per method; methods not (yet) registered are skipped
METHOD_OPTIONS = {
    "saliency": {},
    "grad*input": {},
    "intgrad": {"steps": 100},
    "elrp": {},
    "deeplift": {},
    "occlusion": {"window_shape": (2, 2, 1)},
    "shapley_sampling": {"samples": 20, "sampling_dims": [1, 2], "seed": 0},
}


def main():
    args = parse_args(__doc__.splitlines()[0])
    model = build_and_train()
    print(f"digits CNN: test accuracy {model.accuracy:.3f}")
    xs, labels = model.test_images[:args.samples], model.test_labels[:args.samples]
    results = {}
    with DeepExplain(session=model.session) as de:
        for method, options in METHOD_OPTIONS.items():
            if method not in available_methods():
                continue
            start = time.perf_counter()
            results[method] = de.explain(method, model.logits, model.X, xs, ys=labels, **options)
            print(f"{method:>16}: {time.perf_counter() - start:6.3f} s for {len(xs)} digits")
    save(compare(xs, results, titles=[f"class {c}" for c in labels]), args.out, "compare_methods.png")


if __name__ == "__main__":
    main()
