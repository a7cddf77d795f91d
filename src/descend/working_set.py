"""One L1 or elastic-net fit of many features, solved on a working set of columns.

At the optimum most weights are zero, and a weight that stays zero needs no
column of X. So (as celer and blitz do) the fit starts from the intercept
alone (or the warm start) and

1. takes as working set the features with a non-zero weight and the
   ``INITIAL_SIZE`` whose |∂J/∂wⱼ| most exceeds λ₁ (at most those the strong
   rule keeps, |∂J/∂wⱼ| ≥ 2λ₁ − λ₁max);
2. fits on those columns only, warm-started: each gradient reads |W| columns,
   not n, and a working set of up to 1024 parameters takes the factored
   metric (proximal Newton, :class:`~descend.optim.proximal.MetricLasso`)
   that the full problem is too wide for;
3. takes one gradient on every column and checks the KKT conditions of the
   zero weights outside the set (:mod:`descend.screening`); the violators
   join the set, the largest first, at most as many as the set holds (so it
   at most doubles), and 2–3 repeat until there is none.

The set only grows, so the loop ends (at worst with every column). Each fit
stops at the estimator's ``tol``; with no violator outside, the full
problem's stopping measure is the last fit's, so the point returned is the
full problem's optimum to the same ``tol``: the full-gradient check is the
guarantee, not the choice of the set.
"""
import time

import numpy as np
import scipy.sparse as sp

from descend.optim.precondition import FactoredCurvature
from descend.screening import (
    columns,
    embed,
    intercept_only_theta,
    kkt_violations,
    restrict,
    support,
    weights_grad,
)

#: The working set is used from this many features up (below, one fit on
#: every column is as fast: measured in benchmarks/README.md, "penalties").
MIN_FEATURES = 200
#: Features in the first working set (besides a warm start's non-zeros).
INITIAL_SIZE = 100
#: A set grown past this share of the features becomes every feature: a fit
#: on so many costs about as much as on all, and each round more would cost
#: another (measured with 1,500 non-zeros of 2,000: three rounds past the
#: factored metric's limit took 2.5 × one fit on all columns).
ALL_COLUMNS_SHARE = 0.5


class WorkingSetFit:
    """The working-set fit of an estimator's settings on (X, y).

    Parameters
    ----------
    model : descend.LogisticRegression
        Fitted settings (``classes_`` set); penalty with an L1 part.
    X : ndarray or scipy CSR matrix of shape (m, n)
    y01 : ndarray of shape (m,)
        The labels' codes (:meth:`LogisticRegression._encode`).
    sample_weight : ndarray of shape (m,) or None
        The weights the fit uses (class weights applied).
    """

    def __init__(self, model, X, y01, sample_weight):
        self.model, self.X, self.y01, self.weights = model, X, y01, sample_weight
        self.full = model._objective(X, y01, sample_weight)
        K = len(model.classes_)
        self.rows = K if K > 2 else 1
        self.n = X.shape[1]
        self.l1 = model._strengths(self.full.S)[1]
        self.iterations, self.history, self.converged, self.measure = 0, [], True, 0.0

    def start(self, theta0):
        """θ to start from: ``theta0`` when it has a non-zero weight (a warm
        start), else every weight zero and the intercept alone fitted."""
        if theta0 is not None and support(theta0, self.rows, self.n).any():
            return np.asarray(theta0, dtype=np.float64)
        return intercept_only_theta(self.y01, self.weights, len(self.model.classes_), self.n,
                                    self.model.fit_intercept)

    def solve(self, theta0=None):
        """The optimum from ``theta0`` (full layout, or None). Sets
        ``iterations`` (every fit's iterations together), ``history``,
        ``converged`` and ``measure`` (the last fit's)."""
        theta = self.start(theta0)
        grad = weights_grad(self.full, theta, self.rows, self.n)
        keep = self._first_set(theta, grad)
        started = time.perf_counter()
        while keep.any():
            theta = self._fit_columns(theta, keep, started)
            if not self.converged:
                break  # max_iter spent: the estimator warns
            grad = weights_grad(self.full, theta, self.rows, self.n)
            violations = kkt_violations(grad, self.l1) & ~keep
            if not violations.any():
                break
            keep |= _largest(violations, grad, max(int(keep.sum()), INITIAL_SIZE))
            if keep.sum() > ALL_COLUMNS_SHARE * self.n:
                keep[:] = True
        return theta

    def _first_set(self, theta, grad):
        """The warm start's non-zeros and up to ``INITIAL_SIZE`` of the
        features the strong rule keeps from the start, the largest |∂J/∂wⱼ| first."""
        score = np.max(np.abs(grad), axis=0)
        strong = score >= 2 * self.l1 - float(np.max(score, initial=0.0))
        return support(theta, self.rows, self.n) | _largest(strong, grad, INITIAL_SIZE)

    def _fit_columns(self, theta, keep, started):
        """Fit on the columns ``keep`` from θ with the estimator's solver, the
        iterations left of ``max_iter``; θ of every column back."""
        model, fit_intercept = self.model, self.model.fit_intercept
        objective = model._objective(columns(self.X, keep), self.y01, self.weights)
        solver = model._make_solver(objective)
        solver.max_iter = max(model.max_iter - self.iterations, 1)
        solver.callback = self._renumbering(model._iteration_callback, started,
                                            int(keep.sum()))
        sub_theta = restrict(theta, keep, self.rows, self.n, fit_intercept)
        metric = self._metric(solver, objective, sub_theta)
        result = solver.run(objective, sub_theta, precond=metric)
        state = result.state
        self.iterations += state.iteration
        self.history += state.history
        self.converged, self.measure = state.converged, state.measure
        return embed(result.theta, keep, self.rows, self.n, fit_intercept)

    def _metric(self, solver, objective, sub_theta):
        """The Hessian at a warm start (after the first set) where the solver
        would factor the curvature: it starts where the bound would be
        refreshed to, one pass over X cheaper; else None (the solver's own)."""
        if self.iterations == 0 or solver.choose_preconditioner(objective) != "full":
            return None
        with objective.evaluation_context():  # BLAS on one core per thread, as the solver
            return FactoredCurvature(objective.curvature(sub_theta))

    def _renumbering(self, callback, started, width):
        """The estimator's callback, each record numbered and timed from the
        start of the whole fit rather than of this working set's, and the
        set's size (``working_set``, features) added."""
        offset = self.iterations

        def renumbered(state):
            record = state.history[-1]
            record["iteration"] = offset + state.iteration
            record["elapsed"] = time.perf_counter() - started
            record["working_set"] = width
            callback(state)
        return renumbered


def _largest(candidates, grad, count):
    """The ``count`` features of ``candidates`` of largest maxₖ |∂J/∂wₖⱼ|."""
    index = np.flatnonzero(candidates)
    if len(index) > count:
        score = np.max(np.abs(grad[:, index]), axis=0)
        index = index[np.argpartition(-score, count - 1)[:count]]
    chosen = np.zeros(len(candidates), dtype=bool)
    chosen[index] = True
    return chosen


def applies(model, X, n_features):
    """Whether ``model.fit`` on X takes the working set: an L1 part and a
    step size of its own (not the lesson's fixed α), at least
    ``MIN_FEATURES`` features of NumPy or CSR X."""
    return (model._strengths(1.0)[1] > 0 and model.learning_rate == "auto"
            and n_features >= MIN_FEATURES
            and (isinstance(X, np.ndarray) or sp.issparse(X)))
