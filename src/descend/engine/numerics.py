"""Stable primitives of the logistic loss, for float32 and float64 alike.

Each function keeps the dtype of its input and is finite for every finite
input, so the graph never produces ``inf`` or ``nan`` from a large logit.
"""
import functools
import math
from types import SimpleNamespace

import numba
import numpy as np
from numba import literal_unroll, types
from numba.extending import overload
from scipy.special import expit

from descend.engine import intrinsics
from descend.engine.intrinsics import power_of_two, sources_digest


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ), exact to rounding for any z (no overflow)."""
    return expit(z)


def log_sigmoid(z):
    """log σ(z) = −log(1 + e⁻ᶻ) = −L(−z, 0): the loss formula, never overflowing."""
    z = np.asarray(z)
    z = z if z.dtype.kind == "f" else z.astype(np.float64)
    return -_ufunc("loss_from_logit")(-z, np.zeros_like(z))


# The loss and its derivative from the logit, written once as scalar formulas.
# Numba compiles them for float32 and for float64 (each in its own precision,
# so float32 data gets float32 arithmetic, twice as many numbers per vector
# instruction and shorter polynomials), and each twice over: as NumPy ufuncs
# for the graph's nodes, and inline in the compiled one-pass kernel.
# Their exp and log1p are written out as polynomials, not taken from the C
# library, so that the kernel's loop over a chunk of rows compiles to vector
# instructions (the C library's are one number at a time). error_model="numpy"
# drops Python's division-by-zero check, which would also stop vectorising.

_JIT = dict(nogil=True, cache=True, error_model="numpy")

#: Per float type: ln 2 split so that k·ln2_hi is exact (Cody and Waite); the
#: clamp below which eᵗ would leave the normal range (the absolute error of
#: the clamp, under 2e-38, is far below any loss or gradient term); and the
#: polynomial degrees that bring the truncation under half an ulp.
_PRECISION = {
    np.float64: dict(ln2_hi=6.93147180369123816490e-01, ln2_lo=1.90821492927058770002e-10,
                     min_exponent=-708.0, exp_degree=12, log1p_terms=17),
    np.float32: dict(ln2_hi=0.693359375, ln2_lo=-2.12194440e-4,
                     min_exponent=-87.0, exp_degree=7, log1p_terms=7),
}


def _formulas(F):
    """Compile the scalar formulas with every constant of float type F."""
    p = _PRECISION[F]
    ln2_hi, ln2_lo, inv_ln2 = F(p["ln2_hi"]), F(p["ln2_lo"]), F(1 / math.log(2))
    min_exponent, zero, half, one, two = F(p["min_exponent"]), F(0), F(0.5), F(1), F(2)
    # eʳ = Σ rᵏ/k! and log(1 + e) = 2 Σ s²ᵏ⁺¹/(2k + 1), highest term first (Horner)
    exp_coefficients = tuple(F(1 / math.factorial(k)) for k in range(p["exp_degree"], -1, -1))
    top_odd = 2 * p["log1p_terms"] - 1

    @numba.njit(inline="always", **_JIT)
    def exp_nonpositive(t):
        """eᵗ for t ≤ 0, to about 1 ulp: t = k ln 2 + r, |r| ≤ ln 2 / 2,
        eʳ by its Taylor polynomial, 2ᵏ from the exponent bits."""
        t = max(t, min_exponent)
        k = np.floor(t * inv_ln2 + half)
        r = (t - k * ln2_hi) - k * ln2_lo
        q = zero
        for c in literal_unroll(exp_coefficients):
            q = q * r + c
        return q * power_of_two(k)

    @numba.njit(inline="always", **_JIT)
    def log1p_unit(e):
        """log(1 + e) for 0 ≤ e ≤ 1, to about 1 ulp: 2 atanh(s) with
        s = e / (2 + e) ≤ 1/3, its odd series (no cancellation near 0)."""
        s = e / (two + e)
        s2 = s * s
        q = zero
        # 1/top_odd, ..., 1/3, 1 from the loop counter: the loop is unrolled and
        # the divisions folded (constants read from a tuple in a loop are not
        # folded, and the kernel's chunk loop would then stay scalar)
        for k in range(top_odd, 0, -2):
            q = q * s2 + one / F(k)
        return two * s * q

    @numba.njit(inline="always", **_JIT)
    def loss_from_logit(z, y):
        """L(z, y) = log(1 + eᶻ) − y z
        = (1 − y) max(z, 0) + y max(−z, 0) + log(1 + e^−|z|):
        a sum of terms ≥ 0 (for 0 ≤ y ≤ 1), so a small loss keeps its digits."""
        return ((one - y) * max(z, zero) + y * max(-z, zero)
                + log1p_unit(exp_nonpositive(-abs(z))))

    @numba.njit(inline="always", **_JIT)
    def dloss_dlogit(z, y):
        """dL/dz = a − y = (1 − y) σ(z) − y σ(−z), with σ(±z) from e^−|z| so
        nothing overflows, and 1 − a never formed (it would round to 0)."""
        e = exp_nonpositive(-abs(z))
        r = one / (one + e)
        # selects, not branches: the signs of z are random
        a = r if z >= zero else e * r
        a_complement = e * r if z >= zero else r
        return (one - y) * a - y * a_complement

    return SimpleNamespace(exp_nonpositive=exp_nonpositive, log1p_unit=log1p_unit,
                           loss_from_logit=loss_from_logit, dloss_dlogit=dloss_dlogit)


#: The formulas in float64 and in float32, callable from Python and compiled code.
FLOAT64 = _formulas(np.float64)
FLOAT32 = _formulas(np.float32)


def _in_precision_of(*args):
    """The float32 formulas when every argument is float32, else float64's."""
    return FLOAT32 if all(a == types.float32 for a in args) else FLOAT64


def _in_precision_of_arguments(name):
    """The formula ``name`` for one z and one y, in their precision (float32
    when both are): callable from Python, and inlined in compiled code, where
    the choice is made once, from the argument types."""
    def formula_in_their_precision(z, y):
        formulas = _in_precision_of(numba.typeof(z), numba.typeof(y))
        F = np.float32 if formulas is FLOAT32 else np.float64
        return getattr(formulas, name)(F(z), F(y))

    @overload(formula_in_their_precision, inline="always", jit_options=_JIT)
    def _typed(z, y):
        formula = getattr(_in_precision_of(z, y), name)
        return lambda z, y: formula(z, y)
    return formula_in_their_precision


#: L(z, y) for one z and y, in their precision (float32 if both are).
loss_from_logit_scalar = _in_precision_of_arguments("loss_from_logit")
#: dL/dz = a − y for one z and y, in their precision (float32 if both are).
dloss_dlogit_scalar = _in_precision_of_arguments("dloss_dlogit")


def _elementwise(inlined_digest):
    """The ufuncs' bodies; ``inlined_digest`` (of intrinsics.py, whose code
    they inline) is a closure constant so that Numba's cache key sees it.
    They name the scalar formulas as globals: as closure constants, pickled
    into the key by value, the key would differ in every process."""
    def loss_elementwise(z, y):
        inlined_digest
        return loss_from_logit_scalar(z, y)

    def dloss_elementwise(z, y):
        inlined_digest
        return dloss_dlogit_scalar(z, y)
    return loss_elementwise, dloss_elementwise


_loss_elementwise, _dloss_elementwise = _elementwise(sources_digest(intrinsics))
# float32 first: NumPy takes the first loop the inputs cast to safely.
_SIGNATURES = ["float32(float32, float32)", "float64(float64, float64)"]
#: The ufuncs, by name: ``loss_from_logit``, elementwise L(z, y) for arrays,
#: and ``dloss_dlogit``, elementwise dL/dz = a − y (NumPy ufuncs; dtype and
#: precision kept).
_UFUNC_BODIES = {"loss_from_logit": _loss_elementwise, "dloss_dlogit": _dloss_elementwise}


@functools.cache
def _ufunc(name):
    """The ufunc ``name``, built on first use (only the lesson's graph and
    :func:`log_sigmoid` take them; built at import, they cost every command
    half a second)."""
    return numba.vectorize(_SIGNATURES, nopython=True, cache=True)(_UFUNC_BODIES[name])


def __getattr__(name):
    """``numerics.loss_from_logit`` and ``numerics.dloss_dlogit``: :func:`_ufunc`."""
    if name not in _UFUNC_BODIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _ufunc(name)
