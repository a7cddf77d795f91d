"""Stable primitives of the logistic loss, for float32 and float64 alike.

Each function keeps the dtype of its input and is finite for every finite
input, so the graph never produces ``inf`` or ``nan`` from a large logit.
"""
import math

import numba
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


# The loss and its derivative from the logit, written once as scalar formulas.
# Numba compiles each twice: as NumPy ufuncs (float32 and float64) for the
# graph's nodes, and as scalar functions for the compiled one-pass kernel.

def _loss_from_logit(z, y):
    """L(z, y) = log(1 + eᶻ) − y z = max(z, 0) + log(1 + e^−|z|) − y z."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z))) - y * z


def _dloss_dlogit(z, y):
    """dL/dz = σ(z) − y = a − y, with σ from e^−|z| so nothing overflows."""
    e = math.exp(-abs(z))
    r = 1.0 / (1.0 + e)
    a = r if z >= 0 else e * r  # a select, not a branch: signs of z are random
    return a - y


_UFUNC = dict(nopython=True, cache=True)
# float32 first: NumPy takes the first loop the inputs cast to safely.
_SIGNATURES = ["float32(float32, float32)", "float64(float64, float64)"]
#: Elementwise L(z, y) for arrays (a NumPy ufunc; dtype kept).
loss_from_logit = numba.vectorize(_SIGNATURES, **_UFUNC)(_loss_from_logit)
#: Elementwise dL/dz = a − y for arrays (a NumPy ufunc; dtype kept).
dloss_dlogit = numba.vectorize(_SIGNATURES, **_UFUNC)(_dloss_dlogit)
#: The same two formulas for one number at a time, inside compiled kernels.
loss_from_logit_scalar = numba.njit(cache=True, nogil=True)(_loss_from_logit)
dloss_dlogit_scalar = numba.njit(cache=True, nogil=True)(_dloss_dlogit)
