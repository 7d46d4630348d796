"""The registry of explanation methods: one name, one Explainer class."""
from ..errors import ExplainTypeError, ExplainValueError
from .base import Explainer
from .cams import FEM, GradCAM, GradCAMPlusPlus, GuidedGradCAM
from .coalitions import FeatureAblation, FeaturePermutation, KernelShap, Lime
from .conductance import Conductance
from .fullgrad import FullGrad
from .gradient import GradientXInput, Saliency, Zero
from .integrated import IntegratedGradients
from .lrp import LRP
from .rise import Rise
from .shapley import ShapleySampling
from .sensitivity import Hsic, Sobol
from .guided import Deconvnet, GuidedBackprop
from .perturbation import Occlusion
from .rule_based import DeepLIFT, DeepLIFTShap, EpsilonLRP
from .sampled import ExpectedGradients, GradientShap, NoiseTunnel, SmoothGradSquared, VarGrad

METHODS = {cls.name: cls for cls in (Zero, Saliency, GradientXInput, IntegratedGradients, EpsilonLRP, DeepLIFT,
                                     Occlusion, ShapleySampling, GuidedBackprop, Deconvnet, NoiseTunnel,
                                     SmoothGradSquared, VarGrad, ExpectedGradients, GradientShap, DeepLIFTShap, GradCAM,
                                     GradCAMPlusPlus, GuidedGradCAM, FEM, FullGrad, Conductance, LRP,
                                     FeatureAblation, KernelShap, Lime, Rise, FeaturePermutation, Sobol, Hsic)}


def method_class(name):
    """The Explainer class registered under ``name``."""
    if not isinstance(name, str):
        raise ExplainTypeError(f"method must be a string, one of {sorted(METHODS)}; got {type(name).__name__}.")
    try:
        return METHODS[name]
    except KeyError:
        raise ExplainValueError(f"unknown method '{name}'; available: {', '.join(METHODS)}.") from None


__all__ = ["Explainer", "METHODS", "method_class"]
