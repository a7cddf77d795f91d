"""Softmax cross-entropy of one row of K logits, written once, per precision.

For logits z (K) and label y (a class index, 0 ≤ y < K):

    L(z, y) = logsumexp(z) − z_y = log Σₖ e^(zₖ − m) + (m − z_y),   m = maxₖ zₖ
    dL/dzₖ = aₖ − [k = y],   aₖ = e^(zₖ − m) / Σⱼ e^(zⱼ − m) = softmax(z)ₖ

Nothing overflows (every exponent is ≤ 0). The sum is split as
1 + t, t = Σ_{k ≠ top} e^(zₖ − m) (top = argmax), so log1p(t) keeps a small
loss's digits when the label's logit is the largest, and 1 − a_y = t / (1 + t)
is formed without cancellation (when y is not the top class, a_y ≤ ½ and
a_y − 1 has no cancellation to fear). These are the K-class forms of
:mod:`descend.engine.numerics`' L(z, y) and dz = a − y, whose vectorisable
eᵗ they use: compiled for float32 and float64 (each in its own precision),
inlined in the kernel (:mod:`descend.engine.softmax_kernels`) and run row by
row for the graph's node (:func:`loss_and_dlogits`).
"""
import numba
import numpy as np
from numba import types
from numba.extending import overload

from descend.engine import intrinsics, numerics
from descend.engine.intrinsics import sources_digest
from descend.engine.numerics import FLOAT32, FLOAT64

_JIT = dict(nogil=True, cache=True, error_model="numpy")


def _row_formula(F):
    """Compile the row formula with the exp and constants of float type F."""
    exp_nonpositive = (FLOAT32 if F is np.float32 else FLOAT64).exp_nonpositive
    zero, one = F(0), F(1)

    @numba.njit(inline="always", **_JIT)
    def row_loss_and_dlogits(z, y, weight, dz):
        """Return weight·L(z, y); write dz[k] = weight·(aₖ − [k = y])."""
        K = z.shape[0]
        top = 0
        for k in range(1, K):
            if z[k] > z[top]:
                top = k
        m = z[top]
        t = zero
        for k in range(K):
            dz[k] = exp_nonpositive(z[k] - m)
        dz[top] = one
        # t in a loop that only reads (one that also stores would be guarded
        # by a run-time overlap check, whose scalar fallback adds in another
        # order: the bits would depend on where the arrays lie). The top
        # class's e^0 = 1 is left out of t, not added and taken away again,
        # which would lose a small t's digits.
        for k in range(K):
            t += zero if k == top else dz[k]
        inv = one / (one + t)
        for k in range(K):
            dz[k] = weight * (dz[k] * inv)
        # 1 − a_y: t/(1 + t) when y is the top class, else 1 − a_y (a_y ≤ ½)
        dz[y] = -weight * (t * inv) if y == top else dz[y] - weight
        return weight * (np.log1p(t) + (m - z[y]))
    return row_loss_and_dlogits


_ROW = {np.float32: _row_formula(np.float32), np.float64: _row_formula(np.float64)}


def row_loss_and_dlogits(z, y, weight, dz):
    """weight·L(z, y) of one row, dz ← weight·(a − onehot(y)): in z's precision.

    Parameters
    ----------
    z : ndarray of shape (K,), float32 or float64
    y : int, 0 ≤ y < K
    weight : scalar of z's dtype
    dz : ndarray of shape (K,), z's dtype, written in place

    Returns
    -------
    scalar of z's dtype
    """
    return _ROW[z.dtype.type](z, y, z.dtype.type(weight), dz)


@overload(row_loss_and_dlogits, inline="always", jit_options=_JIT)
def _row_typed(z, y, weight, dz):
    formula = _ROW[np.float32 if z.dtype == types.float32 else np.float64]
    return lambda z, y, weight, dz: formula(z, y, weight, dz)


def _compile_rows(inlined_digest):
    """The row formula over every row; ``inlined_digest`` keys Numba's cache."""
    @numba.njit(**_JIT)
    def rows(Z, y, losses, dZ):
        inlined_digest
        one = np.ones(1, dtype=Z.dtype)[0]
        for i in range(Z.shape[0]):
            losses[i] = row_loss_and_dlogits(Z[i], y[i], one, dZ[i])
    return rows


_rows = _compile_rows(sources_digest(numerics, intrinsics))


def loss_and_dlogits(Z, y):
    """Per row L(zᵢ, yᵢ) and dZ = A − Y (Y one-hot), in Z's precision.

    Parameters
    ----------
    Z : ndarray of shape (m, K), float32 or float64
    y : ndarray of shape (m,), integer class indices in [0, K)

    Returns
    -------
    losses : ndarray of shape (m,), Z's dtype
    dZ : ndarray of shape (m, K), Z's dtype
    """
    Z = np.ascontiguousarray(Z if Z.dtype.kind == "f" else Z.astype(np.float64))
    losses, dZ = np.empty(Z.shape[0], dtype=Z.dtype), np.empty_like(Z)
    _rows(Z, np.ascontiguousarray(y, dtype=np.intp), losses, dZ)
    return losses, dZ


def softmax(Z):
    """A = softmax(Z) row by row, shape (m, K), from e^(z − max): no overflow."""
    Z = np.asarray(Z)
    E = np.exp(Z - np.max(Z, axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def log_softmax(Z):
    """log A = Z − logsumexp(Z) row by row, without underflow to −inf."""
    Z = np.asarray(Z)
    top = np.max(Z, axis=1, keepdims=True)
    return Z - top - np.log(np.sum(np.exp(Z - top), axis=1, keepdims=True))
