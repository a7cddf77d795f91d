"""The K-class objective on arrays of an Array API namespace, on their device.

J(W, b) = Σᵢ sᵢ [logsumexp(zᵢ) − z_{i,yᵢ}] / Σᵢ sᵢ + λ‖W‖²_F / 2, zᵢ = W xᵢ + b:
:mod:`descend.engine.multinomial`'s objective for X a PyTorch tensor, a CuPy
array or an ``array-api-strict`` array, θ laid out (K, n + 1) the same way.
Each gradient is Z = X Wᵀ + b, dZ = A − Y (:mod:`descend.engine.array_numerics`)
and dW = dZᵀ X by the namespace's products (no fused kernel for K classes yet).
"""
import numpy as np

from descend.engine import array_numerics as nx
from descend.engine.array_objective import ArrayObjective, total_weight
from descend.engine.multinomial import BOHNING, ROW_CURVATURE_ROWS
from descend.optim.arrays import host_floats


class ArrayMultinomialObjective(ArrayObjective):
    """Mean weighted softmax cross-entropy plus L2 on a device (a :class:`Problem`).

    Parameters
    ----------
    X : array of shape (m, n) of an Array API namespace, float32 or float64
    y : array of shape (m,)
        Class indices in [0, K) (NumPy or X's namespace).
    n_classes : int
        K.
    sample_weight, l2, fit_intercept, n_threads
        As for :class:`~descend.engine.array_objective.ArrayObjective`.
    """

    def __init__(self, X, y, n_classes, sample_weight=None, l2=0.0, fit_intercept=True,
                 n_threads=None):
        super().__init__(X, np.zeros(X.shape[0]), sample_weight, l2, fit_intercept, kernel=None)
        xp, K = self.xp, int(n_classes)
        codes = xp.asarray(np.asarray(y), device=self.device) if isinstance(y, np.ndarray) \
            else y
        classes = xp.arange(K, dtype=codes.dtype, device=self.device)
        self.Y = xp.astype(codes[:, None] == classes[None, :], self.compute)  # one-hot, (m, K)
        self.n_outputs = K
        self.row_params = self.n_features + int(fit_intercept)
        self.n_params = K * self.row_params

    def split(self, theta):
        """θ → (W (K, n), b (K,)) in the compute dtype; b is 0 without an intercept."""
        xp, n = self.xp, self.n_features
        T = xp.reshape(theta, (self.n_outputs, self.row_params))
        W = xp.astype(T[:, :n], self.compute)
        if not self.fit_intercept:
            return W, xp.zeros((self.n_outputs,), dtype=self.compute, device=self.device)
        return W, xp.astype(T[:, n], self.compute)

    def loss_grad(self, theta, rows=None):
        """J(θ) as a 0-d float64 array and ∇J(θ) (float64, (n_params,)), on the device."""
        xp, n = self.xp, self.n_features
        W, b = self.split(theta)
        X, Y, s, S = self.X, self.Y, self.s, self.S
        if rows is not None:
            index = xp.asarray(np.asarray(rows), device=self.device)
            X, Y = xp.take(X, index, axis=0), xp.take(Y, index, axis=0)
            s = None if s is None else xp.take(s, index, axis=0)
            S = float(len(rows)) if s is None else total_weight(xp, s)
        X = X if X.dtype == self.compute else xp.astype(X, self.compute)
        losses, dZ = nx.softmax_loss_and_dlogits(xp, X @ W.T + b[None, :], Y)
        if s is not None:
            losses, dZ = s * losses, s[:, None] * dZ
        W64 = xp.reshape(theta, (self.n_outputs, self.row_params))[:, :n]
        loss = xp.sum(xp.astype(losses, xp.float64)) / S + 0.5 * self.l2 * xp.sum(W64 * W64)
        dW = xp.astype(dZ.T @ X, xp.float64) / S + self.l2 * W64
        if self.fit_intercept:
            db = xp.sum(xp.astype(dZ, xp.float64), axis=0) / S
            dW = xp.concat([dW, db[:, None]], axis=1)
        return loss, xp.reshape(dW, (-1,))

    def curvature(self, theta=None):
        """∇²J(θ) = Σᵢ sᵢ (diag(aᵢ) − aᵢaᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ / Σs + λ, or with θ None
        Böhning's bound ½ (I − 11ᵀ/K) ⊗ x̃ᵀ diag(s) x̃ / Σs + λ; float64."""
        xp, K, p = self.xp, self.n_outputs, self.row_params
        H = xp.zeros((K * p, K * p), dtype=xp.float64, device=self.device)
        if theta is None:
            G = self.gram(lambda Xb: xp.ones((Xb.shape[0],), dtype=self.compute,
                                             device=self.device)) / self.S
            blocks = {(k, j): (BOHNING * (float(k == j) - 1.0 / K)) * G
                      for k in range(K) for j in range(K)}
        else:
            blocks = self._hessian_blocks(*self.split(theta))
        for (k, j), block in blocks.items():
            H[k * p:(k + 1) * p, j * p:(j + 1) * p] = block
        penalty = xp.concat([self._penalty_diagonal()] * K)
        H = H + xp.eye(K * p, dtype=xp.float64, device=self.device) * penalty
        self._check_finite(H)
        return H

    def _hessian_blocks(self, W, b):
        """{(k, j): Σᵢ sᵢ aᵢₖ([k = j] − aᵢⱼ) x̃ᵢx̃ᵢᵀ / Σs}, block by block of rows."""
        xp, K = self.xp, self.n_outputs
        blocks = {}
        for lo, hi in self._blocks():
            Xb = self._block(lo, hi)
            A = nx.softmax(xp, Xb @ W.T + b[None, :])
            if self.fit_intercept:
                ones = xp.ones((Xb.shape[0], 1), dtype=self.compute, device=self.device)
                Xb = xp.concat([Xb, ones], axis=1)
            for k in range(K):
                for j in range(k, K):
                    r = self._weights(lo, hi, A[:, k] * (float(k == j) - A[:, j]))
                    block = xp.astype((r[:, None] * Xb).T @ Xb, xp.float64) / self.S
                    blocks[k, j] = blocks.get((k, j), 0) + block
        for k in range(K):
            for j in range(k + 1, K):
                blocks[j, k] = blocks[k, j].T
        return blocks

    def _rows_with_ones(self, max_rows):
        xp = self.xp
        X, s = self._sample(max_rows)
        if self.fit_intercept:
            ones = xp.ones((X.shape[0], 1), dtype=xp.float64, device=self.device)
            X = xp.concat([X, ones], axis=1)
        return X, s

    def bound_operator(self, max_rows):
        """v ↦ B̃ v, B̃ Böhning's bound on a row sample (no n_params² matrix)."""
        X, s = self._rows_with_ones(max_rows)
        xp, K, n = self.xp, self.n_outputs, self.n_features
        S = xp.sum(s)

        def apply(theta):
            V = xp.reshape(theta, (K, -1))
            Z = X @ V.T
            Z = (Z - xp.mean(Z, axis=1, keepdims=True)) * (s[:, None] * BOHNING / S)
            out = Z.T @ X
            out = out + self.l2 * xp.concat([V[:, :n], xp.zeros_like(V[:, n:])], axis=1)
            return xp.reshape(out, (-1,))
        return apply

    def largest_row_curvature(self, precond, max_rows):
        """max over sampled rows of the largest eigenvalue of ½ P Mᵢ P, Mᵢ the
        K × K matrix (I ⊗ x̃ᵢᵀ) T Tᵀ (I ⊗ x̃ᵢ), P = I − 11ᵀ/K, in ``precond``'s
        coordinates θ = T θ′."""
        xp, K, p = self.xp, self.n_outputs, self.row_params
        eye = xp.eye(self.n_params, dtype=xp.float64, device=self.device)
        T = xp.stack([precond.from_scaled(eye[j, :]) for j in range(self.n_params)], axis=1)
        TT = xp.permute_dims(xp.reshape(T @ T.T, (K, p, K, p)), (1, 0, 2, 3))
        X, _ = self._rows_with_ones(min(max_rows, ROW_CURVATURE_ROWS))
        U = xp.reshape(X @ xp.reshape(TT, (p, K * K * p)), (X.shape[0], K, K, p))
        M = xp.sum(U * X[:, None, None, :], axis=3)
        P = xp.eye(K, dtype=xp.float64, device=self.device) - 1.0 / K
        return host_floats(xp.max(xp.linalg.eigvalsh(BOHNING * (P @ M @ P))))[0]
