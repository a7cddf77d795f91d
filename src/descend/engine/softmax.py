"""Softmax cross-entropy of K logits, written once, per precision.

For logits z (K) and label y (a class index, 0 ≤ y < K):

    L(z, y) = logsumexp(z) − z_y = log Σₖ e^(zₖ − m) + (m − z_y),   m = maxₖ zₖ
    dL/dzₖ = aₖ − [k = y],   aₖ = e^(zₖ − m) / Σⱼ e^(zⱼ − m) = softmax(z)ₖ

Nothing overflows (every exponent is ≤ 0). The sum is split as
1 + t, t = Σ_{k ≠ top} e^(zₖ − m) (top = argmax), so log1p(t) keeps a small
loss's digits when the label's logit is the largest, and 1 − a_y = t / (1 + t)
is formed without cancellation (when y is not the top class, a_y ≤ ½ and
a_y − 1 has no cancellation to fear). These are the K-class forms of
:mod:`descend.engine.numerics`' L(z, y) and dz = a − y, whose vectorisable
eᵗ and log(1 + e) they use; for 1 < t ≤ K − 1, 1 + t is halved until it is
at most 2 (each halving exact, adding ln 2), so log1p too is a polynomial.

The formula runs over the columns of a class-major block Z (K, rows): each
step a loop over rows that compiles to vector instructions (the argmax as
selects, the exponentials, the sums), not one row at a time. It is compiled
for float32 and float64 (each in its own precision), inlined in the kernel
(:mod:`descend.engine.softmax_kernels`) on each chunk of rows, and run over
all rows at once for the graph's node (:func:`loss_and_dlogits`).
"""
import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

from descend.engine import intrinsics, numerics
from descend.engine.intrinsics import sources_digest
from descend.engine.numerics import FLOAT32, FLOAT64

_JIT = dict(nogil=True, cache=True, error_model="numpy")


def _columns_formula(F):
    """Compile the block formula with the exp, log1p and constants of float type F."""
    formulas = FLOAT32 if F is np.float32 else FLOAT64
    exp_nonpositive, log1p_unit = formulas.exp_nonpositive, formulas.log1p_unit
    zero, half, one, two, ln2 = F(0), F(0.5), F(1), F(2), F(math.log(2))

    @numba.njit(inline="always", **_JIT)
    def log1p_up_to(t, halvings):
        """log(1 + t) for 0 ≤ t ≤ 2^(halvings + 1) − 1: log1p_unit(t) for t ≤ 1
        (a small t keeps its digits), else 1 + t halved into (1, 2] (exact)."""
        u = one + t
        scale = zero
        for _ in range(halvings):  # selects, not branches: the loop vectorises
            big = u > two
            u = u * half if big else u
            scale += ln2 if big else zero
        return scale + log1p_unit(t if t <= one else u - one)

    @numba.njit(inline="always", **_JIT)
    def columns_loss_and_dlogits(Z, y, s, start, rows, dZ, losses, top, work):
        """For columns r < rows of Z (K, ·): losses[r] = sᵢ L(Z[:, r], yᵢ) and
        dZ[:, r] = sᵢ (aᵢ − onehot(yᵢ)), i = start + r; s of length 0: unit
        weights. top (intp) and work (3, ·) are scratch of at least rows."""
        K = Z.shape[0]
        weighted = s.shape[0] > 0
        halvings = 0
        while (2 << halvings) < K:  # t ≤ K − 1, so 1 + t ≤ K ≤ 2^(halvings + 1)
            halvings += 1
        m, t, inv = work[0], work[1], work[2]
        for r in range(rows):
            m[r], top[r], t[r] = Z[0, r], 0, zero
        for k in range(1, K):
            for r in range(rows):
                larger = Z[k, r] > m[r]
                top[r] = k if larger else top[r]
                m[r] = Z[k, r] if larger else m[r]
        # t in class order, the top class's e^0 = 1 left out (adding it and
        # taking it away again would lose a small t's digits)
        for k in range(K):
            for r in range(rows):
                e = exp_nonpositive(Z[k, r] - m[r])
                dZ[k, r] = e
                t[r] += zero if k == top[r] else e
        for r in range(rows):
            i = start + r
            weight = s[i] if weighted else one
            losses[r] = weight * (log1p_up_to(t[r], halvings) + (m[r] - Z[y[i], r]))
            inv[r] = one / (one + t[r])
        for k in range(K):
            for r in range(rows):
                i = start + r
                weight = s[i] if weighted else one
                a = inv[r] if k == top[r] else dZ[k, r] * inv[r]
                # 1 − a_y: t/(1 + t) when y is the top class, else 1 − a_y (a_y ≤ ½)
                label = y[i] == k
                top_label = -(t[r] * inv[r])
                dZ[k, r] = weight * ((top_label if k == top[r] else a - one) if label else a)
    return columns_loss_and_dlogits


_COLUMNS = {np.float32: _columns_formula(np.float32), np.float64: _columns_formula(np.float64)}


def columns_loss_and_dlogits(Z, y, s, start, rows, dZ, losses, top, work):
    """sᵢ L and sᵢ (aᵢ − onehot(yᵢ)) for the first rows columns of a class-major block.

    Parameters
    ----------
    Z : ndarray of shape (K, R), float32 or float64: column r holds the logits of row start + r
    y : ndarray of shape (m,), intp class indices; s : shape (m,) or (0,), Z's dtype
    start, rows : int, rows ≤ R
    dZ : ndarray of shape (K, R), written; losses : shape (R,), written
    top : ndarray of shape (R,), intp; work : shape (3, R), Z's dtype: scratch
    """
    _COLUMNS[Z.dtype.type](Z, y, s, start, rows, dZ, losses, top, work)


@overload(columns_loss_and_dlogits, inline="always", jit_options=_JIT)
def _columns_typed(Z, y, s, start, rows, dZ, losses, top, work):
    formula = _COLUMNS[np.float32 if Z.dtype == types.float32 else np.float64]
    return lambda Z, y, s, start, rows, dZ, losses, top, work: formula(
        Z, y, s, start, rows, dZ, losses, top, work)


def _compile_rows(inlined_digest):
    """The block formula over every row; ``inlined_digest`` keys Numba's cache."""
    @numba.njit(**_JIT)
    def rows(ZT, y, losses, dZT):
        inlined_digest
        m = ZT.shape[1]
        top, work = np.empty(m, dtype=np.intp), np.empty((3, m), dtype=ZT.dtype)
        columns_loss_and_dlogits(ZT, y, np.empty(0, dtype=ZT.dtype), 0, m, dZT, losses, top, work)
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
    Z = np.asarray(Z)
    ZT = np.ascontiguousarray((Z if Z.dtype.kind == "f" else Z.astype(np.float64)).T)
    losses, dZT = np.empty(ZT.shape[1], dtype=ZT.dtype), np.empty_like(ZT)
    _rows(ZT, np.ascontiguousarray(y, dtype=np.intp), losses, dZT)
    return losses, np.ascontiguousarray(dZT.T)


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
