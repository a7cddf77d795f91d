"""The fused graph compiled for one row at a time: one read of X per gradient.

For each row the kernel runs the graph of :mod:`descend.graph` — Linear
(z = x·w + b), SigmoidLogLoss, WeightedMean — forward and backward while the
row is still in the first-level cache: z, then L(z, y) and dz = a − y from the
very scalar formulas the graph's ufuncs are compiled from
(:mod:`descend.numerics`), then dw += s·dz·x and db += s·dz. Reading X once
instead of twice (and no Python between blocks) is what makes an epoch cost
about one ``X @ w``.

Rows go in chunks small enough for the first-level cache. Three things keep
the epoch close to the time of reading X from memory:

* rows are taken four at a time, so each load of w (forward) and each
  load and store of the running dw (backward) serves four rows;
* the loss and dz of a whole chunk are computed in one loop and summed in
  another, both of which the compiler turns into vector instructions (the
  sums' loop only reads, so the same vector code runs wherever the arrays
  lie in memory and the sums are the same bits every time);
* while one chunk is being worked on, the rows ``PREFETCH_CHUNKS`` chunks
  ahead are requested from memory (a quarter of each row during the forward
  pass, which the hardware prefetcher already keeps streaming, the rest
  during the backward pass, when memory would otherwise wait for the
  arithmetic).
"""
import numba
import numpy as np

from descend.engine import intrinsics, numerics
from descend.engine.intrinsics import prefetch, sources_digest
from descend.engine.numerics import dloss_dlogit_scalar, loss_from_logit_scalar

#: Rows per chunk: 32 rows of 100 float64 features (25 KiB) stay in the
#: first-level cache between the forward and the backward pass. Each chunk's
#: dw terms, summed in X's dtype, are added to the float64 total after the
#: chunk, so float32 sums stay short and accurate.
CHUNK_ROWS = 32
#: Rows handled together in the forward and backward loops.
GROUP_ROWS = 4
#: How far ahead (in chunks) rows are prefetched: far enough that they arrive
#: before they are needed, near enough that they are still in cache.
PREFETCH_CHUNKS = 2
#: Share of each prefetched row requested during the forward pass (measured:
#: a quarter beats a half or none, float32 and float64 alike).
FORWARD_PREFETCH_SHARE = 0.25
_PREFETCH_ROWS = PREFETCH_CHUNKS * CHUNK_ROWS
_CACHE_LINE = 64
_JIT = dict(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")


@numba.njit(inline="always", **_JIT)
def _prefetch_row_part(X, row, hi, first, last):
    """Request bytes first:last of row ``row`` of X from memory (if row < hi)."""
    if row < hi:
        address = X.ctypes.data + row * X.strides[0]
        for offset in range(first, last, _CACHE_LINE):
            prefetch(address + offset)


@numba.njit(inline="always", **_JIT)
def _forward(X, w, b, start, rows, z, hi, split):
    """z[k] = X[start + k]·w + b for k < rows, four rows per load of w;
    prefetches the start of the rows PREFETCH_CHUNKS chunks ahead."""
    n = X.shape[1]
    grouped = rows - rows % GROUP_ROWS
    for k in range(0, grouped, GROUP_ROWS):
        i = start + k
        for r in range(GROUP_ROWS):
            _prefetch_row_part(X, i + r + _PREFETCH_ROWS, hi, 0, split)
        z0 = z1 = z2 = z3 = b
        for j in range(n):
            wj = w[j]
            z0 += X[i, j] * wj
            z1 += X[i + 1, j] * wj
            z2 += X[i + 2, j] * wj
            z3 += X[i + 3, j] * wj
        z[k], z[k + 1], z[k + 2], z[k + 3] = z0, z1, z2, z3
    for k in range(grouped, rows):
        acc = b
        for j in range(n):
            acc += X[start + k, j] * w[j]
        z[k] = acc


@numba.njit(inline="always", **_JIT)
def _backward(X, dz, start, rows, partial, hi, split):
    """partial += Σₖ dz[k]·X[start + k], four rows per load and store of
    partial; prefetches the rest of the rows PREFETCH_CHUNKS chunks ahead."""
    n = X.shape[1]
    row_bytes = n * X.itemsize
    grouped = rows - rows % GROUP_ROWS
    for k in range(0, grouped, GROUP_ROWS):
        i = start + k
        for r in range(GROUP_ROWS):
            _prefetch_row_part(X, i + r + _PREFETCH_ROWS, hi, split, row_bytes)
        d0, d1, d2, d3 = dz[k], dz[k + 1], dz[k + 2], dz[k + 3]
        for j in range(n):
            partial[j] += (d0 * X[i, j] + d1 * X[i + 1, j]) + (d2 * X[i + 2, j] + d3 * X[i + 3, j])
    for k in range(grouped, rows):
        for j in range(n):
            partial[j] += dz[k] * X[start + k, j]


@numba.njit(inline="always", **_JIT)
def _loss_and_dz(z, y, s, start, rows, dz, losses, zero, one):
    """The SigmoidLogLoss node on a chunk: dz[k] = s·(a − y) and
    losses[k] = s·L for k < rows; returns Σ s·L and Σ s·dz in z's dtype.

    Two loops of vector instructions. The sums have a loop of their own, one
    that only reads: in a loop that also stores, the compiler guards the
    vector code with a run-time check that the arrays do not overlap and
    falls back to scalar code, which (with reassociation allowed) adds in
    another order, when they are merely close in memory. The sums would then
    depend on where the allocator put the arrays, and a resumed run would not
    repeat the bits of the run that was never interrupted.
    """
    weighted = s.shape[0] > 0
    for k in range(rows):
        i = start + k
        weight = s[i] if weighted else one
        losses[k] = weight * loss_from_logit_scalar(z[k], y[i])
        dz[k] = weight * dloss_dlogit_scalar(z[k], y[i])
    chunk_loss, chunk_dbias = zero, zero
    for k in range(rows):
        chunk_loss += losses[k]
        chunk_dbias += dz[k]
    return chunk_loss, chunk_dbias


def _compile_fused_rows(inlined_digest):
    """Compile the kernel; ``inlined_digest`` (of the modules whose code it
    inlines) is a closure constant so that Numba's cache key sees it."""
    @numba.njit(**_JIT)
    def fused_rows(X, y, s, w, b, lo, hi, grad):
        """Σ sᵢ L(zᵢ, yᵢ) over rows lo:hi; adds Σ sᵢ dzᵢ xᵢ and Σ sᵢ dzᵢ to grad.

        Parameters
        ----------
        X : ndarray, shape (m, n), float32 or float64
        y, s : ndarray, shape (m,) and (m,) or (0,), X's dtype
            Labels and sample weights; ``s`` of length 0 means unit weights.
        w : ndarray, shape (n,), X's dtype
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
        n = X.shape[1]
        split = int(n * X.itemsize * FORWARD_PREFETCH_SHARE) // _CACHE_LINE * _CACHE_LINE
        # Per-chunk values in X's dtype: float32 data gets float32 arithmetic,
        # and the chunk's sums, 32 terms long, are added to float64 totals.
        partial = np.zeros(n, dtype=X.dtype)
        z = np.empty(CHUNK_ROWS, dtype=X.dtype)
        dz = np.empty(CHUNK_ROWS, dtype=X.dtype)
        losses = np.empty(CHUNK_ROWS, dtype=X.dtype)
        zero, one = np.zeros(1, dtype=X.dtype)[0], np.ones(1, dtype=X.dtype)[0]
        loss, dbias = 0.0, 0.0
        for start in range(lo, hi, CHUNK_ROWS):
            rows = min(CHUNK_ROWS, hi - start)
            _forward(X, w, b, start, rows, z, hi, split)
            chunk_loss, chunk_dbias = _loss_and_dz(z, y, s, start, rows, dz, losses, zero, one)
            loss += chunk_loss
            dbias += chunk_dbias
            _backward(X, dz, start, rows, partial, hi, split)
            for j in range(n):
                grad[j] += partial[j]
                partial[j] = 0
        grad[n] += dbias
        return loss
    return fused_rows


fused_rows = _compile_fused_rows(sources_digest(numerics, intrinsics))

#: The SigmoidLogLoss node on a chunk of logits (shared with the CSR kernel).
chunk_loss_and_dz = _loss_and_dz
