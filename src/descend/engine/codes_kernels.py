"""The fused graph compiled for a dense block beside categorical codes.

A row of a :class:`~descend.engine.codes.CodedMatrix` is p numbers xᵢ and q
codes cᵢⱼ; its one-hot columns are never written. Per chunk of
:data:`~descend.engine.kernels.CHUNK_ROWS` rows the kernel

* runs the dense kernel's forward loop over the numbers (z = xᵢ·w[:p] + b,
  :mod:`descend.engine.kernels`, or two classes at a time for K classes,
  :mod:`descend.engine.softmax_kernels`),
* adds w[offsets[j] + cᵢⱼ] for each categorical column j (one-hot column
  ``offsets[j] + c`` times its 1; nothing for an unknown code −1),
* runs the loss node on the chunk (dz = s·(a − y), the scalar formulas of
  :mod:`descend.engine.numerics` or :mod:`descend.engine.softmax`),
* runs the dense backward loop (dw[:p] += dz·xᵢ) and scatters dz into
  dw[offsets[j] + cᵢⱼ], the one-hot column's gradient, while the row is hot.

The scattered terms go to the float64 gradient directly (as the CSR
kernel's do), so a rare level's few terms and a frequent level's many keep
their digits; the order of every sum depends on the rows only.
"""
import numba
import numpy as np

from descend.engine import intrinsics, kernels, numerics, softmax, softmax_kernels
from descend.engine.intrinsics import sources_digest
from descend.engine.kernels import (
    _CACHE_LINE,
    CHUNK_ROWS,
    FORWARD_PREFETCH_SHARE,
    _backward,
    _forward,
    chunk_loss_and_dz,
)
from descend.engine.softmax_kernels import _chunk_backward, _chunk_forward, _chunk_loss

_JIT = dict(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
#: Positions as unsigned integers once a code is known to be ≥ 0: Numba then
#: drops the test for negative indices (see :mod:`descend.engine.csr_kernels`).
_U = np.uintp


@numba.njit(inline="always", **_JIT)
def _gather(codes, offsets, w, start, rows, z):
    """z[k] += Σⱼ w[offsets[j] + codes[start + k, j]] over the known codes."""
    for k in range(rows):
        i = start + k
        acc = z[k]
        for j in range(codes.shape[1]):
            c = codes[i, j]
            if c >= 0:
                acc += w[_U(offsets[j] + c)]
        z[k] = acc


@numba.njit(inline="always", **_JIT)
def _scatter(codes, offsets, dz, start, rows, grad):
    """grad[offsets[j] + codes[start + k, j]] += dz[k] over the known codes."""
    for k in range(rows):
        i = start + k
        d = np.float64(dz[k])
        for j in range(codes.shape[1]):
            c = codes[i, j]
            if c >= 0:
                grad[_U(offsets[j] + c)] += d


def _compile_codes_fused_rows(inlined_digest):
    """Compile the two-class kernel; ``inlined_digest`` (of the modules whose
    code it inlines) is a closure constant so that Numba's cache key sees it."""
    @numba.njit(**_JIT)
    def codes_fused_rows(X, codes, offsets, y, s, w, b, lo, hi, grad):
        """Σ sᵢ L(zᵢ, yᵢ) over rows lo:hi; adds Σ sᵢ dzᵢ x̃ᵢ and Σ sᵢ dzᵢ to grad.

        Parameters
        ----------
        X : ndarray, shape (m, p), float32 or float64
            The dense block.
        codes : ndarray, shape (m, q), signed integers
            Levels, −1 for unknown; code c of column j is column offsets[j] + c.
        offsets : ndarray, shape (q,), int64
        y, s : ndarray, shape (m,) and (m,) or (0,), X's dtype
            Labels and sample weights; ``s`` of length 0 means unit weights.
        w : ndarray, shape (n,) with n = p + Σ levels, X's dtype
        b : scalar, X's dtype
        lo, hi : int
            The row range.
        grad : ndarray, shape (n + 1,), float64
            dw then db, accumulated in place.

        Returns
        -------
        float
            The weighted loss sum Σ sᵢ L(zᵢ, yᵢ).
        """
        inlined_digest
        p, n = X.shape[1], w.shape[0]
        split = int(p * X.itemsize * FORWARD_PREFETCH_SHARE) // _CACHE_LINE * _CACHE_LINE
        partial = np.zeros(p, dtype=X.dtype)
        z = np.empty(CHUNK_ROWS, dtype=X.dtype)
        dz = np.empty(CHUNK_ROWS, dtype=X.dtype)
        losses = np.empty(CHUNK_ROWS, dtype=X.dtype)
        zero, one = np.zeros(1, dtype=X.dtype)[0], np.ones(1, dtype=X.dtype)[0]
        loss, dbias = 0.0, 0.0
        for start in range(lo, hi, CHUNK_ROWS):
            rows = min(CHUNK_ROWS, hi - start)
            _forward(X, w, b, start, rows, z, hi, split)   # reads w[:p] only
            _gather(codes, offsets, w, start, rows, z)
            chunk_loss, chunk_dbias = chunk_loss_and_dz(z, y, s, start, rows, dz, losses,
                                                        zero, one)
            loss += chunk_loss
            dbias += chunk_dbias
            _backward(X, dz, start, rows, partial, hi, split)
            for j in range(p):
                grad[j] += partial[j]
                partial[j] = 0
            _scatter(codes, offsets, dz, start, rows, grad)
        grad[n] += dbias
        return loss
    return codes_fused_rows


@numba.njit(inline="always", **_JIT)
def _gather_classes(codes, offsets, W, start, rows, Z):
    """Z[k, r] += W[k, offsets[j] + codes[start + r, j]] for every class k."""
    for r in range(rows):
        i = start + r
        for j in range(codes.shape[1]):
            c = codes[i, j]
            if c >= 0:
                for k in range(W.shape[0]):
                    Z[k, r] += W[k, _U(offsets[j] + c)]


@numba.njit(inline="always", **_JIT)
def _scatter_classes(codes, offsets, dZ, start, rows, grad):
    """grad[k, offsets[j] + codes[start + r, j]] += dZ[k, r] for every class k."""
    for r in range(rows):
        i = start + r
        for j in range(codes.shape[1]):
            c = codes[i, j]
            if c >= 0:
                for k in range(dZ.shape[0]):
                    grad[k, _U(offsets[j] + c)] += np.float64(dZ[k, r])


def _compile_codes_softmax_rows(inlined_digest):
    """Compile the K-class kernel (see :func:`_compile_codes_fused_rows`)."""
    @numba.njit(**_JIT)
    def codes_softmax_rows(X, codes, offsets, y, s, W, b, lo, hi, grad):
        """Σ sᵢ L(zᵢ, yᵢ) over rows lo:hi; adds Σ sᵢ dzᵢ [x̃ᵢ 1] to grad.

        Parameters
        ----------
        X, codes, offsets
            As for ``codes_fused_rows``.
        y : ndarray, shape (m,), intp: class indices in [0, K)
        s : ndarray, shape (m,) or (0,), X's dtype; length 0 means unit weights
        W : ndarray, shape (K, n), X's dtype, C order
        b : ndarray, shape (K,), X's dtype
        lo, hi : int
        grad : ndarray, shape (K, n + 1), float64
            dW then db in the last column, accumulated in place.

        Returns
        -------
        float
            The weighted loss sum Σ sᵢ L(zᵢ, yᵢ).
        """
        inlined_digest
        K, n = W.shape
        p = X.shape[1]
        split = int(p * X.itemsize * FORWARD_PREFETCH_SHARE) // _CACHE_LINE * _CACHE_LINE
        partial = np.zeros((K, p), dtype=X.dtype)
        dense_grad = np.zeros((K, p + 1))  # the dense loops' dW[:, :p] and db
        Z = np.empty((K, CHUNK_ROWS), dtype=X.dtype)
        dZ = np.empty((K, CHUNK_ROWS), dtype=X.dtype)
        losses = np.empty(CHUNK_ROWS, dtype=X.dtype)
        top, work = np.empty(CHUNK_ROWS, dtype=np.intp), np.empty((3, CHUNK_ROWS), dtype=X.dtype)
        one = np.ones(1, dtype=X.dtype)[0]
        loss = 0.0
        for start in range(lo, hi, CHUNK_ROWS):
            rows = min(CHUNK_ROWS, hi - start)
            _chunk_forward(X, W, b, start, rows, Z, hi, split)  # reads W[:, :p] only
            _gather_classes(codes, offsets, W, start, rows, Z)
            loss += _chunk_loss(Z, y, s, start, rows, dZ, losses, top, work, one)
            _chunk_backward(X, dZ, start, rows, partial, dense_grad, hi, split, one)
            _scatter_classes(codes, offsets, dZ, start, rows, grad)
        for k in range(K):
            for j in range(p):
                grad[k, j] += dense_grad[k, j]
            grad[k, n] += dense_grad[k, p]
        return loss
    return codes_softmax_rows


codes_fused_rows = _compile_codes_fused_rows(sources_digest(numerics, intrinsics, kernels))
codes_softmax_rows = _compile_codes_softmax_rows(
    sources_digest(numerics, intrinsics, kernels, softmax, softmax_kernels))


@numba.njit(**_JIT)
def codes_logits(X, codes, offsets, w, b, lo, hi, z):
    """z[i − lo] = xᵢ·w[:p] + Σⱼ w[offsets[j] + cᵢⱼ] + b for rows lo:hi, float64."""
    p = X.shape[1]
    for i in range(lo, hi):
        acc = np.float64(b)
        for a in range(p):
            acc += np.float64(X[i, a]) * np.float64(w[a])
        z[i - lo] = acc
    _gather(codes, offsets, w, lo, hi - lo, z)


@numba.njit(**_JIT)
def codes_gram_rows(X, codes, offsets, r, lo, hi, intercept, H):
    """Adds the lower triangle of [X 1]ᵀ diag(r) [X 1] over rows lo:hi to H,
    X = [numbers, one-hot(codes)], its one-hot columns never written.

    Row i adds rᵢ xᵢₐxᵢ_b to H[a, b] for numbers b ≤ a, rᵢ xᵢₐ to
    H[u, a] and rᵢ to H[u, v] for its known codes v ≤ u (u = offsets[j] + cᵢⱼ),
    and rᵢ xᵢₐ, rᵢ to the intercept's row when ``intercept`` ≥ 0: q(p + q) +
    p(p + 1)/2 terms a row, for p numbers and q categorical columns.

    Parameters
    ----------
    X : ndarray, shape (m, p), float32 or float64
    codes : ndarray, shape (m, q), signed integers (−1 unknown)
    offsets : ndarray, shape (q,), int64, increasing, offsets[0] ≥ p
    r : ndarray, shape (hi − lo,), float64
        The rows' curvature weights sᵢ a(1 − a).
    lo, hi : int
    intercept : int
        The intercept's row of H (the last), or −1 without one.
    H : ndarray, shape (k, k), float64, accumulated in place (lower triangle)
    """
    p = X.shape[1]
    row = np.empty(p, dtype=np.float64)
    for i in range(lo, hi):
        ri = r[i - lo]
        for a in range(p):
            row[a] = np.float64(X[i, a])
        for a in range(p):
            rx = ri * row[a]
            for t in range(a + 1):
                H[a, t] += rx * row[t]
            if intercept >= 0:
                H[intercept, a] += rx
        for j in range(codes.shape[1]):
            c = codes[i, j]
            if c < 0:
                continue
            u = _U(offsets[j] + c)
            for a in range(p):
                H[u, a] += ri * row[a]
            for t in range(j + 1):
                c2 = codes[i, t]
                if c2 >= 0:
                    H[u, _U(offsets[t] + c2)] += ri
            if intercept >= 0:
                H[intercept, u] += ri
        if intercept >= 0:
            H[intercept, intercept] += ri
