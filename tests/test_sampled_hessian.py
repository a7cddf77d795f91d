"""The refreshed curvature of a large X: every k-th row, matched to the exact diagonal."""
import numpy as np
import pytest

import descend.engine.objective as objective_module
from conftest import make_problem
from descend import LogisticRegression
from descend.engine.objective import Objective, hessian_stride, matched_diagonal


def exact_hessian(X, y, s, theta, l2):
    """[X 1]ᵀ diag(s a(1 − a)) [X 1] / Σs + λ, written out in float64."""
    Xt = np.column_stack([X, np.ones(len(X))])
    a = 1 / (1 + np.exp(-(Xt @ theta)))
    H = Xt.T @ (Xt * (s * a * (1 - a))[:, None]) / s.sum()
    H[np.arange(X.shape[1]), np.arange(X.shape[1])] += l2
    return H


@pytest.fixture
def problem():
    X, y = make_problem(12_000, 6, seed=3, scales=[1, 10, 0.1, 3, 1, 1],
                        offsets=[2, 0, 5, 0, 0, 0])
    X[:, 5] = 0.0
    X[[10, 20, 5000], 5] = [3.0, -2.0, 4.0]  # a rare column: rows 10, 20, 5000 only
    s = np.random.default_rng(4).uniform(0.5, 2, len(y))
    theta = np.random.default_rng(5).standard_normal(7) * 0.1
    return X, y.astype(float), s, theta


def test_large_x_samples_a_tenth_small_x_every_row():
    assert hessian_stride(1_000_000, 101) == 9
    assert hessian_stride(50_000, 101) == 1


def test_sampled_hessian_keeps_the_exact_diagonal(problem, monkeypatch):
    X, y, s, theta = problem
    monkeypatch.setattr(objective_module, "HESSIAN_ROWS_PER_PARAM", 100)
    objective = Objective(X, y, s, l2=1e-4)
    # 12,000 // (100 × 7): rows 0, 17, 34, … (not 10, 20 or 5000)
    assert objective.hessian_stride == 17
    H, exact = objective.curvature(theta), exact_hessian(X, y, s, theta, 1e-4)
    np.testing.assert_allclose(np.diag(H), np.diag(exact), rtol=1e-12)
    # the rare column, missed by the sample: its exact curvature, no correlations
    assert H[5, 5] == pytest.approx(exact[5, 5], rel=1e-12) and H[5, 5] > 2e-4
    assert np.all(H[5, :5] == 0) and H[5, 6] == 0
    # the others: the sample's correlations (706 rows: each off by about 1/√706 = 0.04)
    others = np.ix_([0, 1, 2, 3, 4, 6], [0, 1, 2, 3, 4, 6])
    norm = np.sqrt(np.outer(np.diag(exact), np.diag(exact)))
    np.testing.assert_allclose((H / norm)[others], (exact / norm)[others], atol=0.15)
    assert np.max(np.abs(H - exact)) > 1e-6  # it was sampled
    assert np.linalg.eigvalsh(H).min() > 0


def test_sampled_rows_do_not_depend_on_blocks_or_threads(problem, monkeypatch):
    X, y, s, theta = problem
    monkeypatch.setattr(objective_module, "HESSIAN_ROWS_PER_PARAM", 100)
    one = Objective(X, y, s, l2=1e-4, n_threads=1).curvature(theta)
    other = Objective(X, y, s, l2=1e-4, n_threads=3, block_rows=37).curvature(theta)
    np.testing.assert_allclose(other, one, rtol=1e-12)


def test_the_bound_is_never_sampled(problem, monkeypatch):
    X, y, s, _ = problem
    monkeypatch.setattr(objective_module, "HESSIAN_ROWS_PER_PARAM", 100)
    B = Objective(X, y, s, l2=1e-4).curvature()
    np.testing.assert_allclose(B, exact_hessian(X, y, s, np.zeros(7), 1e-4), rtol=1e-12)


def test_matched_diagonal_is_a_congruence():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    H = A @ A.T
    H[3, :], H[:, 3] = 0.0, 0.0  # a direction the sample never saw
    d = rng.uniform(1, 2, 5)
    out = matched_diagonal(H, d)
    np.testing.assert_array_equal(np.diag(out), d)
    scale = np.sqrt(d / np.where(np.diag(H) > 0, np.diag(H), 1))
    scale[3] = 0
    expected = H * np.outer(scale, scale)
    expected[3, 3] = d[3]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert np.linalg.eigvalsh(out).min() > 0


def test_a_fit_with_sampled_refreshes_reaches_the_optimum(problem, monkeypatch):
    from sklearn.linear_model import LogisticRegression as Sk
    X, y, s, _ = problem
    monkeypatch.setattr(objective_module, "HESSIAN_ROWS_PER_PARAM", 100)
    est = LogisticRegression(C=1.0).fit(X, y, sample_weight=s)
    assert est.converged_
    sk = Sk(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-4, atol=1e-6)
