"""The training objective of :mod:`descend.engine.objective` for a CSR matrix X.

The same J(w, b) = Σᵢ sᵢ L(aᵢ, yᵢ) / Σᵢ sᵢ + λ‖w‖²/2, evaluated by the CSR
kernel (:mod:`descend.engine.csr_kernels`): one read of the non-zeros per
gradient. Rows go in partial blocks of about ``PARTIAL_NNZ`` non-zeros, cut
where the non-zeros (not the threads) say; each block's dw is its own float64
vector and the blocks are added in order, so the numbers are the same bits
whatever the thread count. X is used in place: never densified, and not
copied unless a row stores a column twice (see :func:`as_csr`); a mini-batch
or a row sample is a copy of its own rows only.
"""
import numpy as np
import scipy.sparse as sp

from descend.engine.csr_kernels import csr_column_sums, csr_fused_rows, csr_has_duplicates
from descend.engine.graph import SigmoidLogLoss
from descend.engine.objective import MIN_PARALLEL_SIZE, Objective
from descend.engine.threads import default_threads
from descend.exceptions import DataError, UsageError
from descend.optim.precondition import transform_matrix

#: Non-zeros per partial block: 4 Mi (48 MiB of float64 values and int32
#: columns), so a gradient of 50 M non-zeros adds a dozen dw vectors.
PARTIAL_NNZ = 1 << 22
#: Above this many parameters, an n × n curvature matrix (the "full"
#: preconditioner) is refused: it would cost n² memory and n³ to factor.
MAX_CURVATURE_PARAMS = 4096


def as_csr(X):
    """A scipy sparse matrix or array (any format) as a CSR matrix, converted
    once. CSR input is used as it is, its arrays not copied, unless a row
    stores a column twice: then a copy has the repeats summed (the gradient
    would not mind, but the column moments and row curvatures square each
    stored value, and (a + b)² is not a² + b²)."""
    X = X if sp.isspmatrix_csr(X) else sp.csr_matrix(X)
    if csr_has_duplicates(X.indices, X.indptr, X.shape[1]):
        X = X.copy()
        X.sum_duplicates()
    return X


class CsrObjective(Objective):
    """Mean weighted log-loss plus L2 for a CSR X, evaluated by row blocks.

    Implements the solver's interface (:class:`~descend.optim.problem.Problem`).

    Parameters
    ----------
    X : scipy.sparse CSR matrix or array of shape (m, n), float32 or float64
        int32 or int64 indices, sorted or not, explicit zeros allowed.
    y : ndarray of shape (m,)
        Targets in {0, 1}, cast to X's dtype.
    sample_weight : ndarray of shape (m,) or None
    l2 : float
        λ of the penalty λ‖w‖²/2.
    fit_intercept : bool
    n_threads : int or None
        Threads over row blocks; None uses every core when X has at least
        ``MIN_PARALLEL_SIZE`` non-zeros.
    """

    #: The curvature matrix is a sparse product costing Σᵢ nnzᵢ² (scipy, about
    #: 20 ns each) against an epoch's Σᵢ nnzᵢ: measured on 200,000 text-like
    #: rows × 1,000 columns (34 non-zeros a row), one curvature took 6.2 s,
    #: about 90 epochs, and the factored metric's fit (9 iterations, two
    #: refreshes) 16.9 s against the diagonal metric's 2.1 s (53 iterations;
    #: gap 1e-6 at iteration 22). So "auto" takes the diagonal metric for
    #: sparse X whatever its width; "full" is there on request.
    curvature_is_cheap = False

    def __init__(self, X, y, sample_weight=None, l2=0.0, fit_intercept=True, n_threads=None):
        self.engine = "compiled"
        self.X = as_csr(X)
        self.dtype = self.X.dtype
        if self.dtype not in (np.float32, np.float64):
            raise DataError(f"sparse X has dtype {self.dtype}; convert it with "
                            "X.astype(np.float64) (or np.float32)")
        self.y = np.asarray(y, dtype=self.dtype)
        self.s = None if sample_weight is None else np.asarray(sample_weight, dtype=self.dtype)
        self.S = float(len(y) if self.s is None else np.sum(self.s, dtype=np.float64))
        self.l2 = float(l2)
        self.fit_intercept = fit_intercept
        self.n_rows, self.n_features = self.X.shape
        self.n_params = self.n_features + int(fit_intercept)
        self._edges = self._nnz_edges()
        if n_threads is None:
            n_threads = default_threads() if self.X.nnz >= MIN_PARALLEL_SIZE else 1
        self.n_threads = max(1, min(n_threads, len(self._edges) - 1))
        self._no_weights = np.empty(0, dtype=self.dtype)

    def _nnz_edges(self):
        """Row edges cutting X into blocks of about PARTIAL_NNZ non-zeros."""
        m, indptr = self.n_rows, self.X.indptr
        cuts = np.searchsorted(indptr, np.arange(PARTIAL_NNZ, self.X.nnz, PARTIAL_NNZ))
        inner = [int(c) for c in np.unique(cuts) if 0 < c < m]
        return [0] + inner + [m] if m else [0, 0]

    def _partial_edges(self):
        return self._edges

    # -- evaluation ---------------------------------------------------------
    def _loss_grad_compiled(self, lo, hi, w, b, X=None, y=None, s=None, S=None):
        """Rows lo:hi (of X, default the training X) through the CSR kernel,
        one read of each non-zero; the sums are divided by the total weight S."""
        if X is None:
            X, y, s, S = self.X, self.y, self.s, self.S
        grad = np.zeros(self.n_features + 1)
        loss = csr_fused_rows(X.data, X.indices, X.indptr, y,
                              self._no_weights if s is None else s, w, b, lo, hi, grad)
        return loss / S, grad[:-1] / S, grad[-1] / S

    # -- curvature ----------------------------------------------------------
    def curvature(self, theta=None):
        """∇²J(θ) = [X 1]ᵀ diag(sᵢ dᵢ) [X 1] / Σs + λ (dᵢ = a(1 − a) at θ, or
        the bound's 1/4 with θ None), shape (n_params, n_params), float64.

        Sparse products block by block (Σ over rows of nnzᵢ² work, float64),
        added in block order. Refused above ``MAX_CURVATURE_PARAMS``: the
        matrix alone would be n² numbers; the default solver then uses the
        diagonal preconditioner, which needs only the column moments.
        """
        n, k = self.n_features, self.n_params
        if k > MAX_CURVATURE_PARAMS:
            raise UsageError(f"{{preconditioner}}='full' needs a {k:,} × {k:,} curvature "
                             f"matrix for this sparse X of {n:,} columns; use "
                             "{preconditioner}", preconditioner=["diagonal", "auto"])
        w_b = None if theta is None else self.split(theta)
        H = np.zeros((k, k))
        for part in self._curvature_parts(w_b):
            H += part  # in block order: the same bits whatever the threads
        if self.fit_intercept:
            H[n, :n] = H[:n, n]
        H /= self.S
        H[np.arange(n), np.arange(n)] += self.l2
        return self._finite(H)

    def _curvature_parts(self, w_b):
        """[X 1]ᵀ diag(r) [X 1] summed over the blocks of rows in order, as one
        part (the intercept's row left zero): sparse products added in place,
        so no k × k matrix is made per block."""
        n, k = self.n_features, self.n_params
        H = np.zeros((k, k))
        for lo, hi in zip(self._edges[:-1], self._edges[1:]):
            Xb = self._csr_rows(slice(lo, hi))
            r = self._row_curvatures(Xb, w_b, lo, hi)
            H[:n, :n] += (Xb.T @ sp.diags(r) @ Xb).toarray()
            if self.fit_intercept:
                H[:n, n] += Xb.T @ r
                H[n, n] += float(np.sum(r))
        return [H]

    def _row_curvatures(self, Xb, w_b, lo, hi):
        """rᵢ = sᵢ a(1 − a) at (w, b) for rows lo:hi of X (Xb), float64: the
        bound's 1/4 with w_b None."""
        if w_b is None:
            r = np.full(hi - lo, SigmoidLogLoss.max_curvature)
        else:
            r = SigmoidLogLoss.curvature(Xb @ w_b[0].astype(np.float64) + float(w_b[1]))
        return r if self.s is None else r * self.s[lo:hi]

    def _csr_rows(self, rows):
        """Rows of X as a float64 CSR matrix (a copy of those rows only)."""
        return self.X[rows].astype(np.float64)

    def _largest_value(self):
        return float(abs(self.X).max()) if self.X.nnz else 0.0

    def _finite(self, values):
        if not np.all(np.isfinite(values)):
            raise DataError(f"X has values as large as {self._largest_value():.3g}: their "
                            "squares overflow floating point; rescale those features (divide "
                            "by a power of ten, take a log, or use MaxAbsScaler)")
        return values

    def column_moments(self):
        """Weighted mean and standard deviation of each column (zeros
        included), float64, one pass over the non-zeros."""
        total, square = csr_column_sums(self.X.data, self.X.indices, self.X.indptr,
                                        self._no_weights if self.s is None else self.s,
                                        self.n_features)
        mean = self._finite(total / self.S)
        var = self._finite(np.maximum(square / self.S - mean**2, 0.0))
        return mean, np.sqrt(var)

    # -- row samples, for step sizes ----------------------------------------
    def _sample(self, max_rows):
        rows = self._sample_rows(max_rows)
        X = self._csr_rows(rows)
        s = np.ones(len(rows)) if self.s is None else self.s[rows].astype(np.float64)
        return X, s

    def largest_row_curvature(self, precond, max_rows):
        """max over sampled rows of ‖Tᵀ [x, 1]‖² / 4 (T the change of
        variables of ``precond``), from the rows' non-zeros when T is diagonal
        with a shift (standardisation) or the identity."""
        X, _ = self._sample(max_rows)
        c = 1.0 if self.fit_intercept else 0.0
        if precond.name in ("none", "diagonal"):
            n = self.n_features
            inv2 = precond.inv_scale**2 if precond.name == "diagonal" else np.ones(n)
            mean = precond.mean if precond.name == "diagonal" else np.zeros(n)
            # ‖(x − cμ)·ι‖² + c² = Σ x²ι² − 2c Σ xμι² + c² Σ μ²ι² + c², summed over non-zeros
            squares = (X.multiply(X) @ inv2 - 2 * c * (X @ (mean * inv2))
                       + c * c * float(mean**2 @ inv2) + c * c)
        else:
            T = transform_matrix(precond, self.n_params)
            rows = sp.hstack([X, np.full((X.shape[0], 1), c)]).tocsr() if c else X
            squares = np.sum(np.asarray(rows @ T) ** 2, axis=1)
        return float(np.max(squares, initial=0.0)) * SigmoidLogLoss.max_curvature
