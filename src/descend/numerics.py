"""Stable primitives of the logistic loss, for float32 and float64 alike.

Each function keeps the dtype of its input and is finite for every finite
input, so the graph never produces ``inf`` or ``nan`` from a large logit.
"""
import math

import numba
import numpy as np
from scipy.special import expit

from .intrinsics import float64_from_bits


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ), exact to rounding for any z (no overflow)."""
    return expit(z)


def log_sigmoid(z):
    """log σ(z) = −log(1 + e⁻ᶻ) = −L(−z, 0): the loss formula, never overflowing."""
    z = np.asarray(z)
    z = z if z.dtype.kind == "f" else z.astype(np.float64)
    return -loss_from_logit(-z, np.zeros_like(z))


# The loss and its derivative from the logit, written once as scalar formulas.
# Numba compiles each twice: as NumPy ufuncs (float32 and float64) for the
# graph's nodes, and as scalar functions for the compiled one-pass kernel.
# Their exp and log1p are written out as polynomials, not taken from the C
# library, so that the kernel's loop over a chunk of rows compiles to vector
# instructions (the C library's are one number at a time). error_model="numpy"
# drops Python's division-by-zero check, which would also stop vectorising.

_JIT = dict(nogil=True, cache=True, error_model="numpy")
_LN2_HI = 6.93147180369123816490e-01   # ln 2 split so k·ln 2 is exact in the
_LN2_LO = 1.90821492927058770002e-10   # first part (Cody and Waite)
_INV_LN2 = 1.44269504088896338700e+00
#: Below this e^t is under the smallest normal float64; t is clamped to it
#: (an absolute error under 1e-307, far below any loss or gradient term).
_MIN_EXPONENT = -708.0


@numba.njit(inline="always", **_JIT)
def exp_nonpositive(t):
    """eᵗ for t ≤ 0, to about 1 ulp: t = k ln 2 + r, |r| ≤ ln 2 / 2,
    eʳ by its Taylor polynomial to r¹², 2ᵏ from the exponent bits."""
    t = max(t, _MIN_EXPONENT)
    k = math.floor(t * _INV_LN2 + 0.5)
    r = (t - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * float64_from_bits(np.int64(int(k) + 1023) << 52)


@numba.njit(inline="always", **_JIT)
def log1p_unit(e):
    """log(1 + e) for 0 ≤ e ≤ 1, to about 1 ulp: 2 atanh(s) with
    s = e / (2 + e) ≤ 1/3, its odd series to s³⁵ (no cancellation near 0)."""
    s = e / (2.0 + e)
    s2 = s * s
    q = 1.0 / 35.0
    for k in range(33, 0, -2):  # unrolled by the compiler: 1/33, 1/31, ..., 1
        q = q * s2 + 1.0 / k
    return 2.0 * s * q


def _loss_from_logit(z, y):
    """L(z, y) = log(1 + eᶻ) − y z = max(z, 0) + log(1 + e^−|z|) − y z."""
    return max(z, 0.0) + log1p_unit(exp_nonpositive(-abs(z))) - y * z


def _dloss_dlogit(z, y):
    """dL/dz = σ(z) − y = a − y, with σ from e^−|z| so nothing overflows."""
    e = exp_nonpositive(-abs(z))
    r = 1.0 / (1.0 + e)
    a = r if z >= 0 else e * r  # a select, not a branch: signs of z are random
    return a - y


# float32 first: NumPy takes the first loop the inputs cast to safely.
_SIGNATURES = ["float32(float32, float32)", "float64(float64, float64)"]
#: Elementwise L(z, y) for arrays (a NumPy ufunc; dtype kept).
loss_from_logit = numba.vectorize(_SIGNATURES, nopython=True, cache=True)(_loss_from_logit)
#: Elementwise dL/dz = a − y for arrays (a NumPy ufunc; dtype kept).
dloss_dlogit = numba.vectorize(_SIGNATURES, nopython=True, cache=True)(_dloss_dlogit)
#: The same two formulas for one number at a time, inside compiled kernels.
loss_from_logit_scalar = numba.njit(inline="always", **_JIT)(_loss_from_logit)
dloss_dlogit_scalar = numba.njit(inline="always", **_JIT)(_dloss_dlogit)
