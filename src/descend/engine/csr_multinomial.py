"""The K-class objective for scipy sparse X: the multinomial loss over CSR rows.

J(W, b) is :class:`~descend.engine.multinomial.MultinomialObjective`'s; X is
held as CSR (:class:`~descend.engine.csr_objective.CsrObjective`: converted
once, never densified, blocks cut by non-zeros and added in order). Each
block's logits Z = X_b Wᵀ + b and gradient dW = dZᵀ X_b are scipy's sparse
products around the softmax row formula of :mod:`descend.engine.softmax`:
two reads of the block's non-zeros per gradient, not the dense path's one.
The default metric is the diagonal one (as for binary sparse X); the n × n
curvature is not offered.
"""
import numpy as np
import scipy.sparse as sp

from descend.engine.csr_objective import CsrObjective
from descend.engine.graph import SigmoidLogLoss, softmax_graph
from descend.engine.multinomial import BOHNING, MultinomialObjective
from descend.engine.softmax import loss_and_dlogits
from descend.exceptions import UsageError


class CsrMultinomialObjective(MultinomialObjective, CsrObjective):
    """Mean weighted softmax cross-entropy plus L2 for CSR X of K ≥ 3 classes.

    Parameters
    ----------
    X : scipy sparse matrix or array of shape (m, n), float32 or float64
    y : ndarray of shape (m,)
        Class indices in [0, K).
    n_classes : int
        K.
    sample_weight, l2, fit_intercept, n_threads
        As for :class:`~descend.engine.csr_objective.CsrObjective`.
    """

    def __init__(self, X, y, n_classes, sample_weight=None, l2=0.0, fit_intercept=True,
                 n_threads=None):
        CsrObjective.__init__(self, X, np.zeros(len(y)), sample_weight, l2, fit_intercept,
                              n_threads)
        self.y = np.ascontiguousarray(y, dtype=np.intp)
        self.n_outputs = int(n_classes)
        self.row_params = self.n_features + int(fit_intercept)
        self.n_params = self.n_outputs * self.row_params
        self._graph = softmax_graph()

    def _block(self, X, y, s, S, lo, hi, W, b):
        """(Σ sL / S, [dW db] / S) of rows lo:hi by sparse products."""
        Xb = X[lo:hi]
        Z = np.asarray(Xb @ W.T, dtype=self.dtype) + b
        losses, dZ = loss_and_dlogits(Z, y[lo:hi])
        if s is not None:
            losses, dZ = losses * s[lo:hi], dZ * s[lo:hi, None]
        dZ = dZ.astype(np.float64)
        grad = np.empty((self.n_outputs, self.n_features + 1))
        grad[:, :-1] = (Xb.T.astype(np.float64) @ dZ).T
        grad[:, -1] = dZ.sum(axis=0)
        return float(np.sum(losses, dtype=np.float64)) / S, grad / S

    curvature_is_cheap = False  # not offered (below), whatever a subclass's rows

    def curvature(self, theta=None):
        raise UsageError("the 'full' preconditioner is not available for sparse or coded X "
                         "with K classes (it would be a dense (K(n + 1))² matrix); use "
                         "{preconditioner}", preconditioner=["diagonal", "auto"])

    def _rows_with_ones(self, max_rows):
        X, s = self._sample(max_rows)
        if self.fit_intercept:
            X = sp.hstack([X, np.ones((X.shape[0], 1))], format="csr")
        return X, s

    def bound_operator(self, max_rows):
        """v ↦ B̃ v, B̃ Böhning's bound on a row sample, by sparse products."""
        X, s = self._rows_with_ones(max_rows)
        S, K, n = s.sum(), self.n_outputs, self.n_features

        def apply(theta):
            V = theta.reshape(K, -1)
            Z = np.asarray(X @ V.T)
            Z = (Z - Z.mean(axis=1, keepdims=True)) * (s[:, None] * BOHNING / S)
            out = np.asarray(X.T @ Z).T
            out[:, :n] += self.l2 * V[:, :n]
            return out.ravel()
        return apply

    def largest_row_curvature(self, precond, max_rows):
        """max over sampled rows of one row's Böhning bound in θ = T θ′.

        With T = I_K ⊗ T₁ (one class's change of variables on every class),
        ½ (I − 11ᵀ/K) ⊗ (T₁ᵀx̃)(T₁ᵀx̃)ᵀ has largest eigenvalue ½‖T₁ᵀx̃‖²: twice
        the binary bound's ¼‖T₁ᵀx̃‖², which CSR computes from the non-zeros.
        """
        inner = getattr(precond, "inner", precond)
        ratio = BOHNING / SigmoidLogLoss.max_curvature
        return ratio * CsrObjective.largest_row_curvature(self, inner, max_rows)
