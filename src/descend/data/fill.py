"""Rows of X written by compiled code: standardised numbers and one-hot ones.

A block of rows arrives as its numeric columns (float64, NaN where missing)
and its categorical columns as category codes (−1 for a category the model
does not know). One compiled loop writes each row of X once, in place, in X's
dtype: (x − mean)/scale for each number (the fill value first where it is
missing) and a 1 at ``offset + code`` for each category; X's other entries are
the zeros it was allocated with. Rows go to threads in contiguous runs: the
first write to new memory (the page faults of a fresh X) is much of the cost,
and it overlaps on two cores. Each row is written from its own inputs only,
so the result does not depend on the threads.
"""
import numba
import numpy as np

from descend.engine.threads import default_threads, pool

#: Below this many rows a second thread costs more than it saves.
MIN_THREAD_ROWS = 4096


@numba.njit(nogil=True, cache=True)
def _fill(values, mean, scale, fill, codes, offsets, positions, out, lo, hi, counts):
    """Rows lo:hi of the block into ``out[positions[r]]``; ``counts[0, j]``
    gets the missing and ``counts[1, j]`` the infinite values of column j."""
    n_num, n_cat = values.shape[0], codes.shape[0]
    for r in range(lo, hi):
        row = out[positions[r]]
        for j in range(n_num):
            v = values[j, r]
            if np.isnan(v):
                counts[0, j] += 1
                v = fill[j]
            elif np.isinf(v):
                counts[1, j] += 1
            row[j] = (v - mean[j]) / scale[j]
        for c in range(n_cat):
            code = codes[c, r]
            if code >= 0:
                row[offsets[c] + code] = 1


def fill_block(values, mean, scale, fill, codes, offsets, positions, out, threads=None):
    """Write the rows of one block into ``out``.

    Parameters
    ----------
    values : ndarray of float64, shape (n_numeric, k)
        The block's numeric columns, NaN where missing.
    mean, scale, fill : ndarray of float64, shape (n_numeric,)
        x ↦ (x − mean)/scale, with ``fill`` for a missing x (NaN: no fill).
    codes : ndarray of int32, shape (n_categorical, k)
        Category index of each row in each categorical column; −1 for none.
    offsets : ndarray of int64, shape (n_categorical,)
        Column of X where each categorical column's one-hot block starts.
    positions : ndarray of int64, shape (k,)
        Row of ``out`` each row of the block goes to.
    out : ndarray, shape (m, n_features), C order, zeros where rows go
    threads : int or None
        Threads to split the rows over (None: the cores this process may use).

    Returns
    -------
    ndarray of int64, shape (2, n_numeric)
        Per numeric column: missing values left unfilled (NaN ``fill``) and
        infinite values; rows holding either must not be used.
    """
    k = len(positions)
    n_threads = max(1, min(threads or default_threads(), k // MIN_THREAD_ROWS))
    edges = np.linspace(0, k, n_threads + 1).astype(np.int64)
    counts = np.zeros((n_threads, 2, values.shape[0]), dtype=np.int64)
    args = (values, mean, scale, fill, codes, offsets, positions, out)
    if n_threads == 1:
        _fill(*args, 0, k, counts[0])
    else:
        futures = [pool(n_threads).submit(_fill, *args, edges[t], edges[t + 1], counts[t])
                   for t in range(n_threads)]
        for future in futures:
            future.result()
    counts = counts.sum(axis=0)
    counts[0][~np.isnan(fill)] = 0  # filled gaps are not missing
    return counts


def load_compiled(dtype=None):
    """Call the compiled fill once, on one row written as ``dtype`` (None:
    float64, X's default): Numba's
    first call of a process loads its machinery and the cached machine code
    (about 0.4 s), which the fill of X then does not wait for. Worth it
    while another thread still reads the data."""
    values, codes = np.zeros((1, 1)), np.zeros((1, 1), dtype=np.int32)
    fill_block(values, np.zeros(1), np.ones(1), np.zeros(1), codes, np.ones(1, np.int64),
               np.zeros(1, np.int64), np.zeros((1, 2), dtype=dtype or np.float64), threads=1)
