"""The working-set fit of many features: the plain fit's and scikit-learn's optimum."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
import descend.working_set as working_set
from descend.optim.proximal import L1Penalty, penalised_mask
from test_penalties import descend_model, relative_difference, sk_model, smooth_gradient


def wide(m=400, n=240, classes=2, seed=0):
    """Standardised columns, neighbours correlated; eight of them matter."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    X[:, 1:] += 0.5 * X[:, :-1]
    X = (X - X.mean(0)) / X.std(0)
    W = np.zeros((classes, n))
    W[:, rng.choice(n, 8, replace=False)] = 1.5 * rng.standard_normal((classes, 8))
    if classes == 2:
        y = (rng.random(m) < 1 / (1 + np.exp(-(X @ W[0] + 0.3)))).astype(int)
    else:
        y = np.argmax(X @ W.T + rng.gumbel(size=(m, classes)), axis=1)
    return X, y


def plain(model, X, y, monkeypatch):
    """``model`` fitted on every column at once (no working set)."""
    with monkeypatch.context() as patch:
        patch.setattr(working_set, "MIN_FEATURES", 10**9)
        return model.fit(X, y)


def set_sizes(model):
    """The working set's size at each recorded iteration."""
    return [record["working_set"] for record in model.history_]


def kkt_violation(model, X, y):
    """The largest violation of the optimality conditions at the fitted θ,
    relative to the gradient's scale at θ = 0."""
    grad, l1, objective = smooth_gradient(model, X, y)
    theta = model._theta()
    mask = penalised_mask(getattr(objective, "n_outputs", 1), X.shape[1], model.fit_intercept)
    scale = np.max(np.abs(objective.loss_grad(np.zeros_like(theta))[1][mask]))
    return L1Penalty(l1, mask).optimality(theta, grad) / scale


@pytest.mark.parametrize("C", [0.03, 0.1])
def test_the_working_set_reaches_liblinears_optimum_without_intercept(C, monkeypatch):
    X, y = wide()
    ours = descend_model(C, 1.0, fit_intercept=False).fit(X, y)
    assert max(set_sizes(ours)) < X.shape[1]  # the working set ran, on some columns
    sk = SkLogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", fit_intercept=False,
                              tol=1e-12, max_iter=100_000, random_state=0).fit(X, y)
    every_column = plain(descend_model(C, 1.0, fit_intercept=False), X, y, monkeypatch)
    assert "working_set" not in every_column.history_[0]
    for other in (sk, every_column):
        np.testing.assert_array_equal(ours.coef_ != 0, other.coef_ != 0)
        assert relative_difference(ours.coef_, other.coef_) < 1e-6
    assert 0 < np.count_nonzero(ours.coef_) < X.shape[1] // 4
    assert kkt_violation(ours, X, y) < 1e-7


@pytest.mark.parametrize("classes, C, rho", [(2, 0.05, 1.0), (2, 0.05, 0.5), (3, 0.05, 1.0)])
def test_the_working_set_reaches_sagas_optimum(classes, C, rho, monkeypatch):
    X, y = wide(classes=classes, seed=1)
    ours = descend_model(C, rho, max_iter=5000).fit(X, y)
    assert max(set_sizes(ours)) < X.shape[1]
    sk = sk_model(C, rho).fit(X, y)
    every_column = plain(descend_model(C, rho, max_iter=20_000), X, y, monkeypatch)
    for other in (sk, every_column):
        np.testing.assert_array_equal(ours.coef_ != 0, other.coef_ != 0)
        assert relative_difference(ours.coef_, other.coef_) < 1e-6
        np.testing.assert_allclose(ours.intercept_, other.intercept_, atol=1e-6)
    assert kkt_violation(ours, X, y) < 1e-7


def test_sparse_x_takes_the_working_set_to_the_dense_optimum():
    X, y = wide(seed=2)
    X[np.abs(X) < 0.7] = 0.0
    dense = descend_model(0.05, 1.0).fit(X, y)
    sparse = descend_model(0.05, 1.0).fit(sp.csr_matrix(X), y)
    assert max(set_sizes(sparse)) < X.shape[1]
    np.testing.assert_array_equal(dense.coef_ != 0, sparse.coef_ != 0)
    assert relative_difference(sparse.coef_, dense.coef_) < 1e-6
    assert kkt_violation(sparse, sp.csr_matrix(X), y) < 1e-7


def suppressor_problem(m=2000, n=220, seed=3):
    """y depends on s; column 0 is s + e, column 1 is e alone: column 1 is
    useless at w = 0 (its gradient is noise) and needed once column 0 is in
    (its weight cancels e). The other columns are noise."""
    rng = np.random.default_rng(seed)
    s, e = rng.standard_normal(m), rng.standard_normal(m)
    X = np.column_stack([s + e, e, rng.standard_normal((m, n - 2))])
    y = (rng.random(m) < 1 / (1 + np.exp(-3 * s))).astype(int)
    return X, y


def test_a_feature_left_out_of_the_first_set_is_added_back(monkeypatch):
    X, y = suppressor_problem()
    monkeypatch.setattr(working_set, "INITIAL_SIZE", 1)
    sets = []
    original = working_set.WorkingSetFit._fit_columns

    def recording(self, theta, keep, started):
        sets.append(np.flatnonzero(keep))
        return original(self, theta, keep, started)
    monkeypatch.setattr(working_set.WorkingSetFit, "_fit_columns", recording)
    ours = descend_model(0.02, 1.0, fit_intercept=False).fit(X, y)
    assert sets[0].tolist() == [0] and len(sets) > 1  # column 1 joined later
    assert ours.coef_[0, 1] < 0  # and cancels e
    sk = SkLogisticRegression(C=0.02, l1_ratio=1.0, solver="liblinear", fit_intercept=False,
                              tol=1e-12, max_iter=100_000, random_state=0).fit(X, y)
    np.testing.assert_array_equal(ours.coef_ != 0, sk.coef_ != 0)
    assert relative_difference(ours.coef_, sk.coef_) < 1e-6
    assert kkt_violation(ours, X, y) < 1e-7


def test_iterations_history_and_warm_start(monkeypatch):
    X, y = wide(seed=4)
    model = descend_model(0.1, 1.0)
    model.fit(X, y)
    # n_iter_ counts every set's iterations, numbered on from one set to the next
    assert [r["iteration"] for r in model.history_] == list(range(1, model.n_iter_ + 1))
    assert len(set(set_sizes(model))) > 1 and model.solver_state_ is None
    assert model.converged_
    first = model.coef_.copy()
    model.set_params(warm_start=True).fit(X, y)  # from the optimum: one set, few iterations
    assert model.n_iter_ <= 3 and len(set(set_sizes(model))) == 1
    assert relative_difference(model.coef_, first) < 1e-6
    # a warm start at another C reaches that C's optimum
    model.set_params(C=0.03).fit(X, y)
    cold = descend_model(0.03, 1.0).fit(X, y)
    np.testing.assert_array_equal(model.coef_ != 0, cold.coef_ != 0)
    assert relative_difference(model.coef_, cold.coef_) < 1e-6


def test_max_iter_is_shared_by_every_set():
    X, y = wide(seed=5)
    sizes = set_sizes(descend.LogisticRegression(penalty="l1", C=0.2).fit(X, y))
    first = sizes.count(sizes[0])
    assert len(sizes) > first + 1  # the second set needs more than one iteration
    with pytest.warns(ConvergenceWarning, match=f"max_iter={first + 1}"):
        model = descend.LogisticRegression(penalty="l1", C=0.2, max_iter=first + 1).fit(X, y)
    assert model.n_iter_ == first + 1 and not model.converged_
    assert set_sizes(model) == sizes[:first + 1]


def test_every_weight_zero_below_the_first_nonzero_c():
    X, y = wide(seed=6)
    model = descend.LogisticRegression(penalty="l1", C=1e-4).fit(X, y)
    assert np.all(model.coef_ == 0) and model.converged_
    share = y.mean()
    assert abs(model.intercept_[0] - np.log(share / (1 - share))) < 1e-12


@pytest.mark.parametrize("change", [{"penalty": "l2"}, {"learning_rate": 0.1, "solver": "gd"},
                                    {"callback": lambda state: None}, {"n": 150}])
def test_where_the_working_set_does_not_apply(change):
    n = change.pop("n", 240)
    X, y = wide(n=n, seed=7)
    options = {"penalty": "l1", "C": 0.1, "max_iter": 30, **change}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = descend.LogisticRegression(**options).fit(X, y)
    assert "working_set" not in model.history_[0] and model.solver_state_ is not None


@pytest.mark.parametrize("case", ["sample_weight", "class_weight", "float32"])
def test_weights_and_float32_reach_the_every_column_optimum(case, monkeypatch):
    X, y = wide(seed=8)
    weights = np.random.default_rng(0).uniform(0.2, 2, len(y))
    fit = {"sample_weight": weights} if case == "sample_weight" else {}
    X = X.astype(np.float32) if case == "float32" else X
    options = {"class_weight": "balanced"} if case == "class_weight" else {}
    ours = descend_model(0.1, 1.0, **options).fit(X, y, **fit)
    assert "working_set" in ours.history_[0] and ours.coef_.dtype == X.dtype
    with monkeypatch.context() as patch:
        patch.setattr(working_set, "MIN_FEATURES", 10**9)
        every_column = descend_model(0.1, 1.0, **options).fit(X, y, **fit)
    np.testing.assert_array_equal(ours.coef_ != 0, every_column.coef_ != 0)
    tolerance = 1e-5 if case == "float32" else 1e-6  # float32's gradient: ~1e-7 relative
    assert relative_difference(ours.coef_, every_column.coef_) < tolerance
