"""The regularisation path and LogisticRegressionCV against scikit-learn."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV

import descend
from descend.exceptions import UsageError
from descend.optim.proximal import L1Penalty
from descend.path import PenaltyPath
from test_penalties import sparse_truth_problem


def standardised(classes=2, m=600, n=20, seed=5):
    X, y = sparse_truth_problem(m=m, n=n, seed=seed, classes=classes)
    return (X - X.mean(0)) / X.std(0), y


def test_path_starts_all_zero_at_its_largest_penalty():
    X, y = standardised()
    path = PenaltyPath(descend.LogisticRegression(penalty="l1"), X, y)
    Cs = np.logspace(-4, 4, 20)
    thetas, n_iter = path.solve(Cs)
    weights = thetas[:, :-1]
    assert np.all(weights[0] == 0)
    # below C₀ every weight is zero and no fit ran; just above it one leaves zero
    below = Cs <= path.C_zero
    assert below.any() and np.all(weights[below] == 0) and np.all(n_iter[below] == 0)
    assert np.all(np.count_nonzero(weights[~below], axis=1) > 0)
    assert np.count_nonzero(PenaltyPath(descend.LogisticRegression(penalty="l1"), X, y)
                            .solve([path.C_zero * 1.001])[0][0, :-1]) >= 1


def test_first_nonzero_c_is_exact():
    X, y = standardised()
    C0 = PenaltyPath(descend.LogisticRegression(penalty="l1"), X, y).C_zero
    below = descend.LogisticRegression(penalty="l1", C=C0 * 0.999, tol=1e-14).fit(X, y)
    above = descend.LogisticRegression(penalty="l1", C=C0 * 1.01, tol=1e-14).fit(X, y)
    assert np.all(below.coef_ == 0) and np.count_nonzero(above.coef_) == 1


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("screen", [True, False])
def test_every_point_of_the_path_satisfies_kkt(classes, screen):
    X, y = standardised(classes, n=40)
    base = descend.LogisticRegression(penalty="elasticnet", l1_ratio=0.8, tol=1e-14)
    path = PenaltyPath(base, X, y, screen=screen)
    Cs = np.geomspace(path.C_zero * 0.5, path.C_zero * 30, 25)  # fine: the rule screens
    thetas, _ = path.solve(Cs)
    for C, theta in zip(Cs, thetas):
        path.model.set_params(C=C)
        l2, l1 = path.model._strengths(path.full.S)
        path.full.l2 = l2
        grad = path.full.loss_grad(theta)[1]
        assert L1Penalty(l1, path.mask).optimality(theta, grad) < 1e-6


def test_the_strong_rule_leaves_features_out_and_changes_nothing():
    X, y = standardised(n=200, m=400)
    base = descend.LogisticRegression(penalty="l1", tol=1e-14)
    screened = PenaltyPath(base, X, y)
    Cs = np.geomspace(screened.C_zero, screened.C_zero * 5, 30)
    widths = []
    original = screened._fit_columns
    screened._fit_columns = lambda theta, keep: (widths.append(keep.sum()),
                                                 original(theta, keep))[1]
    a, _ = screened.solve(Cs)
    b, _ = PenaltyPath(base, X, y, screen=False).solve(Cs)
    assert min(widths) < 50  # most of the 200 columns left out of most fits
    np.testing.assert_array_equal(a != 0, b != 0)
    np.testing.assert_allclose(a, b, atol=2e-6)  # both stop at their tolerance


def sk_cv(X, y, Cs, penalty, ratios, scoring):
    l1_ratios = ratios if ratios else ([1.0] if penalty == "l1" else [0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SkLogisticRegressionCV(Cs=Cs, l1_ratios=l1_ratios, cv=5, solver="saga",
                                      tol=1e-10, max_iter=100_000, scoring=scoring,
                                      use_legacy_attributes=True).fit(X, y)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("penalty, ratios", [("l2", None), ("l1", None),
                                             ("elasticnet", [0.3, 0.7])])
def test_cv_chooses_scikit_learns_c(classes, penalty, ratios):
    X, y = standardised(classes)
    ours = descend.LogisticRegressionCV(Cs=12, penalty=penalty, l1_ratios=ratios,
                                        scoring="neg_log_loss", tol=1e-14).fit(X, y)
    sk = sk_cv(X, y, 12, penalty, ratios, "neg_log_loss")
    np.testing.assert_array_equal(ours.C_, sk.C_)
    np.testing.assert_array_equal(ours.l1_ratio_, sk.l1_ratio_)
    np.testing.assert_array_equal(ours.Cs_, sk.Cs_)
    key = ours.classes_[-1]
    expected = (5, 12, 2, X.shape[1] + 1) if ratios else (5, 12, X.shape[1] + 1)
    assert ours.coefs_paths_[key].shape == expected
    assert ours.scores_[key].shape == expected[:-1]
    np.testing.assert_array_equal(ours.coef_ != 0, sk.coef_ != 0)
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=2e-5)  # saga stops at tol 1e-10


def test_cv_accuracy_scoring_and_no_refit():
    X, y = standardised(m=800, seed=7)
    ours = descend.LogisticRegressionCV(Cs=8, penalty="l1", refit=False).fit(X, y)
    sk = sk_cv(X, y, 8, "l1", None, None)
    np.testing.assert_allclose(ours.scores_[1], sk.scores_[1][:, :, 0])
    ours_refit = descend.LogisticRegressionCV(Cs=8, penalty="l1").fit(X, y)
    assert ours_refit.C_[0] == sk.C_[0]
    assert ours.predict(X).shape == (len(y),)


def test_cv_parallel_paths_give_the_same_choice_and_sparse_input_works():
    X, y = standardised()
    one = descend.LogisticRegressionCV(Cs=6, penalty="l1").fit(X, y)
    many = descend.LogisticRegressionCV(Cs=6, penalty="l1", n_jobs=2).fit(sp.csr_matrix(X), y)
    assert one.C_[0] == many.C_[0]
    np.testing.assert_allclose(one.scores_[1], many.scores_[1])


@pytest.mark.parametrize("params", [{"Cs": 0}, {"Cs": [1.0, -1.0]},
                                    {"penalty": "elasticnet"},
                                    {"penalty": "elasticnet", "l1_ratios": [0.5, 2.0]},
                                    {"penalty": "l1", "l1_ratios": [0.5]},
                                    {"penalty": "lasso"}])
def test_cv_bad_grids_are_named(params):
    X, y = standardised(m=60)
    with pytest.raises(UsageError):
        descend.LogisticRegressionCV(**params).fit(X, y)
