"""descend.LogisticRegression against scikit-learn's optimum and contract."""
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler

import descend
from conftest import make_problem, reference_objective


def sk_optimum(X, y, **kw):
    return SkLogisticRegression(tol=1e-10, max_iter=100_000, **kw).fit(X, y)


def gap(X, y, ours, ref, C=1.0, sample_weight=None, fit_intercept=True):
    J = reference_objective(X, y == ours.classes_[1], ours.coef_, ours.intercept_[0], C, sample_weight)
    J_ref = reference_objective(X, y == ref.classes_[1], ref.coef_,
                                ref.intercept_[0] if fit_intercept else 0.0, C, sample_weight)
    return (J - J_ref) / J_ref


def test_breast_cancer_matches_sklearn(cancer):
    X, y = cancer
    ours = descend.LogisticRegression(C=1.0).fit(X, y)
    ref = sk_optimum(X, y, C=1.0)
    assert ours.converged_
    assert abs(gap(X, y, ours, ref)) < 1e-6
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4)


def test_breast_cancer_with_sample_weights(cancer):
    X, y = cancer
    s = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    ours = descend.LogisticRegression(C=0.5).fit(X, y, sample_weight=s)
    ref = SkLogisticRegression(C=0.5, tol=1e-10, max_iter=100_000).fit(X, y, sample_weight=s)
    assert abs(gap(X, y, ours, ref, C=0.5, sample_weight=s)) < 1e-6
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)


def test_breast_cancer_without_intercept(cancer):
    X, y = cancer
    ours = descend.LogisticRegression(fit_intercept=False).fit(X, y)
    ref = sk_optimum(X, y, fit_intercept=False)
    assert ours.intercept_[0] == 0.0
    assert abs(gap(X, y, ours, ref, fit_intercept=False)) < 1e-6
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)


def test_unscaled_data_with_defaults_reaches_sklearn_optimum():
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)  # features from 1e-3 to 1e3
    ours = descend.LogisticRegression().fit(X, y)
    ref = sk_optimum(X, y)
    assert abs(gap(X, y, ours, ref)) < 1e-6


def test_class_weight_balanced_equals_explicit_weights():
    X, y = make_problem(300, 4, seed=5)
    y = np.where(np.arange(300) < 240, 0, y)  # imbalanced
    ours = descend.LogisticRegression(class_weight="balanced").fit(X, y)
    ref = SkLogisticRegression(class_weight="balanced", tol=1e-10, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)


@pytest.mark.parametrize("labels", [("no", "yes"), (False, True), (-1, 1), ("PS", "WS")])
def test_any_two_labels(labels):
    X, y01 = make_problem(200, 3, seed=1)
    y = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[y01]
    clf = descend.LogisticRegression().fit(X, y)
    assert list(clf.classes_) == sorted(labels)
    assert set(clf.predict(X)) <= set(labels)
    assert clf.score(X, y) > 0.6
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.log(proba), clf.predict_log_proba(X), rtol=1e-10)


def test_dataframe_feature_names_and_attributes():
    X, y = make_problem(150, 3)
    df = pd.DataFrame(X, columns=["age", "income", "height"])
    clf = descend.LogisticRegression().fit(df, y)
    assert list(clf.feature_names_in_) == ["age", "income", "height"]
    assert clf.n_features_in_ == 3 and clf.coef_.shape == (1, 3) and clf.intercept_.shape == (1,)
    assert clf.n_iter_ == len(clf.history_) >= 1
    assert set(clf.history_[0]) == {"iteration", "loss", "grad_norm", "step_size", "elapsed"}
    losses = [h["loss"] for h in clf.history_]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("solver", ["gd", "momentum", "nesterov", "adam", "auto"])
def test_each_update_rule_converges(solver):
    X, y = make_problem(300, 4, seed=2)
    ref = sk_optimum(X, y)
    clf = descend.LogisticRegression(solver=solver, max_iter=20_000).fit(X, y)
    assert clf.converged_
    assert abs(gap(X, y, clf, ref)) < 1e-6


@pytest.mark.parametrize("solver,lr", [("gd", 0.5), ("momentum", 0.1), ("nesterov", 0.1), ("adam", 0.01)])
def test_fixed_learning_rate_rules_converge(solver, lr):
    X, y = make_problem(300, 4, seed=3)
    ref = sk_optimum(X, y)
    clf = descend.LogisticRegression(solver=solver, learning_rate=lr, max_iter=50_000, tol=1e-10).fit(X, y)
    assert abs(gap(X, y, clf, ref)) < 1e-5


def test_plain_gd_with_fixed_alpha_is_the_lessons_update():
    X, y = make_problem(50, 2, seed=4)
    alpha = 0.3
    clf = descend.LogisticRegression(solver="gd", learning_rate=alpha, max_iter=3, C=np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    w, b = np.zeros(2), 0.0
    for _ in range(3):  # the lesson, vectorised over m examples, by hand
        a = 1 / (1 + np.exp(-(X @ w + b)))
        dz = a - y
        w, b = w - alpha * X.T @ dz / len(y), b - alpha * dz.mean()
    np.testing.assert_allclose(clf.coef_.ravel(), w, rtol=1e-12)
    assert clf.intercept_[0] == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("batch_size", [1, 16])
def test_sgd_with_seed_is_bit_for_bit_reproducible(batch_size):
    X, y = make_problem(200, 3, seed=6)
    kw = dict(batch_size=batch_size, random_state=42, max_iter=5, solver="gd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = descend.LogisticRegression(**kw).fit(X, y)
        b = descend.LogisticRegression(**kw).fit(X, y)
        c = descend.LogisticRegression(**{**kw, "random_state": 7}).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
    assert not np.array_equal(a.coef_, c.coef_)


def test_minibatch_gets_close_to_the_optimum():
    X, y = make_problem(2000, 4, seed=7)
    ref = sk_optimum(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = descend.LogisticRegression(batch_size=64, random_state=0, max_iter=50).fit(X, y)
    assert abs(gap(X, y, clf, ref)) < 1e-3


def test_partial_fit_learns_over_batches():
    X, y = make_problem(1000, 4, seed=8)
    clf = descend.LogisticRegression(batch_size=50, random_state=0)
    for i in range(0, 1000, 200):
        clf.partial_fit(X[i:i + 200], y[i:i + 200], classes=[0, 1])
    ref = sk_optimum(X, y)
    assert clf.score(X, y) > ref.score(X, y) - 0.05
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:10, :3], y[:10])


def test_warm_start_starts_from_previous_coefficients():
    X, y = make_problem(300, 4, seed=9)
    clf = descend.LogisticRegression(warm_start=True).fit(X, y)
    first = clf.n_iter_
    clf.fit(X, y)
    assert clf.n_iter_ < first


def test_convergence_warning_says_what_to_change():
    X, y = make_problem(300, 4, seed=10)
    with pytest.warns(ConvergenceWarning, match="increase max_iter"):
        descend.LogisticRegression(solver="gd", learning_rate=0.01, max_iter=3).fit(X, y)


@pytest.mark.parametrize("m, n, seed", [(2000, 5, 11), (50_000, 30, 3)])
def test_float32_stays_float32_and_matches_float64(m, n, seed):
    """float32 data is fitted in float32 and reaches float64's optimum to 1e-5
    relative on standardised features."""
    X, y = make_problem(m, n, seed=seed)
    X = StandardScaler().fit_transform(X)
    c64 = descend.LogisticRegression().fit(X, y)
    c32 = descend.LogisticRegression().fit(X.astype(np.float32), y)
    assert c32.coef_.dtype == np.float32
    assert c32.decision_function(X.astype(np.float32)).dtype == np.float32
    theta64 = np.append(c64.coef_, c64.intercept_)
    theta32 = np.append(c32.coef_, c32.intercept_).astype(np.float64)
    assert np.linalg.norm(theta32 - theta64) <= 1e-5 * np.linalg.norm(theta64)


# -- bad input ---------------------------------------------------------------

@pytest.mark.parametrize("X,y,match", [
    (np.array([[1.0, np.nan], [2.0, 3.0]]), [0, 1], "NaN"),
    (np.array([[1.0, np.inf], [2.0, 3.0]]), [0, 1], "infinity"),
    (np.array([[1.0], [2.0]]), [1, 1], "only one class"),
    (np.array([[1.0], [2.0], [3.0]]), [0.5, 1.5, 2.5], "Unknown label type"),
    (np.array([[1.0], [2.0], [3.0]]), [0, 1], "inconsistent numbers of samples"),
    (np.empty((0, 3)), [], "0 sample"),
    (np.array([["a", "b"], ["c", "d"]], dtype=object), [0, 1], "could not convert"),
])
def test_bad_data_is_a_clear_value_error(X, y, match):
    with pytest.raises(ValueError, match=match):
        descend.LogisticRegression().fit(X, y)


@pytest.mark.parametrize("params,match", [
    ({"C": 0}, "C must be a positive number"),
    ({"C": -1.0}, "C must be a positive number"),
    ({"learning_rate": 0}, "learning_rate must be a positive number"),
    ({"learning_rate": -0.1}, "learning_rate must be a positive number"),
    ({"solver": "lbfgs"}, "solver must be one of"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"max_iter": 0}, "max_iter must be a positive integer"),
])
def test_bad_parameters_are_clear_value_errors(params, match):
    X, y = make_problem(20, 2)
    with pytest.raises(ValueError, match=match):
        descend.LogisticRegression(**params).fit(X, y)


def test_wrong_sample_weight_shape():
    X, y = make_problem(20, 2)
    with pytest.raises(ValueError, match="sample_weight"):
        descend.LogisticRegression().fit(X, y, sample_weight=np.ones(5))


def test_diverging_learning_rate_is_an_error_not_nan():
    X, y = make_problem(200, 3, seed=12)
    with pytest.raises(descend.DivergenceError, match="learning_rate=1e\\+06.*smaller"):
        descend.LogisticRegression(solver="gd", learning_rate=1e6, C=np.inf).fit(X * 100, y)


def test_verbose_prints_progress_to_stderr(capsys):
    X, y = make_problem(200, 3, seed=13)
    descend.LogisticRegression(verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert err.count("iter ") >= 2 and "loss" in err and "|grad|" in err


def test_threads_give_the_same_optimum():
    X, y = make_problem(50_000, 4, seed=14)
    one = descend.LogisticRegression(n_jobs=1).fit(X, y)
    two = descend.LogisticRegression(n_jobs=2).fit(X, y)
    np.testing.assert_allclose(one.coef_, two.coef_, rtol=1e-9)
