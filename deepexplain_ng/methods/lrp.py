"""Layer-wise relevance propagation with zennit's rules and composites (``lrp``)."""
import numbers

import numpy as np
import tensorflow as tf

from ..errors import ExplainOptionError, ExplainTypeError, ExplainValueError
from ..lrp_rules import CONVOLUTIONS, FOLDED, LINEAR_LAYERS, NORMALISED, Layer, normalised, relevance
from ..op_classes import op_class
from ..overrides import active_rule
from ..rules import original_gradient
from .gradient import GradientExplainer

RULES = ("epsilon", "zplus", "alpha_beta", "gamma")
COMPOSITES = ("epsilon_plus", "epsilon_plus_flat", "epsilon_gamma_box")
_BATCH_NORMS = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")


def _number(name, value, minimum=0.0, strict=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ExplainTypeError(f"{name} must be a finite number, got {value!r}.")
    if value < minimum or (strict and value == minimum):
        raise ExplainOptionError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}.")
    return float(value)


def _per_channel(tensor, channels):
    """Whether ``tensor`` is a scalar or one value per channel (broadcasting along the last axis)."""
    shape = tensor.shape.as_list() if tensor.shape.rank is not None else None
    if shape is None:
        return False
    return not shape or (all(d == 1 for d in shape[:-1]) and shape[-1] in (1, channels))


def _passes(op, varying):
    """Activations and elementwise affine ops of one X-dependent tensor: relevance passes."""
    if len(varying) != 1 or not (op.type in FOLDED or op_class(op, varying) == "elementwise"):
        return False
    a, b = op.inputs[varying[0]].shape, op.outputs[0].shape
    return a.rank is not None and a.rank == b.rank and all(
        x is None or y is None or x == y for x, y in zip(a.as_list(), b.as_list()))


class LRP(GradientExplainer):
    """Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019) in zennit's
    conventions: relevance starts at ``T * ys`` (the target's value), passes unchanged through
    activations, is split in proportion to the inputs at sums and average pools, goes to the
    winner at max-pools, and is redistributed at every linear layer (MatMul, Conv2D,
    DepthwiseConv2dNative) by the layer's rule. Biases, per-channel scales and batch norm in
    inference mode after a linear layer are folded into it first (zennit's canonizer; the
    graph is not changed). Result: the relevance of each input feature, shaped like X (no
    multiplication by the input: the rules include it).

    Options:
        rule="epsilon": ``"epsilon"`` (``epsilon=1e-6``, ``z + eps sign z`` at every linear
            layer), ``"zplus"`` (alpha 1 beta 0), ``"alpha_beta"`` (``alpha=2``, ``beta=1``,
            alpha - beta = 1), ``"gamma"`` (``gamma=0.25``) at every linear layer; or a zennit
            composite: ``"epsilon_plus"`` (z+ at convolutions, epsilon at dense layers),
            ``"epsilon_plus_flat"`` (the same, with the flat rule at the first linear layer)
            or ``"epsilon_gamma_box"`` (the box rule with ``low``, ``high`` at the first
            convolution, gamma at the others, epsilon at dense layers).
        low, high: the box rule's bounds of the first convolution's input (scalars, or arrays
            broadcasting against one sample, e.g. per channel).
    """

    name = "lrp"
    options = {"rule": "epsilon", "epsilon": 1e-6, "alpha": 2.0, "beta": 1.0, "gamma": 0.25,
               "low": None, "high": None}
    rule_based = True
    exact_classes = frozenset({"affine", "elementwise", "max"})
    marked_types = LINEAR_LAYERS | FOLDED | NORMALISED

    def validate(self, params):
        if params["rule"] not in RULES + COMPOSITES:
            raise ExplainValueError(f"rule: expected one of {list(RULES + COMPOSITES)}, got {params['rule']!r}.")
        params["epsilon"] = _number("epsilon", params["epsilon"])
        params["gamma"] = _number("gamma", params["gamma"])
        params["alpha"] = _number("alpha", params["alpha"])
        params["beta"] = _number("beta", params["beta"])
        if abs(params["alpha"] - params["beta"] - 1) > 1e-12:
            raise ExplainOptionError(f"alpha - beta must be 1 (relevance is conserved), got alpha={params['alpha']}, "
                                     f"beta={params['beta']}.")
        if params["rule"] == "epsilon_gamma_box":
            for key in ("low", "high"):
                if params[key] is None:
                    raise ExplainValueError(f"rule 'epsilon_gamma_box' needs {key}=: the {'lowest' if key == 'low' else 'highest'} "
                                            "value the first convolution's input can take (e.g. 0 and 1 for images in [0, 1]).")
                value = np.asarray(params[key], np.float64)
                if not np.all(np.isfinite(value)):
                    raise ExplainValueError(f"{key} must be finite, got {params[key]!r}.")
            if np.any(np.asarray(params["low"], np.float64) > np.asarray(params["high"], np.float64)):
                raise ExplainValueError("low must not exceed high.")
        return params

    # -- the plan: layers, what is folded into them, which come first ---------------------------
    def _check_inputs(self):
        on_path = {op.name for op in self.path}
        self._on_path = on_path
        self.layers = {}    # linear op name -> (op, folded ops, output tensor)
        self.folded = set()
        for op in self.path:
            if op.type in LINEAR_LAYERS and self.varying.get(op.name) == [0]:
                chain, output = self._fold_after(op)
                self.layers[op.name] = (op, chain, output)
                self.folded.update(c.name for c in chain)
        self.first = self._first(lambda op: op.name in self.layers)
        self.first_convolutions = self._first(lambda op: op.name in self.layers and op.type in CONVOLUTIONS)

    def _consumers(self, tensor):
        return [c for c in tensor.consumers() if c.name in self._on_path]

    def _fold_after(self, op):
        chain, tensor = [], op.outputs[0]
        channels = tensor.shape.as_list()[-1] if tensor.shape.rank else None
        while True:
            consumers = self._consumers(tensor)
            if len(consumers) != 1 or consumers[0].type not in FOLDED:
                return chain, tensor
            c = consumers[0]
            varying = self.varying.get(c.name, [])
            if len(varying) != 1 or c.inputs[varying[0]] is not tensor:
                return chain, tensor
            index = varying[0]
            if c.type == "BiasAdd" and c.get_attr("data_format") != b"NHWC":
                return chain, tensor
            if c.type == "Sub" and index != 0:
                return chain, tensor
            if c.type == "Mul" and not _per_channel(c.inputs[1 - index], channels):
                return chain, tensor
            if c.type in _BATCH_NORMS and (c.get_attr("is_training") or c.get_attr("data_format") != b"NHWC"):
                return chain, tensor
            chain.append(c)
            tensor = c.outputs[0]

    def _first(self, stops):
        """The ops satisfying ``stops`` reached first from X along the path."""
        found, seen = set(), set()
        frontier = [c for x in self.inputs for c in self._consumers(x)]
        while frontier:
            op = frontier.pop()
            if op.name in seen:
                continue
            seen.add(op.name)
            if stops(op):
                found.add(op.name)
                continue
            frontier.extend(c for out in op.outputs for c in self._consumers(out))
        return found

    def _rule_of(self, op):
        params, name = self.params, self.params["rule"]
        dense = op.type not in CONVOLUTIONS
        epsilon = ("epsilon", params["epsilon"])
        if name == "epsilon":
            return epsilon
        if name == "zplus":
            return ("zplus",)
        if name == "alpha_beta":
            return ("alpha_beta", params["alpha"], params["beta"])
        if name == "gamma":
            return ("gamma", params["gamma"])
        if name == "epsilon_plus_flat" and op.name in self.first:
            return ("flat",)
        if name == "epsilon_gamma_box":
            if op.name in self.first_convolutions:
                return ("zbox", np.asarray(params["low"]), np.asarray(params["high"]))
            return epsilon if dense else ("gamma", params["gamma"])
        return epsilon if dense else ("zplus",)  # epsilon_plus(_flat)

    # -- the backward rule ----------------------------------------------------------------------
    def _layer(self, op):
        _, chain, output = self.layers[op.name]
        scale = bias = None
        for c in chain:
            index = self.varying[c.name][0]
            other = c.inputs[1 - index] if c.type not in _BATCH_NORMS else None
            if c.type in ("BiasAdd", "Add", "AddV2"):
                bias = other if bias is None else bias + other
            elif c.type == "Sub":
                bias = -other if bias is None else bias - other
            elif c.type == "Mul":
                factor = tf.reshape(other, [-1]) if other.shape.rank else other
                scale = factor if scale is None else scale * factor
                bias = None if bias is None else bias * factor
            else:  # batch norm in inference mode: y = (x - mean) * gamma / sqrt(var + eps) + beta
                _, gamma, beta, mean, variance = c.inputs[:5]
                factor = gamma * tf.math.rsqrt(variance + c.get_attr("epsilon"))
                scale = factor if scale is None else scale * factor
                bias = (beta - mean * factor) if bias is None else (bias - mean) * factor + beta
        if scale is not None and scale.shape.rank == 0:
            scale = scale + tf.zeros([output.shape.as_list()[-1]], scale.dtype)
        return Layer(op, output, scale, bias)

    def rule(self):
        def lrp_rule(op, grad, *other_outputs):  # batch norm has several outputs; y is the first
            varying = self.varying.get(op.name, [])
            if op.name in self.layers:
                return [relevance(self._layer(op), grad, self._rule_of(op))] + [None] * (len(op.inputs) - 1)
            if op.name in self.folded or _passes(op, varying):
                # relevance passes unchanged (zennit's Pass at activations; folded affine ops)
                return [grad if i == varying[0] else None for i in range(len(op.inputs))]
            if op.type in NORMALISED and varying and (op.type not in ("Add", "AddV2") or len(varying) == 2):
                return normalised(op, grad, varying)
            return original_gradient(op, grad, *other_outputs)
        lrp_rule.multi_output = True
        return lrp_rule

    def _build(self):
        with active_rule(self.graph, self.rule()):
            # relevance starts at the target's value: T * ys
            gradients = tf.gradients(self.target, self.inputs, grad_ys=self.target * self.weights)
        self._check_connected([g is not None for g in gradients])
        self.gradients = gradients

    def _explain(self, xs, weights, rows, context, extra):
        return self.gradients_at(xs, weights, extra)
