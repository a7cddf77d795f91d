"""The fused graph compiled for one row at a time: one read of X per gradient.

For each row the kernel runs the graph of :mod:`descend.graph` — Linear
(z = x·w + b), SigmoidLogLoss, WeightedMean — forward and backward while the
row is still in the first-level cache: z, then L(z, y) and dz = a − y from the
very scalar formulas the graph's ufuncs are compiled from
(:mod:`descend.numerics`), then dw += s·dz·x and db += s·dz. Reading X once
instead of twice (and no Python between blocks) is what makes an epoch cost
about one ``X @ w``.
"""
import numba
import numpy as np

from .numerics import dloss_dlogit_scalar, loss_from_logit_scalar

#: Rows per chunk: a chunk of X stays in cache between the forward and the
#: backward pass, and its gradient terms, summed in X's dtype, are added to the
#: float64 total after each chunk, so float32 sums stay short and accurate.
CHUNK_ROWS = 256


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def fused_rows(X, y, s, w, b, lo, hi, grad):
    """Σ sᵢ L(zᵢ, yᵢ) over rows lo:hi; adds Σ sᵢ dzᵢ xᵢ and Σ sᵢ dzᵢ to grad.

    ``s`` of length 0 means unit weights. ``grad`` is float64 of shape (n + 1,)
    (dw then db), accumulated in place. Returns the weighted loss sum.

    Rows go in chunks that stay in the second-level cache: the forward pass
    (z for each row) streams the chunk from memory, the loss and dz of the
    chunk are then computed together (a loop the compiler turns into vector
    instructions), and the backward pass reads the chunk again from cache.
    """
    n = X.shape[1]
    weighted = s.shape[0] > 0
    partial = np.zeros(n, dtype=X.dtype)
    z = np.empty(CHUNK_ROWS, dtype=X.dtype)
    dz = np.empty(CHUNK_ROWS, dtype=X.dtype)  # float32 X: float32 multiply-adds
    loss, dbias = 0.0, 0.0
    for start in range(lo, hi, CHUNK_ROWS):
        rows = min(CHUNK_ROWS, hi - start)
        for k in range(rows):                      # forward: z = x·w + b
            acc = b
            for j in range(n):
                acc += X[start + k, j] * w[j]
            z[k] = acc
        for k in range(rows):                      # L(z, y) and dz = a − y
            i = start + k
            weight = s[i] if weighted else 1.0
            loss += weight * loss_from_logit_scalar(z[k], y[i])
            d = weight * dloss_dlogit_scalar(z[k], y[i])
            dbias += d
            dz[k] = d
        for k in range(rows):                      # backward: dw += dz·x
            for j in range(n):
                partial[j] += dz[k] * X[start + k, j]
        for j in range(n):
            grad[j] += partial[j]
            partial[j] = 0
    grad[n] += dbias
    return loss
