"""The K-class training objective and its gradient, in one pass over X.

J(W, b) = Σᵢ sᵢ [logsumexp(zᵢ) − z_{i,yᵢ}] / Σᵢ sᵢ + λ‖W‖²_F / 2, zᵢ = W xᵢ + b,
with λ = 1 / (C Σᵢ sᵢ): scikit-learn's multinomial ``LogisticRegression(C)``
(the full K × n matrix W, no reference class, b unpenalised).

θ is laid out (K, n + 1) row by row, flattened: class k's weights, then its
intercept (no intercept column without ``fit_intercept``). Rows, threads and
the order of the partial sums are the binary objective's
(:class:`~descend.engine.objective.Objective`), so the numbers are the same
whatever the thread count.
"""
import numpy as np

from descend.engine.graph import SigmoidLogLoss, softmax_graph
from descend.engine.objective import Objective, raise_magnitude_error
from descend.engine.softmax import softmax
from descend.engine.softmax_kernels import softmax_rows
from descend.optim.precondition import transform_matrix

#: Böhning's bound: ∇²L(z) = diag(a) − aaᵀ ⪯ ½ (I − 11ᵀ/K) for every z.
BOHNING = 0.5
#: The refreshed curvature: the Hessian ("full") or its K diagonal blocks
#: ("block"), the classes' couplings dropped (see benchmarks/README.md).
HESSIAN = "full"
#: Rows sampled for the largest one-row curvature (each costs K²(n + 1)²).
ROW_CURVATURE_ROWS = 2000


class MultinomialObjective(Objective):
    """Mean weighted softmax cross-entropy plus L2, evaluated block by block.

    Implements :class:`~descend.optim.problem.Problem` for a dense X of
    K ≥ 3 classes.

    Parameters
    ----------
    X : ndarray of shape (m, n), float32 or float64
        Used in place, never copied.
    y : ndarray of shape (m,)
        Class indices in [0, K).
    n_classes : int
        K.
    sample_weight, l2, fit_intercept, n_threads, block_rows, engine
        As for :class:`~descend.engine.objective.Objective`.
    """

    def __init__(self, X, y, n_classes, sample_weight=None, l2=0.0, fit_intercept=True,
                 n_threads=None, block_rows=None, engine="compiled"):
        super().__init__(X, np.zeros(len(y)), sample_weight, l2, fit_intercept,
                         n_threads, block_rows, engine)
        self.y = np.ascontiguousarray(y, dtype=np.intp)
        self.n_outputs = int(n_classes)
        self.row_params = self.n_features + int(fit_intercept)
        self.n_params = self.n_outputs * self.row_params
        self._graph = softmax_graph()

    # -- parameters ---------------------------------------------------------
    def split(self, theta):
        """θ → (W (K, n), b (K,)) in X's dtype; b is 0 without an intercept."""
        T = np.asarray(theta, dtype=np.float64).reshape(self.n_outputs, self.row_params)
        W = np.ascontiguousarray(T[:, :self.n_features], dtype=self.dtype)
        b = T[:, -1] if self.fit_intercept else np.zeros(self.n_outputs)
        return W, np.ascontiguousarray(b, dtype=self.dtype)

    # -- evaluation ---------------------------------------------------------
    def loss_grad(self, theta, rows=None):
        """Return J(θ) and ∇J(θ) (float64, shape (n_params,)) in one pass over X."""
        W, b = self.split(theta)
        if rows is not None:
            s = None if self.s is None else self.s[rows]
            S = float(len(rows) if s is None else np.sum(s, dtype=np.float64))
            parts = [self._block(self.X[rows], self.y[rows], s, S, 0, len(rows), W, b)]
        else:
            parts = self._map(lambda lo, hi: self._block(
                self.X, self.y, self.s, self.S, lo, hi, W, b))
        loss = sum(p[0] for p in parts)
        grad = sum(p[1] for p in parts)
        W64 = np.asarray(theta, dtype=np.float64).reshape(self.n_outputs, -1)[:, :self.n_features]
        loss += 0.5 * self.l2 * float(np.sum(W64 * W64))
        grad[:, :self.n_features] += self.l2 * W64
        return float(loss), grad[:, :self.row_params].ravel()

    def _block(self, X, y, s, S, lo, hi, W, b):
        """(Σ sL / S, [dW db] / S) of rows lo:hi, compiled or through the graph."""
        grad = np.zeros((self.n_outputs, self.n_features + 1))
        if self.engine == "compiled":
            loss = softmax_rows(X, y, self._no_weights if s is None else s, W, b, lo, hi, grad)
            return loss / S, grad / S
        loss, totals = 0.0, {"W": grad[:, :-1], "b": grad[:, -1]}
        for start in range(lo, hi, self.block_rows):
            stop = min(start + self.block_rows, hi)
            values = self._graph.forward(x=X[start:stop], W=W, b=b, y=y[start:stop],
                                         s=None if s is None else s[start:stop], S=S)
            grads = self._graph.backward(values)
            totals["W"] += grads["W"]
            totals["b"] += grads["b"]
            loss += float(values["J"])
        return loss, grad

    # -- curvature ----------------------------------------------------------
    def curvature(self, theta=None):
        """∇²J(θ), or with θ None Böhning's bound B ⪰ ∇²J(θ) for every θ.

        B = ½ (I − 11ᵀ/K) ⊗ [X 1]ᵀ diag(s) [X 1] / Σs + λ (λ on W only);
        ∇²J = Σᵢ sᵢ (diag(aᵢ) − aᵢaᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ / Σs + λ, x̃ = [x 1]
        (its K diagonal blocks only when ``HESSIAN`` is "block").
        Shape (n_params, n_params), float64; one pass over X.
        """
        K, p = self.n_outputs, self.row_params
        penalty = np.zeros(p)
        penalty[:self.n_features] = self.l2
        if theta is None:
            projector = np.eye(K) - 1.0 / K
            H = np.kron(projector * BOHNING, self._gram())
        else:
            W, b = self.split(theta)
            with np.errstate(over="ignore", invalid="ignore"):  # checked below
                H = sum(self._map(lambda lo, hi: self._hessian_rows(lo, hi, W, b))) / self.S
        H[np.diag_indices_from(H)] += np.tile(penalty, K)
        if not np.all(np.isfinite(H)):
            raise_magnitude_error(self.X)
        return H

    def _gram(self):
        """x̃ᵀ diag(s) x̃ / Σs, x̃ = [x 1], from the binary objective's pass."""
        G = Objective.curvature_sums(self)[0]  # each row weighted by the binary bound's ¼
        return G / (SigmoidLogLoss.max_curvature * self.S)

    def _hessian_rows(self, lo, hi, W, b):
        """Σ sᵢ (diag(aᵢ) − aᵢaᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ over rows lo:hi, block by block
        (:meth:`_curvature_blocks`: temporaries in reused scratch blocks)."""
        K, p = self.n_outputs, self.row_params
        H = np.zeros((K * p, K * p))
        with_ones = self._curvature_scratch(lo, hi, p) if self.fit_intercept else None
        scratch, gram = self._curvature_scratch(lo, hi, p), np.empty((p, p), dtype=self.dtype)
        for start, Xb in self._curvature_blocks(lo, hi):
            A = softmax(Xb @ W.T + b).astype(self.dtype)
            s = 1 if self.s is None else self.s[start:start + len(Xb), None]
            if with_ones is not None:  # x̃ = [x 1]
                Xt = with_ones[:len(Xb)]
                Xt[:, :-1], Xt[:, -1] = Xb, 1
                Xb = Xt
            part = scratch[:len(Xb)]
            for k in range(K):
                # diagonal blocks: weights aₖ(1 − aₖ) ≥ 0, as (√r X)ᵀ(√r X) (syrk)
                root = np.multiply(np.sqrt(s * A[:, k:k + 1] * (1 - A[:, k:k + 1])), Xb,
                                   out=part)
                H[k * p:(k + 1) * p, k * p:(k + 1) * p] += np.matmul(root.T, root, out=gram)
                for j in range(k + 1, K if HESSIAN == "full" else 0):
                    weighted = np.multiply(-(s * A[:, k:k + 1] * A[:, j:j + 1]), Xb, out=part)
                    block = np.matmul(weighted.T, Xb, out=gram)
                    H[k * p:(k + 1) * p, j * p:(j + 1) * p] += block
                    H[j * p:(j + 1) * p, k * p:(k + 1) * p] += block.T
        return H

    # -- row samples, for step sizes ----------------------------------------
    def _rows_with_ones(self, max_rows):
        X, s = self._sample(max_rows)
        return (np.column_stack([X, np.ones(len(X))]) if self.fit_intercept else X), s

    def bound_operator(self, max_rows):
        """v ↦ B̃ v, B̃ Böhning's bound on a row sample (no n_params² matrix)."""
        X, s = self._rows_with_ones(max_rows)
        S, K, n = s.sum(), self.n_outputs, self.n_features

        def apply(theta):
            V = theta.reshape(K, -1)
            Z = X @ V.T
            Z = (Z - Z.mean(axis=1, keepdims=True)) * (s[:, None] * BOHNING / S)
            out = Z.T @ X
            out[:, :n] += self.l2 * V[:, :n]
            return out.ravel()
        return apply

    def largest_row_curvature(self, precond, max_rows):
        """max over sampled rows of the largest eigenvalue of
        ½ Tᵀ ((I − 11ᵀ/K) ⊗ x̃x̃ᵀ) T: one row's bound in the coordinates
        θ = T θ′ of ``precond``."""
        transform = transform_matrix(precond, self.n_params)
        X, _ = self._rows_with_ones(min(max_rows, ROW_CURVATURE_ROWS))
        K, p = self.n_outputs, self.row_params
        TT = (transform @ transform.T).reshape(K, p, K, p)
        # M[i] = (I ⊗ x̃ᵢᵀ) T Tᵀ (I ⊗ x̃ᵢ), K × K; the eigenvalues of ½ P M P
        M = np.einsum("ia,kalb,ib->ikl", X, TT, X, optimize=True)
        P = np.eye(K) - 1.0 / K
        return float(np.max(np.linalg.eigvalsh(BOHNING * (P @ M @ P))))
