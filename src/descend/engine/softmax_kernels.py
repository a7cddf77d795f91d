"""The K-class graph compiled chunk by chunk: one read of X per gradient.

For each chunk of rows X_c (in the first-level cache) the kernel runs the
graph of :func:`descend.engine.graph.softmax_graph` forward and backward:
Z_c = X_c Wᵀ + b (one dot product per class, four rows per load of a row of
W: the binary kernel's forward loop, :mod:`descend.engine.kernels`), then per
row L(z, y) and dz = s·(a − onehot(y)) from the row formula of
:mod:`descend.engine.softmax`, then dW += dZ_cᵀ X_c (the binary kernel's
backward loop, once per class) while the chunk is still hot. The chunk's
sums are taken in a fixed order and added to float64 totals, so the result
is the same bits whatever the thread count.
"""
import numba
import numpy as np

from descend.engine import intrinsics, kernels, numerics, softmax
from descend.engine.intrinsics import sources_digest
from descend.engine.kernels import (
    _CACHE_LINE,
    CHUNK_ROWS,
    FORWARD_PREFETCH_SHARE,
    _backward,
    _forward,
)
from descend.engine.softmax import row_loss_and_dlogits

_JIT = dict(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")


@numba.njit(inline="always", **_JIT)
def _chunk_loss_and_dz(Z, y, s, start, rows, dZ, losses, zrow, dzrow, one):
    """The SoftmaxCrossEntropy node on a chunk: dZ[:, k] and losses[k] for
    k < rows (each row through the row formula, class-major in and out)."""
    K = Z.shape[0]
    weighted = s.shape[0] > 0
    for r in range(rows):
        i = start + r
        for k in range(K):
            zrow[k] = Z[k, r]
        losses[r] = row_loss_and_dlogits(zrow, y[i], s[i] if weighted else one, dzrow)
        for k in range(K):
            dZ[k, r] = dzrow[k]


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
        zrow, dzrow = np.empty(K, dtype=X.dtype), np.empty(K, dtype=X.dtype)
        one = np.ones(1, dtype=X.dtype)[0]
        loss = 0.0
        for start in range(lo, hi, CHUNK_ROWS):
            rows = min(CHUNK_ROWS, hi - start)
            for k in range(K):  # rows ahead are prefetched once, with class 0
                _forward(X, W[k], b[k], start, rows, Z[k], hi if k == 0 else 0, split)
            _chunk_loss_and_dz(Z, y, s, start, rows, dZ, losses, zrow, dzrow, one)
            # sums in loops that only read: the same bits wherever arrays lie
            chunk_loss = 0.0 * one
            for r in range(rows):
                chunk_loss += losses[r]
            loss += chunk_loss
            for k in range(K):
                chunk_db = 0.0 * one
                for r in range(rows):
                    chunk_db += dZ[k, r]
                grad[k, n] += chunk_db
                _backward(X, dZ[k], start, rows, partial[k], hi if k == 0 else 0, split)
                for j in range(n):
                    grad[k, j] += partial[k, j]
                    partial[k, j] = 0
        return loss
    return softmax_rows


softmax_rows = _compile_softmax_rows(sources_digest(numerics, intrinsics, kernels, softmax))
