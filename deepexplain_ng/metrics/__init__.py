"""Which explanation to trust: faithfulness and complexity metrics of attribution maps.

    from deepexplain_ng import metrics
    auc, curve = metrics.deletion(de, logits, X, xs, attributions, ys=labels, steps=20)
"""
from .complexity import complexity, sparseness
from .fidelity import (average_drop, average_gain, average_increase, deletion, infidelity, insertion,
                       mu_fidelity, sensitivity_n)
from .randomization import model_randomization
from .robustness import average_stability, max_sensitivity, random_logit

__all__ = ["deletion", "insertion", "mu_fidelity", "infidelity", "sensitivity_n", "average_drop",
           "average_increase", "average_gain", "complexity", "sparseness", "max_sensitivity",
           "average_stability", "random_logit", "model_randomization"]
