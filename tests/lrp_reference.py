"""zennit's LRP rules written out term by term in float64 numpy (no TensorFlow, no library).

A linear layer is a matrix M (inputs x outputs, per sample) and a bias per output; a convolution
becomes its matrix by convolving basis images. Every rule then works on the contributions
``z_ij = x_i M_ij`` of one sample, as in the LRP papers.
"""
import numpy as np

import reference as ref

EPS = 1e-6


def stab(z, eps=EPS):
    return z + eps * np.where(z >= 0, 1.0, -1.0)


def conv_matrix(kernel, in_shape, padding):
    """(in_size, out_size) matrix of a stride-1 NHWC convolution on inputs of ``in_shape``."""
    size = int(np.prod(in_shape))
    basis = np.eye(size).reshape((size,) + tuple(in_shape))
    return ref.conv_forward(basis, kernel, None, padding).reshape(size, -1)


def linear_rule(x, M, b, R, rule, low=None, high=None):
    """Relevance of the layer's inputs ``x`` (n, in) from ``R`` (n, out); ``b`` (out,)."""
    out = []
    for xi, Ri in zip(x, R):
        z = xi[:, None] * M                      # contributions (in, out)
        if rule[0] == "epsilon":
            terms, den = z, z.sum(0) + b
            den = stab(den, rule[1])
        elif rule[0] == "zplus":
            terms = np.maximum(z, 0)
            den = stab(terms.sum(0) + np.maximum(b, 0))
        elif rule[0] == "alpha_beta":
            alpha, beta = rule[1], rule[2]
            pos, neg = np.maximum(z, 0), np.minimum(z, 0)
            out.append((alpha * pos / stab(pos.sum(0) + np.maximum(b, 0))
                        - beta * neg / stab(neg.sum(0) + np.minimum(b, 0))) @ Ri)
            continue
        elif rule[0] == "gamma":
            gamma = rule[1]
            zj = z.sum(0) + b
            up = z + gamma * np.maximum(z, 0)
            down = z + gamma * np.minimum(z, 0)
            share = np.where(zj > 0, up / stab(up.sum(0) + b + gamma * np.maximum(b, 0)), 0) + \
                np.where(zj < 0, down / stab(down.sum(0) + b + gamma * np.minimum(b, 0)), 0)
            out.append(share @ Ri)
            continue
        elif rule[0] == "zbox":
            terms = z - low[:, None] * np.maximum(M, 0) - high[:, None] * np.minimum(M, 0)
            den = stab(terms.sum(0))
        elif rule[0] == "flat":
            terms = (M != 0).astype(float)
            den = stab(terms.sum(0))
        else:
            raise ValueError(rule)
        out.append((terms / den) @ Ri)
    return np.array(out)


def norm_rule(x, backward, y, R):
    """zennit's Norm at a linear pooling: R_i = x_i * backward(R / stab(y))."""
    return x * backward(R / stab(y))
