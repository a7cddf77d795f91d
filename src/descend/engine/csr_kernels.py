"""The fused graph compiled for rows of a CSR matrix: one read of the non-zeros
per gradient.

A CSR row is its non-zeros ``data[p]`` in columns ``indices[p]`` for p in
``indptr[i]:indptr[i + 1]``. The lesson's graph only needs those: z = Σ wⱼxⱼ
+ b runs over the row's non-zeros, and dwⱼ = xⱼ·dz is non-zero only there.
The kernel takes rows in chunks of :data:`~descend.engine.kernels.CHUNK_ROWS`
(about 19 KiB of non-zeros at 50 per row, still in the first-level cache
between the passes) and, per chunk,

* gathers z[k] = Σₚ data[p]·w[indices[p]] + b for each row,
* runs the SigmoidLogLoss node on the whole chunk with the dense kernel's own
  loop (:func:`descend.engine.kernels.chunk_loss_and_dz`, the scalar formulas of
  :mod:`descend.engine.numerics`, vector instructions),
* scatters dw[indices[p]] += data[p]·dz[k] while the row is still in cache.

Indices need not be sorted, explicit zeros add nothing, empty rows have z = b.
float32 data gets float32 arithmetic (z, L and dz, the chunk's sums), as in the
dense kernel; the scattered terms are added to a float64 dw, so the rare
columns' few terms and the frequent columns' many keep their digits.
"""
import numba
import numpy as np

from descend.engine import intrinsics, kernels, numerics
from descend.engine.intrinsics import sources_digest
from descend.engine.kernels import CHUNK_ROWS, chunk_loss_and_dz

#: Indices as unsigned integers: Numba then drops the test for negative
#: indices (Python's wrap-around) from every gather and scatter, which took
#: the gather from 2–3 × scipy's CSR product to about 1 ×.
_U = np.uintp
_JIT = dict(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")


@numba.njit(inline="always", **_JIT)
def _forward(data, indices, indptr, w, b, start, rows, z):
    """z[k] = Σ data[p]·w[indices[p]] + b over row start + k's non-zeros."""
    for k in range(rows):
        i = start + k
        acc = b
        # a loop that only reads: its sum is in the same order wherever the
        # arrays lie (see chunk_loss_and_dz)
        for p in range(_U(indptr[i]), _U(indptr[i + 1])):
            acc += data[p] * w[_U(indices[p])]
        z[k] = acc


@numba.njit(inline="always", **_JIT)
def _backward(data, indices, indptr, dz, start, rows, grad):
    """grad[indices[p]] += data[p]·dz[k] over row start + k's non-zeros."""
    for k in range(rows):
        i = start + k
        d = dz[k]
        for p in range(_U(indptr[i]), _U(indptr[i + 1])):
            grad[_U(indices[p])] += data[p] * d


def _compile_csr_fused_rows(inlined_digest):
    """Compile the kernel; ``inlined_digest`` (of the modules whose code it
    inlines) is a closure constant so that Numba's cache key sees it."""
    @numba.njit(**_JIT)
    def csr_fused_rows(data, indices, indptr, y, s, w, b, lo, hi, grad):
        """Σ sᵢ L(zᵢ, yᵢ) over CSR rows lo:hi; adds Σ sᵢ dzᵢ xᵢ and Σ sᵢ dzᵢ to grad.

        Parameters
        ----------
        data : ndarray, shape (nnz,), float32 or float64
        indices : ndarray, shape (nnz,), int32 or int64
            Column of each non-zero, in any order within a row.
        indptr : ndarray, shape (m + 1,), int32 or int64
        y, s : ndarray, shape (m,) and (m,) or (0,), data's dtype
            Labels and sample weights; ``s`` of length 0 means unit weights.
        w : ndarray, shape (n,), data's dtype
        b : scalar, data's dtype
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
        n = w.shape[0]
        z = np.empty(CHUNK_ROWS, dtype=data.dtype)
        dz = np.empty(CHUNK_ROWS, dtype=data.dtype)
        losses = np.empty(CHUNK_ROWS, dtype=data.dtype)
        zero, one = np.zeros(1, dtype=data.dtype)[0], np.ones(1, dtype=data.dtype)[0]
        loss, dbias = 0.0, 0.0
        for start in range(lo, hi, CHUNK_ROWS):
            rows = min(CHUNK_ROWS, hi - start)
            _forward(data, indices, indptr, w, b, start, rows, z)
            chunk_loss, chunk_dbias = chunk_loss_and_dz(z, y, s, start, rows, dz, losses,
                                                        zero, one)
            loss += chunk_loss
            dbias += chunk_dbias
            _backward(data, indices, indptr, dz, start, rows, grad)
        grad[n] += dbias
        return loss
    return csr_fused_rows


@numba.njit(**_JIT)
def csr_column_sums(data, indices, indptr, s, n):
    """Σᵢ sᵢxᵢⱼ and Σᵢ sᵢxᵢⱼ² per column (float64, shape (n,) each), in row
    order; ``s`` of length 0 means unit weights."""
    total, square = np.zeros(n), np.zeros(n)
    weighted = s.shape[0] > 0
    for i in range(indptr.shape[0] - 1):
        weight = np.float64(s[i]) if weighted else 1.0
        for p in range(_U(indptr[i]), _U(indptr[i + 1])):
            x, j = np.float64(data[p]), _U(indices[p])
            total[j] += weight * x
            square[j] += weight * x * x
    return total, square


@numba.njit(**_JIT)
def csr_has_duplicates(indices, indptr, n):
    """Whether some row stores a column twice (scipy's non-canonical CSR),
    in one pass over the indices, sorted or not."""
    last_row = np.full(n, -1, dtype=np.int64)
    for i in range(indptr.shape[0] - 1):
        for p in range(_U(indptr[i]), _U(indptr[i + 1])):
            j = _U(indices[p])
            if last_row[j] == i:
                return True
            last_row[j] = i
    return False


csr_fused_rows = _compile_csr_fused_rows(sources_digest(numerics, intrinsics, kernels))
