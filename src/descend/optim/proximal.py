"""The L1 part of a penalty and its proximal map (soft-thresholding).

The smooth part of the objective (loss and ½λ₂‖w‖²) stays in the objective;
the non-smooth λ₁‖w‖₁ lives here, so the solver can take proximal gradient
steps θ ← prox(θ − α g): first the lesson's step, then every penalised
coordinate shrunk towards zero by α·λ₁ and set to exactly zero when it would
cross it.

In the solver's coordinates θ = T θ′ of a diagonal change of variables
(wⱼ = w′ⱼ·dⱼ, the intercept shifted but unpenalised) the penalty is
Σⱼ λ₁dⱼ|w′ⱼ|: still separable, each coordinate with its own threshold.

In the factored metric (θ = L⁻ᵀθ′, B = LLᵀ a curvature of J) it is not: the
step θ′ − αg′ maps back to z₀ = θ − αB⁻¹g, and the proximal step is
argmin_z ½(z − z₀)ᵀB(z − z₀) + αλ₁‖z_w‖₁, a small lasso in n_params
unknowns and no data, solved by coordinate descent (each coordinate in turn
soft-thresholded against the others). With B the Hessian this is the
proximal Newton step of glmnet and newGLMNET.
"""
import numba
import numpy as np

#: Coordinate descent on the metric's lasso stops when no coordinate moves
#: more than this, in the metric's units (√Bⱼⱼ·|Δzⱼ|, the root of a change
#: of J), relative to the point (at least 1).
CD_TOL = 1e-13
#: ... or after this many sweeps (each n_params² flops, no data).
CD_MAX_SWEEPS = 1000


def soft_threshold(v, threshold):
    """sign(v)·max(|v| − t, 0), elementwise: the prox of t‖·‖₁ at v."""
    return np.sign(v) * np.maximum(np.abs(v) - threshold, 0.0)


def penalised_mask(n_outputs, n_features, fit_intercept):
    """True at each weight of θ laid out (K, n + 1), False at the intercepts."""
    row = np.ones(n_features + int(fit_intercept), dtype=bool)
    if fit_intercept:
        row[-1] = False
    return np.tile(row, n_outputs)


class L1Penalty:
    """λ₁‖w‖₁ over the weights of θ (every class's; intercepts excluded).

    Parameters
    ----------
    strength : float
        λ₁ ≥ 0, in the objective's scaling: ρ/(C Σᵢ sᵢ) for scikit-learn's
        C and ``l1_ratio`` ρ.
    mask : ndarray of bool, shape (n_params,)
        True at the penalised entries of θ (see :func:`penalised_mask`).
    """

    def __init__(self, strength, mask):
        self.strength = float(strength)
        self.mask = np.asarray(mask, dtype=bool)

    def value(self, theta):
        """λ₁ Σ_{j penalised} |θⱼ| (user coordinates)."""
        return self.strength * float(np.sum(np.abs(np.asarray(theta)[self.mask])))

    def scaled_thresholds(self, precond):
        """λ₁dⱼ per coordinate of θ′ (0 at the intercepts) for the change of
        variables θ = T θ′ of ``precond``, which must keep each weight a
        multiple of its own scaled coordinate ("none" or "diagonal")."""
        if precond.name not in ("none", "diagonal"):
            raise ValueError(f"an L1 penalty needs a separable metric ('none' or 'diagonal'), "
                             f"not {precond.name!r}")
        # the weight part of T is diagonal: T applied to the mask gives each dⱼ
        d = np.abs(precond.from_scaled(self.mask.astype(np.float64)))
        return np.where(self.mask, self.strength * d, 0.0)

    def optimality(self, theta, grad):
        """The largest violation of the optimality (KKT) conditions at θ, given
        ∇ of the smooth part: |gⱼ| − λ₁ where θⱼ = 0, |gⱼ + λ₁ sign θⱼ| where
        θⱼ ≠ 0, |gⱼ| at the unpenalised entries. Zero at the optimum."""
        theta, grad = np.asarray(theta), np.asarray(grad)
        lam = np.where(self.mask, self.strength, 0.0)
        zero = theta == 0
        violation = np.where(zero, np.maximum(np.abs(grad) - lam, 0.0),
                             np.abs(grad + lam * np.sign(theta)))
        return float(np.max(violation, initial=0.0))


class ProximalStep:
    """The link θ + u ↦ prox(θ + u) − θ, placed after the step size.

    :meth:`bind` sets the metric once the solver knows it: for "none" and
    "diagonal", ``thresholds`` (λ₁dⱼ per coordinate of θ′, from
    :meth:`L1Penalty.scaled_thresholds`; the step α multiplies them); for
    "full", the lasso in B solved by coordinate descent (module docstring).
    """

    def __init__(self):
        self.thresholds = None
        self.metric = None

    def bind(self, penalty, precond):
        """Prox in ``precond``'s coordinates for ``penalty``."""
        if precond.name == "full":
            self.metric, self.thresholds = MetricLasso(penalty, precond), None
        else:
            self.metric, self.thresholds = None, penalty.scaled_thresholds(precond)

    def prox(self, v, lr):
        """prox of α·λ₁‖w‖₁ at v, in the solver's coordinates θ′."""
        if self.metric is None:
            return soft_threshold(v, lr * self.thresholds)
        return self.metric.prox(v, lr)

    def user_point(self, mapped, precond):
        """θ of the last :meth:`prox` output ``mapped`` (θ′), with its exact
        zeros: T θ′ would blur them in the factored metric, so the lasso's
        own z is returned there."""
        if self.metric is None:
            return precond.from_scaled(mapped)
        return self.metric.last.copy()

    def init(self, theta):
        return {}

    def update(self, u, state, theta, lr):
        return self.prox(theta + u, lr) - theta, state


class MetricLasso:
    """argmin_z ½(z − z₀)ᵀB(z − z₀) + α Σⱼ λⱼ|zⱼ| for the factored metric
    B = LLᵀ of a :class:`~descend.optim.precondition.FactoredCurvature`."""

    def __init__(self, penalty, precond):
        self.precond = precond
        L = precond.chol
        self.B = np.ascontiguousarray(L @ L.T)  # exactly symmetric (NumPy's syrk)
        self.lam = np.where(penalty.mask, penalty.strength, 0.0)
        self.last = None

    def prox(self, v, lr):
        z0 = self.precond.from_scaled(v)
        start = soft_threshold(z0, lr * self.lam / np.diag(self.B)) if self.last is None \
            else self.last.copy()
        z = _lasso_cd(self.B, z0, lr * self.lam, start, CD_TOL, CD_MAX_SWEEPS)
        self.last = z
        return self.precond.to_scaled(z)


@numba.njit(cache=True, nogil=True)
def _lasso_cd(B, z0, lam, z, tol, max_sweeps):
    """Coordinate descent from z on ½(z − z₀)ᵀB(z − z₀) + Σⱼ lamⱼ|zⱼ|."""
    n = len(z)
    r = B @ (z - z0)  # the quadratic's gradient, kept up to date
    scale = 0.0
    for j in range(n):
        scale = max(scale, np.sqrt(B[j, j]) * abs(z0[j]))
    for _ in range(max_sweeps):
        largest = 0.0
        for j in range(n):
            Bjj = B[j, j]
            v = z[j] - r[j] / Bjj
            t = lam[j] / Bjj
            new = np.sign(v) * max(abs(v) - t, 0.0)
            d = new - z[j]
            if d != 0.0:
                z[j] = new
                r += d * B[j]  # B is symmetric: its row, contiguous, is its column
                largest = max(largest, abs(d) * np.sqrt(Bjj))
        if largest <= tol * max(scale, 1.0):
            break
    return z
