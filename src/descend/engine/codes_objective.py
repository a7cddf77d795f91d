"""The training objective for a :class:`~descend.engine.codes.CodedMatrix`:
dense numbers beside categorical codes, the one-hot columns never written.

J(w, b) is :class:`~descend.engine.objective.Objective`'s, with X the full
matrix [numbers, one-hot levels]; each gradient is one read of the dense
block and the codes by :mod:`descend.engine.codes_kernels`. Rows go in the
dense objective's partial blocks (sized by a row's bytes, numbers and codes),
added in block order, so the numbers are the same bits whatever the thread
count. The default metric is the diagonal one: per one-hot column its mean
and variance are the level's weighted count c/S and (c/S)(1 − c/S), one
``bincount`` per categorical column, beside the dense block's column
moments; nothing n × n is built. For two classes and up to
:data:`~descend.optim.precondition.MAX_FULL_PARAMS` parameters the default
is the factored curvature, as for dense X: a block's share of [X 1]ᵀ D [X 1]
is one BLAS product for the numbers and, for the levels, sums of rᵢ xᵢ and
rᵢ by level and by pair of levels of a row (compiled: q(p + q) terms a row
for q categorical columns), so a refresh costs a few epochs (a general CSR
matrix's Σᵢ nnzᵢ² sparse products do not). The row samples of the
step-size estimates go through CSR copies of the rows concerned
(:meth:`CodedMatrix.tocsr`), with the CSR objective's code.
"""
import numpy as np

from descend.engine.codes import CodedMatrix
from descend.engine.codes_kernels import (
    codes_fused_rows,
    codes_gram_rows,
    codes_logits,
    codes_softmax_rows,
)
from descend.engine.csr_multinomial import CsrMultinomialObjective
from descend.engine.csr_objective import CsrObjective
from descend.engine.graph import SigmoidLogLoss, softmax_graph
from descend.engine.objective import BLOCK_BYTES, MIN_PARALLEL_SIZE, PARTIAL_BLOCKS, Objective
from descend.engine.threads import default_threads
from descend.optim.precondition import MAX_FULL_PARAMS


class CodesObjective(CsrObjective):
    """Mean weighted log-loss plus L2 for X = [numbers, one-hot(codes)], two classes.

    Implements the solver's interface (:class:`~descend.optim.problem.Problem`).

    Parameters
    ----------
    X : CodedMatrix of shape (m, n), n = p + Σ levels
        Used in place (the dense block may be memory-mapped), never expanded.
    y : ndarray of shape (m,)
        Targets in {0, 1}, cast to X's dtype.
    sample_weight : ndarray of shape (m,) or None
    l2 : float
        λ of the penalty λ‖w‖²/2 (every level's weight is penalised, as a
        one-hot column's is).
    fit_intercept : bool
    n_threads : int or None
        Threads over row blocks; None uses every core for large X.
    """

    def __init__(self, X, y, sample_weight=None, l2=0.0, fit_intercept=True, n_threads=None):
        if not isinstance(X, CodedMatrix):
            raise TypeError(f"CodesObjective needs a CodedMatrix, got {type(X).__name__}")
        self.engine = "compiled"
        self.X = X.check_codes()
        self.dtype = X.dtype
        self.y = np.asarray(y, dtype=self.dtype)
        self.s = None if sample_weight is None else np.asarray(sample_weight, dtype=self.dtype)
        self.S = float(len(y) if self.s is None else np.sum(self.s, dtype=np.float64))
        self.l2 = float(l2)
        self.fit_intercept = fit_intercept
        self.n_rows, self.n_features = X.shape
        self.n_params = self.n_features + int(fit_intercept)
        row_bytes = X.numeric.shape[1] * X.numeric.itemsize + X.codes.shape[1] * X.codes.itemsize
        self.block_rows = max(16, BLOCK_BYTES // max(1, row_bytes))
        self.partial_rows = self.block_rows * PARTIAL_BLOCKS
        self._edges = Objective._partial_edges(self)
        if n_threads is None:
            large = X.numeric.size + X.codes.size >= MIN_PARALLEL_SIZE
            n_threads = default_threads() if large else 1
        self.n_threads = max(1, min(n_threads, len(self._edges) - 1))
        self._no_weights = np.empty(0, dtype=self.dtype)

    # -- evaluation ---------------------------------------------------------
    def _loss_grad_compiled(self, lo, hi, w, b, X=None, y=None, s=None, S=None):
        """Rows lo:hi (of X, default the training X) through the codes kernel,
        one read of each row's numbers and codes; sums divided by S."""
        if X is None:
            X, y, s, S = self.X, self.y, self.s, self.S
        grad = np.zeros(self.n_features + 1)
        loss = codes_fused_rows(X.numeric, X.codes, X.offsets, y,
                                self._no_weights if s is None else s, w, b, lo, hi, grad)
        return loss / S, grad[:-1] / S, grad[-1] / S

    # -- curvature ----------------------------------------------------------
    @property
    def curvature_is_cheap(self):
        """Whether "auto" factors the curvature: up to ``MAX_FULL_PARAMS``
        parameters, as for dense X (see the module docstring)."""
        return self.n_params <= MAX_FULL_PARAMS

    def _curvature_parts(self, w_b):
        """Each partial block's [X 1]ᵀ diag(r) [X 1], in block order; on the
        threads when the parts are small (k × k each)."""
        if self.n_params <= MAX_FULL_PARAMS:
            return self._map(lambda lo, hi: self._coded_gram(lo, hi, w_b))
        return (self._coded_gram(lo, hi, w_b) for lo, hi in zip(self._edges[:-1],
                                                                  self._edges[1:]))

    def _coded_gram(self, lo, hi, w_b):
        """[X 1]ᵀ diag(r) [X 1] over rows lo:hi, float64, for X = [N, E] (N the
        numbers, E the one-hot levels, never written as columns): one
        compiled pass, then the upper triangle mirrored."""
        X, k = self.X, self.n_params
        if w_b is None:
            r = np.full(hi - lo, SigmoidLogLoss.max_curvature)
        else:
            z = np.empty(hi - lo)
            codes_logits(X.numeric, X.codes, X.offsets, w_b[0], w_b[1], lo, hi, z)
            r = SigmoidLogLoss.curvature(z)
        if self.s is not None:
            r *= self.s[lo:hi]
        H = np.zeros((k, k))
        codes_gram_rows(X.numeric, X.codes, X.offsets, r, lo, hi,
                        self.n_features if self.fit_intercept else -1, H)
        H += np.tril(H, -1).T
        return H

    # -- the CSR objective's code on CSR copies of some rows -------------------
    def _csr_rows(self, rows):
        return self.X[rows].tocsr()

    def _largest_value(self):
        numeric = self.X.numeric
        return max(float(np.max(np.abs(numeric))) if numeric.size else 0.0, 1.0)

    # -- moments ------------------------------------------------------------
    def column_moments(self):
        """Weighted mean and standard deviation of each column of the full
        matrix, float64: the dense block's in one pass, a level's from its
        weighted count c (mean c/S, variance (c/S)(1 − c/S))."""
        parts = self._map(self._numeric_sums)
        p = self.X.numeric.shape[1]
        total, square = np.zeros(self.n_features), np.zeros(self.n_features)
        for part_total, part_square in parts:
            total[:p] += part_total
            square[:p] += part_square
        counts = self.X.level_sums(self.s)
        total[p:], square[p:] = counts, counts
        mean = self._finite(total / self.S)
        var = self._finite(np.maximum(square / self.S - mean**2, 0.0))
        return mean, np.sqrt(var)

    def _numeric_sums(self, lo, hi):
        """Σ sᵢxᵢ and Σ sᵢxᵢ² of the dense block's rows lo:hi, float64."""
        p = self.X.numeric.shape[1]
        total, square = np.zeros(p), np.zeros(p)
        with np.errstate(over="ignore", invalid="ignore"):  # checked by the caller
            for start in range(lo, hi, self.block_rows):
                stop = min(start + self.block_rows, hi)
                Xb = self.X.numeric[start:stop].astype(np.float64)
                sb = None if self.s is None else self.s[start:stop]
                total += Xb.sum(axis=0) if sb is None else sb @ Xb
                square += (Xb * Xb).sum(axis=0) if sb is None else sb @ (Xb * Xb)
        return total, square



class CodesMultinomialObjective(CsrMultinomialObjective, CodesObjective):
    """Mean weighted softmax cross-entropy plus L2 for X = [numbers,
    one-hot(codes)] of K ≥ 3 classes, θ laid out (K, n + 1).

    Each gradient is one read of the rows by the K-class codes kernel; the
    metric is the diagonal one, the bound's products on a row sample are
    the CSR objective's on a CSR copy of the sample.

    Parameters
    ----------
    X : CodedMatrix of shape (m, n)
    y : ndarray of shape (m,)
        Class indices in [0, K).
    n_classes : int
        K.
    sample_weight, l2, fit_intercept, n_threads
        As for :class:`CodesObjective`.
    """

    def __init__(self, X, y, n_classes, sample_weight=None, l2=0.0, fit_intercept=True,
                 n_threads=None):
        CodesObjective.__init__(self, X, np.zeros(len(y)), sample_weight, l2, fit_intercept,
                                n_threads)
        self.y = np.ascontiguousarray(y, dtype=np.intp)
        self.n_outputs = int(n_classes)
        self.row_params = self.n_features + int(fit_intercept)
        self.n_params = self.n_outputs * self.row_params
        self._graph = softmax_graph()

    def _block(self, X, y, s, S, lo, hi, W, b):
        """(Σ sL / S, [dW db] / S) of rows lo:hi by the K-class codes kernel."""
        grad = np.zeros((self.n_outputs, self.n_features + 1))
        loss = codes_softmax_rows(X.numeric, X.codes, X.offsets, y,
                                  self._no_weights if s is None else s, W, b, lo, hi, grad)
        return loss / S, grad / S


def codes_objective(X, y, n_classes=2, sample_weight=None, **options):
    """The objective of a CodedMatrix X: two classes or K."""
    if n_classes > 2:
        return CodesMultinomialObjective(X, y, n_classes, sample_weight, **options)
    return CodesObjective(X, y, sample_weight, **options)

