"""report.compare: its table holds what the metrics give for each method's maps, and exact maps
of a linear model come out on top."""
import numpy as np
import pytest

from deepexplain_ng import DeepExplain, ExplainError, metrics, report
from builders import samples
from test_metrics import _linear_images


def test_table_holds_each_metric_of_each_method(tmp_path):
    session, x, t, w = _linear_images(seed=190)
    xs = samples((5, 6, 6, 2), seed=191)
    ys = np.zeros(5, int)
    options = {"mu_fidelity": {"grid_size": 3, "samples": 32, "seed": 0}, "deletion": {"steps": 6}}
    with DeepExplain(session=session) as de:
        table = report.compare(de, t, x, xs, ys, methods=["saliency", ("grad*input", {})],
                               metrics=["deletion", "mu_fidelity", "sparseness"], metric_options=options,
                               path=tmp_path / "compare.png")
        maps = de.explain("saliency", t, x, xs, ys=ys)
        auc, curve = metrics.deletion(de, t, x, xs, maps, ys=ys, steps=6)
    saliency, exact = table.rows
    np.testing.assert_allclose(saliency["metrics"]["deletion"], (auc.mean(), auc.std()), rtol=1e-12)
    np.testing.assert_allclose(table.curves["saliency"]["deletion"], curve, rtol=1e-12)
    np.testing.assert_allclose(table.scores["saliency"]["sparseness"], metrics.sparseness(maps), rtol=1e-12)
    # grad*input is exact on a linear model: MuFidelity 1, and the lowest deletion AUC
    np.testing.assert_allclose(table.scores["grad*input"]["mu_fidelity"], 1.0, atol=1e-6)
    assert exact["metrics"]["deletion"][0] < saliency["metrics"]["deletion"][0]
    lines = table.to_markdown().splitlines()
    assert len(lines) == 4 and lines[0].startswith("| method | seconds | deletion ↓ | mu_fidelity ↑")
    assert (tmp_path / "compare.png").stat().st_size > 10_000


def test_unknown_names_fail_before_any_work():
    session, x, t, _ = _linear_images(seed=192)
    with DeepExplain(session=session) as de:
        before = len(session.graph.get_operations())
        with pytest.raises(ExplainError, match="metrics"):
            report.compare(de, t, x, samples((2, 6, 6, 2)), metrics=["deletion", "fidelity"])
        with pytest.raises(ExplainError, match="gradcam|method"):
            report.compare(de, t, x, samples((2, 6, 6, 2)), methods=["saliency", "gradcam++x"])
        assert len(session.graph.get_operations()) == before
