"""The L1 part of a penalty and its proximal map (soft-thresholding).

The smooth part of the objective (loss and ½λ₂‖w‖²) stays in the objective;
the non-smooth λ₁‖w‖₁ lives here, so the solver can take proximal gradient
steps θ ← prox(θ − α g): first the lesson's step, then every penalised
coordinate shrunk towards zero by α·λ₁ and set to exactly zero when it would
cross it.

In the solver's coordinates θ = T θ′ of a diagonal change of variables
(wⱼ = w′ⱼ·dⱼ, the intercept shifted but unpenalised) the penalty is
Σⱼ λ₁dⱼ|w′ⱼ|: still separable, each coordinate with its own threshold.
"""
import numpy as np


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

    ``thresholds`` (λ₁dⱼ per coordinate of θ′, from
    :meth:`L1Penalty.scaled_thresholds`) are set by the solver once it knows
    its metric; the step α multiplies them, so the threshold is α·λ₁dⱼ.
    """

    def __init__(self):
        self.thresholds = None

    def init(self, theta):
        return {}

    def update(self, u, state, theta, lr):
        return soft_threshold(theta + u, lr * self.thresholds) - theta, state
