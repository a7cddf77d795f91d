"""Preconditioners as changes of variables θ = T θ′, never a scaled copy of X.

The solver works in the scaled coordinates θ′: it evaluates J at T θ′, turns the
gradient into g′ = Tᵀ g, and maps steps back with T. A preconditioned gradient
step is then θ ← θ − α T Tᵀ g = θ − α P⁻¹ g with P = (T Tᵀ)⁻¹. Vectors and matrices are NumPy's or any Array API namespace's
(:mod:`descend.optim.arrays`), on the objective's device.
"""
import numpy as np
from scipy.linalg import cho_factor, solve_triangular

from descend.optim.arrays import copy_float64, is_numpy, namespace
from descend.optim.per_class import PerClass

#: Above this many parameters, factoring the curvature bound (n³/3 flops and
#: one m·n² pass) costs more than the iterations it saves.
MAX_FULL_PARAMS = 1024
#: Ridge added to a factored curvature, relative to its mean diagonal.
RELATIVE_RIDGE = 1e-10


class NoPreconditioner:
    """Kind "none", T = I: the lesson's plain gradient, in the user's own units."""

    name = "none"

    def to_scaled(self, v):
        return v

    def from_scaled(self, v):
        return v

    def grad_to_scaled(self, g):
        return g


class DiagonalScaling:
    """Kind "diagonal": column standardisation folded into the parameters.

    z = Σⱼ wⱼ xⱼ + b = Σⱼ w′ⱼ (xⱼ − μⱼ)/σⱼ + b′, so w = w′/σ and
    b = b′ − Σⱼ μⱼ w′ⱼ/σⱼ. Handles scales and offsets at O(n) cost per step.
    """

    name = "diagonal"

    def __init__(self, mean, scale, fit_intercept):
        xp = namespace(scale)
        scale = xp.where(scale > 0, scale, xp.ones_like(scale))
        self.inv_scale = 1.0 / scale
        self.mean = mean if fit_intercept else xp.zeros_like(mean)
        self.fit_intercept = fit_intercept

    def from_scaled(self, v):
        """θ = T θ′."""
        n = self.inv_scale.shape[0]
        out = copy_float64(v)
        out[:n] = v[:n] * self.inv_scale
        if self.fit_intercept:
            out[n] = v[n] - self.mean @ out[:n]
        return out

    def grad_to_scaled(self, g):
        """g′ = Tᵀ g."""
        n = self.inv_scale.shape[0]
        out = copy_float64(g)
        if self.fit_intercept:
            out[:n] = (g[:n] - self.mean * g[n]) * self.inv_scale
        else:
            out[:n] = g[:n] * self.inv_scale
        return out

    def to_scaled(self, theta):
        """θ′ = T⁻¹ θ."""
        n = self.inv_scale.shape[0]
        out = copy_float64(theta)
        out[:n] = theta[:n] / self.inv_scale
        if self.fit_intercept:
            out[n] = theta[n] + self.mean @ theta[:n]
        return out


class FactoredCurvature:
    """Kind "full": T = L⁻ᵀ with L Lᵀ = B, a curvature matrix of the objective.

    With B the fixed bound (``objective.curvature()``), B ⪰ ∇²J everywhere, so
    in θ′ the objective has curvature at most 1 in every direction and step 1
    is always safe. With B = ∇²J(θₖ) from a recent point, a step of 1 is a
    Newton step from θₖ's point of view.
    """

    name = "full"

    def __init__(self, bound):
        if not is_numpy(bound):
            self.chol, self.inverse, self.factor = None, *_array_factors(bound)
            return
        scale = max(float(np.trace(bound)) / len(bound), 1e-300)
        # Collinear or constant columns make B singular; Cholesky may still
        # "succeed" with pivots at rounding level and give enormous steps along
        # directions J does not depend on. A ridge far below any real
        # curvature keeps those steps bounded and changes nothing else. It is
        # relative to each diagonal entry, not to their mean: a feature in
        # units a million times smaller than another's has a curvature 10¹²
        # times smaller, which a ridge relative to the mean would swamp.
        diagonal = np.maximum(np.diag(bound), 1e-300)
        jitter = RELATIVE_RIDGE
        while True:
            try:
                factor, _ = cho_factor(bound + np.diag(jitter * diagonal), lower=True)
                self.chol = np.tril(factor)
                break
            except np.linalg.LinAlgError:
                # Exactly singular only without penalty and with collinear
                # columns: a tiny ridge keeps the change of variables defined.
                jitter *= 10
                diagonal = np.maximum(diagonal, 1e-12 * scale)

    def from_scaled(self, v):
        if self.chol is None:
            return self.inverse.T @ v
        return solve_triangular(self.chol, v, lower=True, trans="T")

    def grad_to_scaled(self, g):
        if self.chol is None:
            return self.inverse @ g
        return solve_triangular(self.chol, g, lower=True)

    def to_scaled(self, theta):
        if self.chol is None:
            return self.factor.T @ theta
        return self.chol.T @ theta


def _array_factors(bound):
    """(L⁻¹, L) of L Lᵀ = B + ridge for B of an Array API namespace, on its device.

    The standard has Cholesky but no triangular solve, so L⁻¹ is formed once
    (as costly as the factorisation, n³) and each change of variables is a
    product, n², like a triangular solve. The ridge is the NumPy path's.
    """
    xp = namespace(bound)
    diagonal = xp.linalg.diagonal(bound)
    scale = max(float(xp.sum(diagonal)) / diagonal.shape[0], 1e-300)
    diagonal = xp.maximum(diagonal, xp.asarray(1e-300, dtype=bound.dtype, device=bound.device))
    eye = xp.eye(diagonal.shape[0], dtype=bound.dtype, device=bound.device)
    jitter = RELATIVE_RIDGE
    while True:
        try:
            factor = xp.linalg.cholesky(bound + eye * (jitter * diagonal))
        except (np.linalg.LinAlgError, RuntimeError, ValueError):
            factor = None
        if factor is not None and bool(xp.all(xp.isfinite(factor))):
            return xp.linalg.inv(factor), factor
        jitter *= 10
        diagonal = xp.maximum(diagonal, 1e-12 * scale * xp.ones_like(diagonal))


def transform_matrix(precond, n_params):
    """T of θ = T θ′ as a dense (n_params, n_params) matrix, one column per
    unit vector: only for problems small enough to hold n² numbers."""
    return np.column_stack([precond.from_scaled(e) for e in np.eye(n_params)])


def make_preconditioner(kind, objective):
    """Build the preconditioner ``kind`` ("none", "diagonal", "full") for the data."""
    if kind == "none":
        return NoPreconditioner()
    if kind == "full":
        return FactoredCurvature(objective.curvature())
    if kind == "diagonal":
        mean, scale = objective.diagonal_scaling()
        diagonal = DiagonalScaling(mean, scale, objective.fit_intercept)
        # K classes (θ laid out (K, n + 1)): the same scaling on every class
        n_classes = getattr(objective, "n_outputs", 1)
        return PerClass(diagonal, n_classes) if n_classes > 1 else diagonal
    raise ValueError(f"unknown preconditioner {kind!r}; use 'none', 'diagonal' or 'full'")
