"""Divergence, huge values, constant and duplicated columns, separable data."""
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.metrics import log_loss

import descend
from conftest import make_problem
from descend.optim import solver as solver_module


def test_auto_step_is_cut_when_the_loss_rises_and_training_continues(monkeypatch):
    X, y = make_problem(400, 5, seed=20, scales=[1, 2, 3, 4, 5])
    # Pretend the curvature estimate is 1000 times too small: the first steps
    # are far too long and the loss rises.
    real = solver_module.Solver._curvature_estimate
    monkeypatch.setattr(solver_module.Solver, "_curvature_estimate",
                        lambda self, *args: real(self, *args) / 1000)
    clf = descend.LogisticRegression(preconditioner="diagonal", max_iter=5000).fit(X, y)
    steps = [h["step_size"] for h in clf.history_]
    assert steps[-1] < steps[0] / 100          # cut, several times
    assert clf.converged_ and np.all(np.isfinite(clf.coef_))
    ref = SkLogisticRegression(tol=1e-10, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-4, atol=1e-5)


def test_constant_and_duplicated_columns_give_sklearns_answer():
    X, y = make_problem(500, 3, seed=21)
    X = np.column_stack([X, np.full(500, 7.0), X[:, 0], X[:, 0]])
    clf = descend.LogisticRegression().fit(X, y)
    ref = SkLogisticRegression(tol=1e-10, max_iter=10_000).fit(X, y)
    assert clf.converged_
    np.testing.assert_allclose(clf.coef_, ref.coef_, atol=1e-4)
    # Without a penalty the duplicated columns have no unique split: the sum is what is defined.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        free = descend.LogisticRegression(C=np.inf).fit(X, y)
    assert np.all(np.isfinite(free.coef_))
    split = free.coef_[0, 0] + free.coef_[0, 4] + free.coef_[0, 5]
    ref_free = SkLogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X[:, :3], y)
    assert split == pytest.approx(ref_free.coef_[0, 0], rel=1e-4)


@pytest.mark.parametrize("solver", ["auto", "gd", "momentum", "nesterov", "adam"])
def test_separable_data_without_penalty_stops_with_finite_weights_and_says_why(solver):
    rng = np.random.default_rng(22)
    X = rng.standard_normal((300, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    started = time.perf_counter()
    with pytest.warns(ConvergenceWarning) as caught:
        clf = descend.LogisticRegression(C=np.inf, solver=solver).fit(X, y)
    assert time.perf_counter() - started < 30
    assert np.all(np.isfinite(clf.coef_)) and np.isfinite(clf.intercept_[0])
    messages = [str(w.message) for w in caught]
    # The weights point along the boundary x0 + 0.5 x1 = 0 that made the labels.
    direction = clf.coef_.ravel() / np.linalg.norm(clf.coef_)
    assert direction @ np.array([1, 0.5, 0]) / np.linalg.norm([1, 0.5, 0]) > 0.999
    if solver != "adam":
        assert clf.score(X, y) == 1.0
        assert any("separable" in m for m in messages), messages
    else:
        # Adam's steps shrink with its moving averages: within max_iter it gets
        # close, not all the way, and says it stopped at max_iter.
        assert clf.score(X, y) >= 0.98
        assert log_loss(y, clf.predict_proba(X)[:, 1]) < 0.15  # log 2 = 0.69 at the start
        expected = "separable" if clf.score(X, y) == 1.0 else f"max_iter={clf.max_iter} "
        assert any(expected in m for m in messages), messages


def test_huge_magnitudes_are_a_clear_error_not_nan():
    X, y = make_problem(200, 3, seed=23)
    X[:, 2] *= 1e200
    with pytest.raises(descend.DataError, match="column 2.*rescale"):
        descend.LogisticRegression().fit(X, y)


def test_non_finite_loss_with_fixed_rate_names_the_rate():
    X, y = make_problem(200, 3, seed=24)
    with pytest.raises(descend.DivergenceError, match="learning_rate=1e\\+10"):
        descend.LogisticRegression(solver="momentum", learning_rate=1e10).fit(X * 1e3, y)
