"""A design matrix of numbers and categories: a dense block beside integer codes.

One-hot encoding a categorical column of L levels writes L columns of which
one is 1 in each row; a 1,000-level column on 10M rows is 80 GB of mostly
zeros. :class:`CodedMatrix` keeps the column as its codes instead, one small
integer per row: row i of the full matrix is

    x̃ᵢ = [xᵢ (the dense block, p numbers), onehot(cᵢ₁) (L₁), …, onehot(c_iq) (L_q)]

and its column ``offsets[j] + c`` is the one-hot column of level c of
categorical column j. The lesson's z = Σ w·x̃ + b then reads w at one place
per categorical column, z = xᵢ·w[:p] + Σⱼ w[offsets[j] + cᵢⱼ] + b, and the
backward pass adds dz to that same place (:mod:`descend.engine.codes_kernels`).
A code of −1 is a level the model does not know: its row of that block is all
zeros, as scikit-learn's ``OneHotEncoder(handle_unknown="ignore")`` writes it.
"""
import numpy as np
import scipy.sparse as sp

from descend.exceptions import DataError


def code_dtype(levels):
    """The smallest signed integer type that holds codes −1 … max(levels) − 1."""
    largest = max(levels, default=0)
    for dtype in (np.int8, np.int16, np.int32):
        if largest <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def level_names(columns, categories):
    """``column=level`` for each level of each categorical column, in order:
    the names of the one-hot columns."""
    return [f"{column}={level}" for column, levels in zip(columns, categories)
            for level in levels]


class CodedMatrix:
    """The (m, p + Σ levels) matrix [numeric, onehot(codes)] held as its parts.

    Parameters
    ----------
    numeric : ndarray of shape (m, p), float32 or float64, C order
        The dense block (e.g. standardised numbers); may be memory-mapped.
    codes : ndarray of shape (m, q), signed integers, C order
        Level of each row in each categorical column, −1 for an unknown level.
    levels : sequence of int, length q
        Levels of each categorical column (the width of its one-hot block).

    Indexing by rows (a slice, an index array, a mask) gives a CodedMatrix of
    those rows; an integer gives that row of the full matrix, dense, shape
    (n,). ``X @ w`` (w of shape (n,) or (n, K)) is the product with the full
    matrix, never built; ``np.asarray(X)`` builds it (small matrices only).
    """

    ndim = 2

    def __init__(self, numeric, codes, levels):
        numeric, codes = np.asarray(numeric), np.asarray(codes)
        if codes.ndim == 1:
            codes = codes[:, None]
        if numeric.ndim != 2 or codes.ndim != 2 or len(numeric) != len(codes):
            raise DataError(f"the numeric block {numeric.shape} and the codes {codes.shape} "
                            "must be 2-D with one row per example")
        if numeric.dtype not in (np.float32, np.float64) or codes.dtype.kind != "i":
            raise DataError(f"a CodedMatrix needs float32/float64 numbers and signed integer "
                            f"codes, got {numeric.dtype} and {codes.dtype}")
        self.levels = tuple(int(v) for v in levels)
        if len(self.levels) != codes.shape[1] or min(self.levels, default=1) < 1:
            raise DataError(f"levels {list(self.levels)[:5]} must give each of the "
                            f"{codes.shape[1]} code columns a positive number of levels")
        self.numeric, self.codes = numeric, codes
        self.offsets = numeric.shape[1] + np.cumsum([0, *self.levels[:-1]], dtype=np.int64)

    @property
    def shape(self):
        return (len(self.numeric), self.numeric.shape[1] + sum(self.levels))

    @property
    def dtype(self):
        return self.numeric.dtype

    @property
    def nbytes(self):
        """Bytes of the parts: the dense block and the codes."""
        return self.numeric.nbytes + self.codes.nbytes

    def __len__(self):
        return len(self.numeric)

    def check_codes(self):
        """A DataError when a code is below −1 or not below its column's levels."""
        for j, width in enumerate(self.levels):
            column = self.codes[:, j]
            if len(column) and (column.min() < -1 or column.max() >= width):
                raise DataError(f"code column {j} holds codes outside −1 … {width - 1} "
                                f"(found {int(column.min())} … {int(column.max())}); give "
                                "each level a code below its column's number of levels")
        return self

    def __getitem__(self, rows):
        if isinstance(rows, tuple):
            raise TypeError("a CodedMatrix is indexed by rows only; use np.asarray(X) for "
                            "the full matrix")
        if isinstance(rows, (int, np.integer)):
            return self.dense_rows(slice(rows, rows + 1 if rows != -1 else None))[0]
        numeric, codes = self.numeric[rows], self.codes[rows]
        return CodedMatrix(np.ascontiguousarray(numeric), np.ascontiguousarray(codes),
                           self.levels)

    def _known(self):
        """(row, column of the full matrix) of every known code, row-major."""
        rows, cols = np.nonzero(self.codes >= 0)
        return rows, self.offsets[cols] + self.codes[rows, cols]

    def dense_rows(self, rows=slice(None)):
        """Rows of the full matrix, dense, shape (k, n)."""
        part = self if rows == slice(None) else self[rows]
        out = np.zeros(part.shape, dtype=part.dtype)
        out[:, :part.numeric.shape[1]] = part.numeric
        r, c = part._known()
        out[r, c] = 1
        return out

    def __array__(self, dtype=None, copy=None):
        dense = self.dense_rows()
        return dense if dtype is None else dense.astype(dtype)

    def tocsr(self, dtype=np.float64):
        """The full matrix as a scipy CSR matrix (the dense block's zeros kept)."""
        m, p = self.numeric.shape
        known = self.codes >= 0
        data = np.concatenate([self.numeric.astype(dtype), known.astype(dtype)], axis=1)
        cols = np.concatenate([np.broadcast_to(np.arange(p), (m, p)),
                               self.offsets + np.where(known, self.codes, 0)], axis=1)
        keep = np.concatenate([np.ones((m, p), bool), known], axis=1)
        X = sp.csr_matrix((data[keep], cols[keep], np.concatenate(
            [[0], np.cumsum(keep.sum(axis=1))])), shape=self.shape)
        return X

    def __matmul__(self, w):
        """X w for w of shape (n,) or (n, K), in the wider of the two dtypes."""
        w = np.asarray(w)
        if w.shape[0] != self.shape[1]:
            raise ValueError(f"matmul: X has {self.shape[1]} columns, w {w.shape[0]} rows")
        p = self.numeric.shape[1]
        z = self.numeric @ w[:p]
        for j, offset in enumerate(self.offsets):
            codes = self.codes[:, j]
            # an unknown level (−1) reads a zero: w's block has a zero appended
            block = w[offset:offset + self.levels[j]]
            padded = np.concatenate([block, np.zeros((1,) + w.shape[1:], dtype=w.dtype)])
            z = z + padded[codes]
        return z

    def level_sums(self, s=None):
        """Σᵢ sᵢ over the rows of each level, float64, shape (Σ levels,): the
        one-hot columns' sums (and sums of squares: their entries are 0 or 1)."""
        weights = None if s is None else np.asarray(s, dtype=np.float64)
        sums = []
        for j, width in enumerate(self.levels):
            codes = self.codes[:, j]
            known = codes >= 0
            part = None if weights is None else weights[known]
            sums.append(np.bincount(codes[known], weights=part, minlength=width)
                        .astype(np.float64))
        return np.concatenate(sums) if sums else np.zeros(0)


def is_coded(X):
    """Whether X is a :class:`CodedMatrix`."""
    return isinstance(X, CodedMatrix)


def validate_coded(estimator, X, y=None, reset=True, n_columns=None):
    """scikit-learn's ``validate_data`` for a CodedMatrix X (and y, if given):
    the number of columns set on ``reset``, else checked against
    ``n_columns`` (default ``n_features_in_``); X is not copied."""
    X.check_codes()
    expected = getattr(estimator, "n_features_in_", X.shape[1]) if n_columns is None \
        else n_columns
    if reset:
        estimator.n_features_in_ = X.shape[1]
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif X.shape[1] != expected:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {expected} features as input")
    if y is None:
        return X
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must be 1-D with one label per row of X ({len(X)}), got "
                         f"shape {y.shape}")
    return X, y
