"""The K-class graph compiled chunk by chunk: one read of X per gradient.

For each chunk of rows X_c (in the first-level cache) the kernel runs the
graph of :func:`descend.engine.graph.softmax_graph` forward and backward:
Z_c = X_c Wᵀ + b (two classes and four rows at a time, so each load of X
serves eight dot products; an odd class last through the binary kernel's
forward loop, :mod:`descend.engine.kernels`), then L(z, y) and
dz = s·(a − onehot(y)) for the chunk's rows at once (vector instructions
across rows) from the block formula of :mod:`descend.engine.softmax`,
then dW += dZ_cᵀ X_c (two classes at a time likewise) while the chunk is
still hot. The chunk's
sums are taken in a fixed order and added to float64 totals, so the result
is the same bits whatever the thread count.
"""
import numba
import numpy as np

from descend.engine import intrinsics, kernels, numerics, softmax
from descend.engine.intrinsics import sources_digest
from descend.engine.kernels import (
    _CACHE_LINE,
    _PREFETCH_ROWS,
    CHUNK_ROWS,
    FORWARD_PREFETCH_SHARE,
    GROUP_ROWS,
    _backward,
    _forward,
    _prefetch_row_part,
)
from descend.engine.softmax import columns_loss_and_dlogits

_JIT = dict(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")


@numba.njit(inline="always", **_JIT)
def _forward_pair(X, W, b, k, start, rows, Z, hi, split):
    """Z[k] and Z[k + 1] of the chunk: two classes per pass over the rows, so
    each load of four rows of X serves eight dot products."""
    n = X.shape[1]
    grouped = rows - rows % GROUP_ROWS
    for g in range(0, grouped, GROUP_ROWS):
        i = start + g
        for r in range(GROUP_ROWS):
            _prefetch_row_part(X, i + r + _PREFETCH_ROWS, hi, 0, split)
        a0 = a1 = a2 = a3 = b[k]
        c0 = c1 = c2 = c3 = b[k + 1]
        for j in range(n):
            v, u = W[k, j], W[k + 1, j]
            x0, x1, x2, x3 = X[i, j], X[i + 1, j], X[i + 2, j], X[i + 3, j]
            a0 += x0 * v
            a1 += x1 * v
            a2 += x2 * v
            a3 += x3 * v
            c0 += x0 * u
            c1 += x1 * u
            c2 += x2 * u
            c3 += x3 * u
        Z[k, g], Z[k, g + 1], Z[k, g + 2], Z[k, g + 3] = a0, a1, a2, a3
        Z[k + 1, g], Z[k + 1, g + 1], Z[k + 1, g + 2], Z[k + 1, g + 3] = c0, c1, c2, c3
    for g in range(grouped, rows):
        a, c = b[k], b[k + 1]
        for j in range(n):
            a += X[start + g, j] * W[k, j]
            c += X[start + g, j] * W[k + 1, j]
        Z[k, g], Z[k + 1, g] = a, c


@numba.njit(inline="always", **_JIT)
def _backward_pair(X, dZ, k, start, rows, partial, hi, split):
    """partial[k] and partial[k + 1] += Σ_r dZ[·, r] X[start + r]: two classes
    per pass, four rows per load and store of the running sums."""
    n = X.shape[1]
    row_bytes = n * X.itemsize
    grouped = rows - rows % GROUP_ROWS
    for g in range(0, grouped, GROUP_ROWS):
        i = start + g
        for r in range(GROUP_ROWS):
            _prefetch_row_part(X, i + r + _PREFETCH_ROWS, hi, split, row_bytes)
        d0, d1, d2, d3 = dZ[k, g], dZ[k, g + 1], dZ[k, g + 2], dZ[k, g + 3]
        e0, e1, e2, e3 = dZ[k + 1, g], dZ[k + 1, g + 1], dZ[k + 1, g + 2], dZ[k + 1, g + 3]
        for j in range(n):
            x0, x1, x2, x3 = X[i, j], X[i + 1, j], X[i + 2, j], X[i + 3, j]
            partial[k, j] += (d0 * x0 + d1 * x1) + (d2 * x2 + d3 * x3)
            partial[k + 1, j] += (e0 * x0 + e1 * x1) + (e2 * x2 + e3 * x3)
    for g in range(grouped, rows):
        for j in range(n):
            partial[k, j] += dZ[k, g] * X[start + g, j]
            partial[k + 1, j] += dZ[k + 1, g] * X[start + g, j]


@numba.njit(inline="always", **_JIT)
def _chunk_forward(X, W, b, start, rows, Z, hi, split):
    """Z[:, :rows] = X_c W[:, :p]ᵀ + b (p = X's columns): classes two at a time;
    rows ahead are prefetched once, with class 0."""
    K = W.shape[0]
    for k in range(0, K - 1, 2):
        _forward_pair(X, W, b, k, start, rows, Z, hi if k == 0 else 0, split)
    if K % 2:
        _forward(X, W[K - 1], b[K - 1], start, rows, Z[K - 1], 0, split)


@numba.njit(inline="always", **_JIT)
def _chunk_loss(Z, y, s, start, rows, dZ, losses, top, work, one):
    """The SoftmaxCrossEntropy node on a chunk: dZ, and Σ sᵢ L over its rows."""
    columns_loss_and_dlogits(Z, y, s, start, rows, dZ, losses, top, work)
    # sums in loops that only read: the same bits wherever arrays lie
    chunk_loss = 0.0 * one
    for r in range(rows):
        chunk_loss += losses[r]
    return chunk_loss


@numba.njit(inline="always", **_JIT)
def _chunk_backward(X, dZ, start, rows, partial, grad, hi, split, one):
    """db += Σ_r dZ[:, r] and dW += dZ_cᵀ X_c for one chunk, into grad (K, n + 1)."""
    K, n = partial.shape
    for k in range(K):  # sums in loops that only read: the same bits wherever arrays lie
        chunk_db = 0.0 * one
        for r in range(rows):
            chunk_db += dZ[k, r]
        grad[k, n] += chunk_db
    for k in range(0, K - 1, 2):
        _backward_pair(X, dZ, k, start, rows, partial, hi if k == 0 else 0, split)
    if K % 2:
        _backward(X, dZ[K - 1], start, rows, partial[K - 1], 0, split)
    for k in range(K):
        for j in range(n):
            grad[k, j] += partial[k, j]
            partial[k, j] = 0


def _compile_softmax_rows(inlined_digest):
    """Compile the kernel; ``inlined_digest`` (of the modules whose code it
    inlines) is a closure constant so that Numba's cache key sees it."""
    @numba.njit(**_JIT)
    def softmax_rows(X, y, s, W, b, lo, hi, grad):
        """Σ sᵢ L(zᵢ, yᵢ) over rows lo:hi; adds Σ sᵢ dzᵢ [xᵢ 1] to grad.

        Parameters
        ----------
        X : ndarray, shape (m, n), float32 or float64
        y : ndarray, shape (m,), intp: class indices in [0, K)
        s : ndarray, shape (m,) or (0,), X's dtype; length 0 means unit weights
        W : ndarray, shape (K, n), X's dtype
        b : ndarray, shape (K,), X's dtype
        lo, hi : int
            The row range.
        grad : ndarray, shape (K, n + 1), float64
            dW then db in the last column, accumulated in place.

        Returns
        -------
        float
            The weighted loss sum Σ sᵢ L(zᵢ, yᵢ).
        """
        inlined_digest
        K, n = W.shape
        split = int(n * X.itemsize * FORWARD_PREFETCH_SHARE) // _CACHE_LINE * _CACHE_LINE
        # Per-chunk values in X's dtype (float32 data, float32 arithmetic);
        # the chunk's sums, 32 terms long, go to float64 totals.
        partial = np.zeros((K, n), dtype=X.dtype)
        Z = np.empty((K, CHUNK_ROWS), dtype=X.dtype)
        dZ = np.empty((K, CHUNK_ROWS), dtype=X.dtype)
        losses = np.empty(CHUNK_ROWS, dtype=X.dtype)
        top, work = np.empty(CHUNK_ROWS, dtype=np.intp), np.empty((3, CHUNK_ROWS), dtype=X.dtype)
        one = np.ones(1, dtype=X.dtype)[0]
        loss = 0.0
        for start in range(lo, hi, CHUNK_ROWS):
            rows = min(CHUNK_ROWS, hi - start)
            _chunk_forward(X, W, b, start, rows, Z, hi, split)
            loss += _chunk_loss(Z, y, s, start, rows, dZ, losses, top, work, one)
            _chunk_backward(X, dZ, start, rows, partial, grad, hi, split, one)
        return loss
    return softmax_rows


softmax_rows = _compile_softmax_rows(sources_digest(numerics, intrinsics, kernels, softmax))
