"""The regularisation path: one fit per C, from the largest penalty down.

Each fit starts from the previous one's coefficients (warm start), so most
take a few iterations. With an L1 part (ρ > 0):

* below C₀ = ρ / (Σᵢ sᵢ · maxⱼ |∂J/∂wⱼ|), the gradient taken at w = 0 with
  the intercept alone fitted, every weight is zero: those fits are the
  intercept alone and cost nothing;
* the sequential strong rule (Tibshirani et al., 2012) leaves out feature j
  at λ₁ when |∂J/∂wⱼ| < 2λ₁ − λ₁_prev at the previous solution (any class),
  so the fit runs on the kept columns only; the KKT conditions on the full
  gradient then bring back any feature the rule left out wrongly, and the
  fit is repeated until none is (each fit is the estimator's own, so on
  200 kept columns or more it runs on a working set of them,
  :mod:`descend.working_set`).
"""
import numpy as np
from sklearn.base import clone

from descend.optim.proximal import penalised_mask
from descend.screening import (
    columns,
    embed,
    intercept_only_theta,
    kkt_violations,
    restrict,
    support,
    weights_grad,
)


class PenaltyPath:
    """The fits of one estimator's settings over a grid of C, warm-started.

    Parameters
    ----------
    base : descend.LogisticRegression
        Its settings (penalty, l1_ratio, solver, tol, …); C is set per fit.
    X : ndarray or scipy sparse matrix of shape (m, n)
    y : ndarray of shape (m,)
        Labels (every class of the problem present).
    sample_weight : ndarray of shape (m,) or None
    screen : bool
        Use the strong rule (only with an L1 part).
    """

    def __init__(self, base, X, y, sample_weight=None, screen=True):
        self.model = clone(base).set_params(warm_start=True)
        self.model._check_params()
        self.X, self.y, self.sample_weight = X, y, sample_weight
        # the weights the fits use (class_weight applied) and the labels' codes
        X, self.y01, weights = self.model._validate_training_data(X, y, sample_weight,
                                                                  reset=True)
        self.K = len(self.model.classes_)
        rows = self.K if self.K > 2 else 1
        self.n = X.shape[1]
        self.full = self.model._objective(X, self.y01, weights)
        self.weights = weights
        self.mask = penalised_mask(rows, self.n, self.model.fit_intercept)
        self.rows = rows
        self.rho = float(self.model._rho)
        self.screen = screen and self.rho > 0
        self.theta0 = self._start()
        self.C_zero = self._first_nonzero_C()

    def _start(self):
        """θ with every weight zero and the intercept alone fitted."""
        return intercept_only_theta(self.y01, self.weights, self.K, self.n,
                                    self.model.fit_intercept)

    def _first_nonzero_C(self):
        """C₀: the largest C at which every weight is zero (0 without an L1 part)."""
        if self.rho == 0:
            return 0.0
        self.full.l2 = 0.0  # ∇ of ½λ₂‖w‖² is zero at w = 0
        g = self.full.loss_grad(self.theta0)[1][self.mask]
        largest = float(np.max(np.abs(g), initial=0.0))
        return np.inf if largest == 0 else self.rho / (self.full.S * largest)

    def solve(self, Cs):
        """θ at each C of ``Cs`` (any order), shape (len(Cs), n_params) laid
        out (K, n + 1), and the iterations each fit took."""
        Cs = np.asarray(Cs, dtype=float)
        thetas = np.empty((len(Cs), len(self.mask)))
        n_iter = np.zeros(len(Cs), dtype=int)
        theta, previous_l1 = self.theta0, None
        for index in np.argsort(Cs, kind="stable"):
            C = float(Cs[index])
            if self.rho > 0 and C <= self.C_zero:
                theta = self.theta0  # every weight zero: the KKT conditions hold
            else:
                theta, n_iter[index] = self._fit_at(C, theta, previous_l1)
            previous_l1 = self.rho / (C * self.full.S)  # θ is the optimum at this λ₁
            thetas[index] = theta
        return thetas, n_iter

    def _fit_at(self, C, theta, previous_l1):
        """One fit at C from θ, on the features the strong rule keeps, until
        the KKT conditions hold for the features it left out."""
        self.model.set_params(C=C)
        l2, l1 = self.model._strengths(self.full.S)
        self.full.l2 = l2
        keep = np.ones(self.n, dtype=bool)
        if self.screen and previous_l1 is not None:
            keep = self._strong_rule(theta, l1, previous_l1)
        iterations = 0
        while True:
            theta, used = self._fit_columns(theta, keep)
            iterations += used
            if keep.all():
                return theta, iterations
            violations = self._kkt_violations(theta, l1) & ~keep
            if not violations.any():
                return theta, iterations
            keep |= violations

    def _weights_grad(self, theta):
        """∇ of the smooth part at θ, the weights' part as (K, n)."""
        return weights_grad(self.full, theta, self.rows, self.n)

    def _strong_rule(self, theta, l1, previous_l1):
        """Features kept at λ₁: |∂J/∂wⱼ| ≥ 2λ₁ − λ₁_prev (some class), or wⱼ ≠ 0."""
        g = np.abs(self._weights_grad(theta))
        return np.any(g >= 2 * l1 - previous_l1, axis=0) | support(theta, self.rows, self.n)

    def _kkt_violations(self, theta, l1):
        """Features whose zero weight breaks |∂J/∂wⱼ| ≤ λ₁ for some class."""
        return kkt_violations(self._weights_grad(theta), l1)

    def _fit_columns(self, theta, keep):
        """Fit on the columns ``keep`` from θ; θ of every column back, and n_iter."""
        model, rows, n, fit_intercept = self.model, self.rows, self.n, self.model.fit_intercept
        sub = restrict(theta, keep, rows, n, fit_intercept).reshape(rows, -1)
        model.coef_ = sub[:, :int(keep.sum())]
        model.intercept_ = sub[:, -1] if fit_intercept else np.zeros(rows)
        model.fit(columns(self.X, keep), self.y,
                  sample_weight=self.sample_weight)
        return embed(model._theta(), keep, rows, n, fit_intercept), model.n_iter_
