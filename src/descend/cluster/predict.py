"""Predictions on dask input: lazy dask arrays, one task per row chunk.

Each chunk runs the fitted estimator's own in-memory method, so the numbers
are those of the NumPy path; nothing is computed until the caller asks.
"""
import warnings

import numpy as np

from descend.cluster.arrays import as_matrix


class _Blockwise:
    """method(rows) of a fitted estimator, for map_blocks (picklable)."""

    def __init__(self, estimator, method):
        self.estimator, self.method = estimator, method

    def __call__(self, block):
        with warnings.catch_warnings():
            # the chunk is a bare array; the names were checked on the whole input
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return getattr(self.estimator, self.method)(block)


def lazy(estimator, X, method):
    """``estimator.method(X)`` for dask X as a lazy dask array with X's row
    chunks: shape (m,) for predict and the binary decision function, (m, K)
    otherwise (K = 2 for binary probabilities)."""
    X = as_matrix(estimator, X, reset=False)
    K = len(estimator.classes_)
    one_column = method == "predict" or (method == "decision_function" and K == 2)
    dtype = estimator.classes_.dtype if method == "predict" else X.dtype
    fn = _Blockwise(estimator, method)
    if one_column:
        return X.map_blocks(fn, drop_axis=1, dtype=dtype, meta=np.empty((0,), dtype))
    return X.map_blocks(fn, chunks=(X.chunks[0], (K,)), dtype=dtype,
                        meta=np.empty((0, K), dtype))
