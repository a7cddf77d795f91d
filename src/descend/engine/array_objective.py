"""The two-class objective on arrays of an Array API namespace, on their device.

J(w, b) = Σᵢ sᵢ L(zᵢ, yᵢ) / Σᵢ sᵢ + λ‖w‖²/2, z = X w + b — the objective of
:mod:`descend.engine.objective`, for X a PyTorch tensor (CPU or CUDA), a
CuPy array or an ``array-api-strict`` array. Every number stays in X's
namespace and on its device: the gradient (dz = a − y, dw = Xᵀ s dz / Σs,
db = Σ s dz / Σs), the curvature, the column moments, and θ itself (the
solver keeps its state there, :mod:`descend.optim.arrays`). For a CUDA
tensor, when Triton imports, each gradient is one fused pass over X
(:mod:`descend.engine.triton_kernel`); otherwise z = X w and Xᵀ dz are two
products of the namespace.
"""
import numpy as np

from descend.engine import array_numerics as nx
from descend.engine.graph import SigmoidLogLoss
from descend.exceptions import DataError
from descend.optim.arrays import device_of, host_floats, is_numpy, namespace
from descend.optim.problem import Problem

#: Elements of X per block for the curvature and the moments: a block's
#: float64 copy (128 MiB) is the only memory they need beyond X.
BLOCK_ELEMENTS = 1 << 24


class ArrayObjective(Problem):
    """Mean weighted log-loss plus L2 on a device (the solver's :class:`Problem`).

    Parameters
    ----------
    X : array of shape (m, n) of an Array API namespace
        float64 or float32 (on CUDA with Triton also float16 and bfloat16,
        accumulated in float32); used in place, never copied.
    y : array of shape (m,)
        Targets in {0, 1} (NumPy or X's namespace), moved once to X's device.
    sample_weight : array of shape (m,) or None
        sᵢ ≥ 0; None means all ones.
    l2 : float
        λ of the penalty λ‖w‖²/2.
    fit_intercept : bool
    kernel : callable, None or "auto"
        ``kernel(X, y, s, w, b)`` → (Σ sL, Σ s dz x, Σ s dz) in float64, in
        one pass (:func:`descend.engine.triton_kernel.fused_sums`); None uses
        the namespace's products; "auto" is :func:`kernel_for` X.
    n_threads : ignored (the device schedules its own work)
    """

    def __init__(self, X, y, sample_weight=None, l2=0.0, fit_intercept=True, kernel="auto",
                 n_threads=None):
        xp = self.xp = namespace(X)
        self.device = device_of(X)
        self.X = X
        self.compute = xp.float64 if X.dtype == xp.float64 else xp.float32
        self.dtype = np.dtype(np.float64 if self.compute == xp.float64 else np.float32)
        self.y = self._on_device(y)
        self.s = None if sample_weight is None else self._on_device(sample_weight)
        m, n = X.shape
        self.S = float(m) if self.s is None else total_weight(xp, self.s)
        self.l2, self.fit_intercept = float(l2), fit_intercept
        self.kernel = kernel_for(X) if isinstance(kernel, str) else kernel
        self.n_rows, self.n_features, self.n_params = m, n, n + int(fit_intercept)

    def _on_device(self, v):
        """A per-row vector in the compute dtype on X's device."""
        xp = self.xp
        if is_numpy(v):
            v = xp.asarray(np.asarray(v), device=self.device)
        return xp.astype(v, self.compute)

    @property
    def has_penalty(self):
        return self.l2 > 0

    def as_vector(self, values):
        """θ-like values (host numbers or an array) as float64 on X's device."""
        xp = self.xp
        if is_numpy(values):
            values = np.asarray(values, dtype=np.float64)
        return xp.asarray(xp.astype(xp.asarray(values, device=self.device), xp.float64), copy=True)

    def split(self, theta):
        """θ → (w, b) in the compute dtype, b a 0-d array (0 without intercept)."""
        xp, n = self.xp, self.n_features
        w = xp.astype(theta[:n], self.compute)
        if not self.fit_intercept:
            return w, xp.zeros((), dtype=self.compute, device=self.device)
        return w, xp.astype(theta[n], self.compute)

    # -- evaluation ---------------------------------------------------------
    def loss_grad(self, theta, rows=None):
        """J(θ) as a 0-d float64 array and ∇J(θ) (float64, (n_params,)), on the device.

        With ``rows`` (sorted host indices, a mini-batch) the mean is over those
        rows; λ is unchanged.
        """
        xp, n = self.xp, self.n_features
        w, b = self.split(theta)
        X, y, s, S = self.X, self.y, self.s, self.S
        if rows is not None:
            index = xp.asarray(np.asarray(rows), device=self.device)
            X, y = xp.take(X, index, axis=0), xp.take(y, index, axis=0)
            s = None if s is None else xp.take(s, index, axis=0)
            S = float(len(rows)) if s is None else total_weight(xp, s)
        use_kernel = self.kernel is not None and rows is None
        loss, gw, gb = (self.kernel if use_kernel else self._sums)(X, y, s, w, b)
        w64 = theta[:n]
        loss = loss / S + 0.5 * self.l2 * (w64 @ w64)
        gw = gw / S + self.l2 * w64
        if not self.fit_intercept:
            return loss, gw
        return loss, xp.concat([gw, xp.reshape(gb / S, (1,))])

    def _sums(self, X, y, s, w, b):
        """(Σ sL, Xᵀ(s dz), Σ s dz) in float64 by the namespace's products."""
        xp = self.xp
        X = X if X.dtype == self.compute else xp.astype(X, self.compute)
        z = X @ w + b
        loss, dz = nx.loss_from_logit(xp, z, y), nx.dloss_dlogit(xp, z, y)
        if s is not None:
            loss, dz = s * loss, s * dz
        as64 = lambda v: xp.astype(v, xp.float64)  # noqa: E731
        return xp.sum(as64(loss)), as64(dz @ X), xp.sum(as64(dz))

    # -- blocks of rows, for the curvature and the moments -------------------
    def _blocks(self):
        """(start, stop) of row blocks of about ``BLOCK_ELEMENTS`` elements, in order."""
        rows = max(1, BLOCK_ELEMENTS // max(1, self.n_features))
        return [(lo, min(lo + rows, self.n_rows)) for lo in range(0, self.n_rows, rows)]

    def _block(self, lo, hi, dtype=None):
        xp = self.xp
        return xp.astype(self.X[lo:hi, ...], dtype or self.compute)

    def _weights(self, lo, hi, r):
        return r if self.s is None else r * self.s[lo:hi]

    def curvature(self, theta=None):
        """∇²J(θ) = [X 1]ᵀ diag(sᵢ dᵢ) [X 1] / Σs + λ, dᵢ = a(1 − a) at θ;
        with θ None dᵢ = 1/4, the bound B ⪰ ∇²J. (n_params, n_params), float64."""
        xp = self.xp
        wb = None if theta is None else self.split(theta)

        def curvatures(Xb):
            if wb is None:
                return xp.full((Xb.shape[0],), SigmoidLogLoss.max_curvature,
                               dtype=self.compute, device=self.device)
            a = nx.sigmoid(xp, Xb @ wb[0] + wb[1])
            return a * (1 - a)
        H = self.gram(curvatures) / self.S
        H = H + xp.eye(H.shape[0], dtype=xp.float64, device=self.device) * self._penalty_diagonal()
        self._check_finite(H)
        return H

    def _penalty_diagonal(self):
        """λ for each weight, 0 for the intercept (one row of θ)."""
        p, n = self.n_features + int(self.fit_intercept), self.n_features
        return self.l2 * self.xp.asarray(np.arange(p) < n, dtype=self.xp.float64,
                                         device=self.device)

    def gram(self, weights):
        """Σᵢ sᵢ rᵢ x̃ᵢx̃ᵢᵀ, x̃ = [x 1] (or x), float64, block by block in order;
        ``weights(X_b)`` gives the block's rᵢ ≥ 0."""
        xp, n = self.xp, self.n_features
        xtx = xp.zeros((n, n), dtype=xp.float64, device=self.device)
        xts = xp.zeros((n,), dtype=xp.float64, device=self.device)
        ssum = xp.zeros((), dtype=xp.float64, device=self.device)
        for lo, hi in self._blocks():
            Xb = self._block(lo, hi)
            r = self._weights(lo, hi, weights(Xb))
            root = xp.sqrt(r)[:, None] * Xb  # (√r X)ᵀ(√r X): a symmetric product
            xtx = xtx + xp.astype(root.T @ root, xp.float64)
            xts = xts + xp.astype(r @ Xb, xp.float64)
            ssum = ssum + xp.sum(xp.astype(r, xp.float64))
        if not self.fit_intercept:
            return xtx
        G = xp.zeros((n + 1, n + 1), dtype=xp.float64, device=self.device)
        G[:n, :n] = xtx
        G[:n, n], G[n, :n], G[n, n] = xts, xts, ssum
        return G

    def _check_finite(self, values):
        if not bool(self.xp.all(self.xp.isfinite(values))):
            raise DataError("X has values whose squares overflow floating point; rescale "
                            "the large features (divide by a power of ten, take their log, "
                            "or standardise them)")

    def column_moments(self):
        """Weighted mean and standard deviation of each column, float64, one pass."""
        xp, n = self.xp, self.n_features
        total = xp.zeros((n,), dtype=xp.float64, device=self.device)
        square = xp.zeros((n,), dtype=xp.float64, device=self.device)
        for lo, hi in self._blocks():
            Xb = self._block(lo, hi, xp.float64)
            sb = xp.ones((hi - lo,), dtype=xp.float64, device=self.device) if self.s is None \
                else xp.astype(self.s[lo:hi], xp.float64)
            total, square = total + sb @ Xb, square + sb @ (Xb * Xb)
        mean = total / self.S
        var = xp.maximum(square / self.S - mean * mean, xp.zeros_like(mean))
        self._check_finite(var)
        return mean, xp.sqrt(var)

    def diagonal_scaling(self):
        """(mean, √(var + 4λ)) per column, as :meth:`Objective.diagonal_scaling`."""
        mean, std = self.column_moments()
        return mean, self.xp.sqrt(std * std + 4 * self.l2)

    # -- row samples, for step sizes ----------------------------------------
    def _sample(self, max_rows):
        """(X̃, s̃) in float64 on a sample of at most ``max_rows`` rows (the same each call)."""
        xp, m = self.xp, self.n_rows
        rows = np.arange(m) if m <= max_rows else \
            np.sort(np.random.default_rng(0).choice(m, max_rows, replace=False))
        index = xp.asarray(rows, device=self.device)
        X = xp.astype(xp.take(self.X, index, axis=0), xp.float64)
        s = xp.ones((len(rows),), dtype=xp.float64, device=self.device) if self.s is None \
            else xp.astype(xp.take(self.s, index, axis=0), xp.float64)
        return X, s

    def bound_operator(self, max_rows):
        """v ↦ B̃ v with B̃ = [X̃ 1]ᵀ diag(s̃/4) [X̃ 1] / Σs̃ + λ on a row sample."""
        X, s = self._sample(max_rows)
        xp, n = self.xp, self.n_features
        scale = xp.sum(s) / SigmoidLogLoss.max_curvature

        def apply(theta):
            z = X @ theta[:n] + (theta[n] if self.fit_intercept else 0.0)
            sz = s * z / scale
            top = X.T @ sz + self.l2 * theta[:n]
            return xp.concat([top, xp.reshape(xp.sum(sz), (1,))]) if self.fit_intercept else top
        return apply

    def largest_row_curvature(self, precond, max_rows):
        """max over sampled rows of ‖Tᵀ [x, 1]‖² / 4 in the coordinates of ``precond``."""
        xp, k = self.xp, self.n_params
        eye = xp.eye(k, dtype=xp.float64, device=self.device)
        transform = xp.stack([precond.from_scaled(eye[j, :]) for j in range(k)], axis=1)
        X, _ = self._sample(max_rows)
        if self.fit_intercept:
            ones = xp.ones((X.shape[0], 1), dtype=xp.float64, device=self.device)
            X = xp.concat([X, ones], axis=1)
        squares = xp.sum((X @ transform) ** 2, axis=1)
        return host_floats(xp.max(squares))[0] * SigmoidLogLoss.max_curvature


def total_weight(xp, s):
    """Σ sᵢ in float64, as a host number (once per objective or mini-batch)."""
    return host_floats(xp.sum(xp.astype(s, xp.float64)))[0]


def kernel_for(X):
    """The fused Triton pass for a CUDA tensor of float32/16 or bfloat16 when
    Triton imports, else None (the namespace's two products)."""
    from array_api_compat import is_torch_array
    if not (is_torch_array(X) and X.is_cuda):
        return None
    import torch
    if X.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return None
    try:
        from descend.engine.triton_kernel import fused_sums
    except ImportError:
        return None
    return fused_sums
