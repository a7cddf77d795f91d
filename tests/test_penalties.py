"""L1 and elastic net: scikit-learn's saga objective, exact zeros, the KKT conditions."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
from descend.exceptions import UsageError
from descend.optim.proximal import L1Penalty, ProximalStep, penalised_mask, soft_threshold


def sparse_truth_problem(m=300, n=12, seed=0, classes=2):
    """Scaled, offset columns; only the first four matter."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * np.geomspace(0.3, 3, n) + rng.uniform(-1, 1, n)
    W = np.zeros((classes, n))
    W[:, :4] = rng.standard_normal((classes, 4)) * 1.5
    if classes == 2:
        z = X @ W[0] + 0.3
        y = (rng.random(m) < 1 / (1 + np.exp(-z))).astype(int)
    else:
        y = np.argmax(X @ W.T + rng.gumbel(size=(m, classes)), axis=1)
    return X, y


def descend_model(C, rho, **kw):
    if rho == 1:
        return descend.LogisticRegression(C=C, penalty="l1", tol=1e-15, **kw)
    return descend.LogisticRegression(C=C, penalty="elasticnet", l1_ratio=rho, tol=1e-15, **kw)


def sk_model(C, rho, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SkLogisticRegression(C=C, l1_ratio=rho, solver="saga", tol=1e-12,
                                    max_iter=200_000, **kw)


def relative_difference(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def smooth_gradient(model, X, y):
    """∇ of the smooth part (loss + λ₂‖w‖²/2) at the fitted θ, and λ₁, from
    the estimator's own objective."""
    y01 = model._encode(np.asarray(y))
    objective = model._objective(X, y01, None)
    _, grad = objective.loss_grad(model._theta())
    return grad, model._strengths(objective.S)[1], objective


# -- the proximal map -------------------------------------------------------
def test_soft_threshold_is_the_prox_of_the_l1_norm():
    v = np.array([-3.0, -0.5, 0.0, 0.2, 2.0])
    t = np.array([1.0, 1.0, 1.0, 0.1, 0.0])
    out = soft_threshold(v, t)
    np.testing.assert_array_equal(out, [-2.0, 0.0, 0.0, 0.1, 2.0])
    # prox: argmin_u ½(u − v)² + t|u|, checked on a fine grid for each coordinate
    grid = np.linspace(-4, 4, 80001)
    for vi, ti, oi in zip(v, t, out):
        assert abs(grid[np.argmin(0.5 * (grid - vi) ** 2 + ti * np.abs(grid))] - oi) < 1e-4


def test_proximal_link_thresholds_by_the_step_and_spares_the_intercept():
    link = ProximalStep()
    link.thresholds = np.array([2.0, 2.0, 0.0])
    theta = np.array([1.0, 0.5, 0.1])
    u, _ = link.update(np.array([0.5, -0.1, -0.3]), {}, theta, 0.25)
    # 1.5 − 0.5; 0.4 → 0; b moves freely
    np.testing.assert_allclose(theta + u, [1.0, 0.0, -0.2])


def test_thresholds_follow_the_diagonal_metric():
    from descend.optim.precondition import DiagonalScaling
    penalty = L1Penalty(0.3, penalised_mask(1, 3, True))
    precond = DiagonalScaling(np.array([1.0, -2.0, 5.0]), np.array([2.0, 4.0, 0.5]), True)
    # w = w′/σ, so λ|w| = (λ/σ)|w′|; the intercept is not thresholded
    np.testing.assert_allclose(penalty.scaled_thresholds(precond), [0.15, 0.075, 0.6, 0.0])


# -- optima against scikit-learn ---------------------------------------------
@pytest.mark.parametrize("C, rho", [(0.04, 1.0), (0.1, 1.0), (1.0, 1.0), (0.05, 0.5),
                                    (0.5, 0.5), (0.3, 0.2)])
def test_binary_optimum_matches_saga(C, rho):
    X, y = sparse_truth_problem()
    X = (X - X.mean(0)) / X.std(0)  # saga reaches 1e-12 only on standardised columns
    ours = descend_model(C, rho).fit(X, y)
    sk = sk_model(C, rho).fit(X, y)
    np.testing.assert_array_equal(ours.coef_ != 0, sk.coef_ != 0)
    assert relative_difference(ours.coef_, sk.coef_) < 1e-6
    assert abs(ours.intercept_[0] - sk.intercept_[0]) < 1e-6 * max(1, abs(sk.intercept_[0]))
    assert 0 < np.count_nonzero(ours.coef_)


@pytest.mark.parametrize("C", [0.01, 0.05, 0.3])
def test_l1_without_intercept_matches_liblinear(C):
    X, y = sparse_truth_problem(seed=3)
    ours = descend_model(C, 1.0, fit_intercept=False).fit(X, y)
    sk = SkLogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", fit_intercept=False,
                              tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_array_equal(ours.coef_ != 0, sk.coef_ != 0)
    assert relative_difference(ours.coef_, sk.coef_) < 1e-6


@pytest.mark.parametrize("C, rho", [(0.05, 1.0), (0.3, 0.5)])
def test_k_class_optimum_matches_saga(C, rho):
    X, y = sparse_truth_problem(m=400, n=10, seed=1, classes=3)
    X = (X - X.mean(0)) / X.std(0)
    ours = descend_model(C, rho).fit(X, y)
    sk = sk_model(C, rho).fit(X, y)
    np.testing.assert_array_equal(ours.coef_ != 0, sk.coef_ != 0)
    assert relative_difference(ours.coef_, sk.coef_) < 1e-6
    np.testing.assert_allclose(ours.intercept_, sk.intercept_, atol=1e-6)


# -- the KKT conditions at the returned point --------------------------------
@pytest.mark.parametrize("classes, C, rho", [(2, 0.05, 1.0), (2, 0.5, 0.5), (3, 0.1, 1.0),
                                             (3, 1.0, 0.7)])
@pytest.mark.parametrize("sparse", [False, True])
def test_kkt_conditions_hold(classes, C, rho, sparse):
    X, y = sparse_truth_problem(m=500, n=15, seed=4, classes=classes)
    X = sp.csr_matrix(X) if sparse else X
    model = descend_model(C, rho).fit(X, y)
    grad, l1, objective = smooth_gradient(model, X, y)
    theta = model._theta()
    mask = penalised_mask(getattr(objective, "n_outputs", 1), X.shape[1], True)
    w, g = theta[mask], grad[mask]
    zero = w == 0
    assert zero.any() and (~zero).any()
    # the gradient's own scale: λ at which every weight would be zero
    scale = np.max(np.abs(objective.loss_grad(np.zeros_like(theta))[1][mask]))
    # |gⱼ| ≤ λρ where wⱼ = 0; gⱼ + λρ sign wⱼ = 0 otherwise (g includes λ(1 − ρ)w)
    assert np.all(np.abs(g[zero]) <= l1 + 1e-7 * scale)
    assert np.max(np.abs(g[~zero] + l1 * np.sign(w[~zero]))) < 1e-6 * scale
    assert np.max(np.abs(grad[~mask])) < 1e-6 * scale  # the intercepts: ∂J/∂b = 0
    assert L1Penalty(l1, mask).optimality(theta, grad) < 1e-6 * scale


def test_the_penalty_zeroes_coefficients_exactly():
    X, y = sparse_truth_problem(n=30)
    model = descend.LogisticRegression(C=0.04, penalty="l1").fit(X, y)
    assert 0 < np.count_nonzero(model.coef_) < 10
    kept = model.coef_[model.coef_ != 0]
    assert np.min(np.abs(kept)) > 1e-6  # the rest are exact zeros, not 1e-17


def test_strong_penalty_leaves_every_weight_at_zero():
    X, y = sparse_truth_problem()
    model = descend.LogisticRegression(C=1e-4, penalty="l1", tol=1e-15).fit(X, y)
    assert np.all(model.coef_ == 0)
    p = np.mean(y)
    assert abs(model.intercept_[0] - np.log(p / (1 - p))) < 1e-6  # the intercept alone


# -- the penalty's corner cases ----------------------------------------------
def test_elasticnet_with_ratio_zero_is_l2():
    X, y = sparse_truth_problem()
    l2 = descend.LogisticRegression(C=0.3, preconditioner="diagonal", tol=1e-14).fit(X, y)
    en = descend.LogisticRegression(C=0.3, penalty="elasticnet", l1_ratio=0.0,
                                    preconditioner="diagonal", tol=1e-14).fit(X, y)
    np.testing.assert_array_equal(l2.coef_, en.coef_)


def test_penalty_none_is_infinite_c():
    X, y = sparse_truth_problem()
    a = descend.LogisticRegression(C=0.01, penalty=None).fit(X, y)
    b = descend.LogisticRegression(C=np.inf).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_sample_weights_are_repeated_rows():
    X, y = sparse_truth_problem()
    weights = np.random.default_rng(0).integers(1, 4, len(y))
    a = descend.LogisticRegression(C=0.1, penalty="l1", tol=1e-15).fit(X, y, sample_weight=weights)
    b = descend.LogisticRegression(C=0.1, penalty="l1", tol=1e-15).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_array_equal(a.coef_ != 0, b.coef_ != 0)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-9)


def test_sparse_x_reaches_the_dense_optimum():
    X, y = sparse_truth_problem(classes=3)
    a = descend_model(0.1, 1.0).fit(X, y)
    b = descend_model(0.1, 1.0).fit(sp.csr_matrix(X), y)
    np.testing.assert_array_equal(a.coef_ != 0, b.coef_ != 0)
    # dense X takes the factored metric, CSR the diagonal one: each to its tolerance
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("params, names", [
    ({"penalty": "l1", "l1_ratio": 0.5}, "l1_ratio"),
    ({"l1_ratio": 0.5}, "l1_ratio"),
    ({"penalty": "elasticnet"}, "l1_ratio"),
    ({"penalty": "elasticnet", "l1_ratio": 1.5}, "l1_ratio"),
    ({"penalty": "elasticnet", "l1_ratio": -0.1}, "l1_ratio"),
    ({"penalty": "elasticnet", "l1_ratio": True}, "l1_ratio"),
    ({"penalty": "lasso"}, "penalty"),
    ({"penalty": "l1", "solver": "adam"}, "solver"),
    ({"penalty": "l1", "solver": "momentum"}, "solver"),
    ({"penalty": "l1", "batch_size": 10}, "batch_size"),
])
def test_bad_penalty_settings_are_named(params, names):
    X, y = sparse_truth_problem(m=40)
    with pytest.raises(UsageError, match=names):
        descend.LogisticRegression(**params).fit(X, y)


def test_l2_settings_keep_every_solver():
    X, y = sparse_truth_problem(m=40)
    descend.LogisticRegression(solver="adam", batch_size=10, max_iter=2).fit(X, y)
    descend.LogisticRegression(penalty="elasticnet", l1_ratio=0.0, solver="adam",
                               preconditioner="full").fit(X, y)


def test_the_lasso_in_a_full_metric_meets_its_kkt_conditions():
    from descend.optim.precondition import FactoredCurvature
    from descend.optim.proximal import MetricLasso
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 8))
    A[:, 1] += 3 * A[:, 0]  # strongly coupled coordinates
    precond = FactoredCurvature(A.T @ A / 40)
    mask = np.array([True] * 7 + [False])
    lasso = MetricLasso(L1Penalty(0.3, mask), precond)
    v = rng.standard_normal(8)
    z = precond.from_scaled(lasso.prox(v, 2.0))
    z_exact = lasso.last  # the lasso's own z keeps exact zeros
    np.testing.assert_allclose(z, z_exact, atol=1e-10)
    r = lasso.B @ (z_exact - precond.from_scaled(v))
    lam = np.where(mask, 0.6, 0.0)
    zero = z_exact == 0
    assert zero.any() and (~zero).any()
    assert np.all(np.abs(r[zero]) <= lam[zero] + 1e-12)
    np.testing.assert_allclose(r[~zero] + lam[~zero] * np.sign(z_exact[~zero]), 0, atol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_full_and_diagonal_metrics_reach_the_same_optimum(fit_intercept):
    X, y = sparse_truth_problem(seed=6)
    X = X + 3.0  # offsets: the diagonal metric without an intercept is badly conditioned
    a = descend_model(0.05, 0.8, preconditioner="full", fit_intercept=fit_intercept).fit(X, y)
    b = descend_model(0.05, 0.8, preconditioner="diagonal", max_iter=20_000,
                      fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_array_equal(a.coef_ != 0, b.coef_ != 0)
    # the diagonal metric stops at its tolerance sooner in these poorly scaled
    # coordinates (without an intercept nothing centres the offsets)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-4, atol=1e-7)
    assert a.n_iter_ < b.n_iter_
    grad, l1, objective = smooth_gradient(a, X, y)
    mask = penalised_mask(1, X.shape[1], fit_intercept)
    assert L1Penalty(l1, mask).optimality(a._theta(), grad) < 1e-8
