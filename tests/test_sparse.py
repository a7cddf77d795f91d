"""Sparse X: the CSR kernel and objective give the dense numbers, the
estimator takes every scipy sparse form without densifying it.

The hypothesis examples are bounded for CI (profile "ci"); run the long
profile with ``HYPOTHESIS_PROFILE=long``.
"""
import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
from conftest import reference_objective
from descend.engine import csr_objective as csr_module
from descend.engine.csr_kernels import csr_fused_rows
from descend.engine.csr_objective import CsrObjective
from descend.engine.objective import Objective
from descend.exceptions import UsageError

settings.register_profile("ci", max_examples=60, deadline=10_000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=3_000, deadline=10_000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

VARIANTS = ["plain", "unsorted", "explicit-zeros", "empty-rows", "empty-columns",
            "repeated-columns"]


def sparse_problem(m=600, n=40, density=0.1, seed=0, dtype=np.float64, index=np.int32,
                   variant="plain"):
    """A CSR X (with the quirk ``variant``), labels from a logistic model, and
    the dense X holding the same numbers."""
    rng = np.random.default_rng(seed)
    X = sp.random(m, n, density=density, format="csr", random_state=rng,
                  data_rvs=lambda k: rng.standard_normal(k) * 2 + 0.5).astype(dtype)
    if variant == "empty-rows":
        X = sp.diags((rng.random(m) > 0.3).astype(dtype)) @ X
        X.eliminate_zeros()
    if variant == "empty-columns":
        X = X @ sp.diags((np.arange(n) % 3 != 0).astype(dtype))
        X.eliminate_zeros()
    X = sp.csr_matrix(X)
    data, indices, indptr = X.data.copy(), X.indices.copy(), X.indptr.copy()
    if variant == "unsorted":
        for i in range(m):
            row = slice(indptr[i], indptr[i + 1])
            order = rng.permutation(indptr[i + 1] - indptr[i])
            data[row], indices[row] = data[row][order], indices[row][order]
    if variant == "explicit-zeros":
        extra = rng.integers(0, n, m)   # one stored 0 per row, in a column of its own
        X = X + sp.csr_matrix((np.full(m, 1e-300), (np.arange(m), extra)), shape=(m, n))
        X.data[X.data == 1e-300] = 0.0
        data, indices, indptr = X.data, X.indices, X.indptr
    if variant == "repeated-columns":   # every stored value split in two entries
        data = np.repeat(data / 2, 2)
        indices = np.repeat(indices, 2)
        indptr = indptr * 2
    csr = sp.csr_matrix((data.astype(dtype), indices, indptr), shape=(m, n))
    # set after construction: scipy's constructor would narrow int64 to int32
    csr.indices, csr.indptr = indices.astype(index), indptr.astype(index)
    if variant == "unsorted":
        assert not csr.has_sorted_indices
    if variant == "repeated-columns":
        assert csr.nnz == 2 * np.count_nonzero(csr.toarray())
    if variant == "explicit-zeros":
        assert np.sum(csr.data == 0) >= m // 2
    if variant in ("empty-rows", "empty-columns"):
        counts = np.diff(csr.indptr) if variant == "empty-rows" else csr.getnnz(axis=0)
        assert np.sum(counts == 0) > 5
    assert csr.indices.dtype == index and csr.dtype == dtype
    dense = np.ascontiguousarray(csr.toarray())
    w = rng.standard_normal(n)
    y = (rng.random(m) < 1 / (1 + np.exp(-(dense.astype(np.float64) @ w - 0.3)))).astype(float)
    return csr, dense, y


def rtol_of(dtype):
    """float64: the project's 1e-10; float32: its own rounding, which the
    dense float32 path has too (both are float32 arithmetic, in other orders)."""
    return 1e-10 if dtype == np.float64 else 2e-6


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_gradient_and_curvatures_equal_the_dense_ones(variant, index, dtype, weighted):
    X, dense, y = sparse_problem(dtype=dtype, index=index, variant=variant, seed=1)
    rng = np.random.default_rng(2)
    s = rng.uniform(0.2, 2, len(y)) if weighted else None
    theta = rng.standard_normal(X.shape[1] + 1) * 0.3
    ours = CsrObjective(X, y, s, l2=1e-3)
    theirs = Objective(dense, y, s, l2=1e-3)
    J, g = ours.loss_grad(theta)
    J_dense, g_dense = theirs.loss_grad(theta)
    tol = rtol_of(dtype)
    assert J == pytest.approx(J_dense, rel=tol)
    np.testing.assert_allclose(g, g_dense, rtol=tol, atol=tol * np.abs(g_dense).max())
    for a, b in [(ours.curvature(), theirs.curvature()),
                 (ours.curvature(theta), theirs.curvature(theta)),
                 *zip(ours.column_moments(), theirs.column_moments())]:
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())
    rows = np.sort(rng.choice(len(y), 50, replace=False))
    for a, b in zip(ours.loss_grad(theta, rows=rows), theirs.loss_grad(theta, rows=rows)):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("preconditioner", ["diagonal", "full"])
def test_fitted_model_equals_the_dense_fit(variant, index, dtype, preconditioner):
    X, dense, y = sparse_problem(dtype=dtype, index=index, variant=variant, seed=3)
    ours = descend.LogisticRegression(C=0.5, preconditioner=preconditioner).fit(X, y)
    theirs = descend.LogisticRegression(C=0.5, preconditioner=preconditioner).fit(dense, y)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert ours.coef_.dtype == dtype
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=tol, atol=tol)
    for method in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
        np.testing.assert_allclose(getattr(ours, method)(X), getattr(theirs, method)(dense),
                                   rtol=tol * 10, atol=tol)
    assert ours.score(X, y) == theirs.score(dense, y)


def test_gradient_matches_finite_differences():
    X, _, y = sparse_problem(m=300, n=12, density=0.3, seed=4, variant="unsorted")
    obj = CsrObjective(X, y, rng_weights := np.random.default_rng(5).uniform(0.5, 2, 300),
                       l2=0.01)
    theta = np.random.default_rng(6).standard_normal(13) * 0.5
    _, g = obj.loss_grad(theta)
    h = 1e-6
    numeric = [(obj.loss_grad(theta + h * e)[0] - obj.loss_grad(theta - h * e)[0]) / (2 * h)
               for e in np.eye(13)]
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)
    assert obj.loss_grad(theta)[0] == pytest.approx(
        reference_objective(X.toarray(), y, theta[:-1], theta[-1], C=1 / (0.01 * rng_weights.sum()),
                            sample_weight=rng_weights), rel=1e-12)


@pytest.mark.parametrize("n, preconditioner", [(30, "auto"), (30, "full"), (3000, "auto")])
def test_optimum_is_sklearns_on_sparse_data(n, preconditioner):
    X, _, y = sparse_problem(m=2000, n=n, density=min(0.1, 20 / n), seed=7)
    ours = descend.LogisticRegression(C=2.0, preconditioner=preconditioner).fit(X, y)
    assert ours.converged_
    sk = SkLogisticRegression(C=2.0, tol=1e-12, max_iter=10_000).fit(X, y)
    J = reference_objective(X.toarray(), y, ours.coef_, ours.intercept_[0], C=2.0)
    J_sk = reference_objective(X.toarray(), y, sk.coef_, sk.intercept_[0], C=2.0)
    assert (J - J_sk) / J_sk < 1e-6   # what the default tolerance promises
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=2e-3 * np.abs(sk.coef_).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_same_bits_with_one_and_two_threads(monkeypatch, dtype):
    monkeypatch.setattr(csr_module, "PARTIAL_NNZ", 500)
    X, _, y = sparse_problem(m=3000, n=50, seed=8, dtype=dtype)
    theta = np.random.default_rng(9).standard_normal(51) * 0.3
    results = []
    for threads in (1, 2):
        obj = CsrObjective(X, y, l2=1e-3, n_threads=threads)
        assert len(obj._partial_edges()) > 10 and obj.n_threads == threads
        results.append(obj.loss_grad(theta))
    assert results[0][0] == results[1][0]
    assert np.array_equal(results[0][1], results[1][1])
    fits = [descend.LogisticRegression(n_jobs=k).fit(X, y) for k in (1, 2)]
    assert np.array_equal(fits[0].coef_, fits[1].coef_)
    assert np.array_equal(fits[0].intercept_, fits[1].intercept_)


@st.composite
def sparsity_patterns(draw):
    """A CSR of random shape, pattern, values, dtype and index type, rows
    lo:hi of it, and w, b; non-zeros may repeat a column (scipy sums them)."""
    m, n = draw(st.integers(0, 70)), draw(st.integers(1, 40))
    nnz = draw(st.integers(0, m * n)) if m else 0
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    index = draw(st.sampled_from([np.int32, np.int64]))
    counts = np.bincount(rng.integers(0, max(m, 1), nnz), minlength=m)[:m]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index)
    indices = rng.integers(0, n, int(indptr[-1])).astype(index)
    values = rng.standard_normal(len(indices)) * draw(st.sampled_from([0.0, 1e-3, 1.0, 30.0]))
    lo = draw(st.integers(0, m))
    hi = draw(st.integers(lo, m))
    y = rng.integers(0, 2, m).astype(dtype)
    s = rng.uniform(0, 3, m).astype(dtype) if draw(st.booleans()) else np.empty(0, dtype)
    w = (rng.standard_normal(n) * draw(st.sampled_from([0.0, 0.1, 3.0]))).astype(dtype)
    return values.astype(dtype), indices, indptr, (m, n), y, s, w, dtype(0.2), lo, hi


@given(sparsity_patterns())
def test_kernel_on_random_sparsity_patterns_equals_the_dense_formula(case):
    data, indices, indptr, shape, y, s, w, b, lo, hi = case
    grad = np.zeros(shape[1] + 1)
    loss = csr_fused_rows(data, indices, indptr, y, s, w, b, lo, hi, grad)
    dense = sp.csr_matrix((data, indices, indptr), shape=shape).toarray().astype(np.float64)
    z = dense[lo:hi] @ w.astype(np.float64) + float(b)
    weights = np.ones(hi - lo) if len(s) == 0 else s[lo:hi].astype(np.float64)
    yy = y[lo:hi].astype(np.float64)
    dz = weights * (1 / (1 + np.exp(-z)) - yy)
    expected_loss = weights @ (np.logaddexp(0, z) - yy * z)
    expected_grad = np.append(dense[lo:hi].T @ dz, dz.sum())
    # float32 arithmetic inside: its rounding, relative to the sizes summed
    eps = 1e-12 if data.dtype == np.float64 else 3e-6
    scale = 1 + np.abs(dense[lo:hi]).sum() * (1 + np.abs(w).max()) + weights.sum()
    assert loss == pytest.approx(expected_loss, rel=eps * 10, abs=eps * scale * 10)
    np.testing.assert_allclose(grad, expected_grad, rtol=eps * 10, atol=eps * scale * 10)


@pytest.mark.parametrize("form", ["csc", "coo", "lil", "csr_array", "csc_array"])
def test_every_sparse_form_gives_the_csr_fit(form):
    X, _, y = sparse_problem(seed=10)
    converted = (getattr(sp, form)(X) if form.endswith("_array") else X.asformat(form))
    ours = descend.LogisticRegression().fit(converted, y)
    reference = descend.LogisticRegression().fit(X, y)
    assert np.array_equal(ours.coef_, reference.coef_)
    np.testing.assert_array_equal(ours.predict_proba(converted), reference.predict_proba(X))


def test_a_matrix_too_wide_to_densify_trains():
    """10⁶ columns × 2,000 rows would be 16 GB dense; as CSR it is 40,000 numbers."""
    rng = np.random.default_rng(11)
    m, n = 2000, 1_000_000
    X = sp.random(m, n, density=20 / n, format="csr", random_state=rng)
    sums = np.asarray(X.sum(axis=1)).ravel()
    y = sums + rng.normal(0, 0.1, m) > np.median(sums)
    clf = descend.LogisticRegression(max_iter=50).fit(X, y)
    assert clf.coef_.shape == (1, n)
    assert clf.score(X, y) > 0.6


def test_full_metric_on_a_wide_sparse_matrix_is_refused_with_the_fix():
    X, _, y = sparse_problem(m=50, n=5000, density=0.002, seed=12)
    with pytest.raises(UsageError, match="preconditioner='diagonal'"):
        descend.LogisticRegression(preconditioner="full").fit(X, y)


@pytest.mark.parametrize("batch_size", [1, 32])
def test_mini_batches_on_csr_follow_the_dense_path(batch_size):
    X, dense, y = sparse_problem(m=300, n=20, seed=13)
    options = dict(batch_size=batch_size, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = descend.LogisticRegression(**options).fit(X, y)
        theirs = descend.LogisticRegression(**options).fit(dense, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-12)


def test_mini_batches_on_a_wide_csr_matrix_use_no_square_matrix():
    X, _, y = sparse_problem(m=400, n=200_000, density=10 / 200_000, seed=14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = descend.LogisticRegression(batch_size=64, max_iter=3, random_state=0).fit(X, y)
    assert np.all(np.isfinite(clf.coef_))


def test_partial_fit_and_eval_set_take_csr():
    X, dense, y = sparse_problem(m=400, n=20, seed=15)
    ours, theirs = descend.LogisticRegression(), descend.LogisticRegression()
    for lo in (0, 200):
        ours.partial_fit(X[lo:lo + 200], y[lo:lo + 200], classes=[0.0, 1.0])
        theirs.partial_fit(dense[lo:lo + 200], y[lo:lo + 200], classes=[0.0, 1.0])
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-12)
    fitted = descend.LogisticRegression().fit(X[:300], y[:300], eval_set=(X[300:], y[300:]))
    held_out = reference_objective(dense[300:], y[300:], fitted.coef_, fitted.intercept_[0],
                                   C=np.inf)
    assert fitted.history_[-1]["validation_loss"] == pytest.approx(held_out, rel=1e-10)


def text_like(m, n, per_row, seed):
    """Rows of ``per_row`` words drawn from a Zipf law over n columns (most
    columns rare), unit-length rows, labels from a logistic model."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n + 1) ** 1.1
    columns = rng.choice(n, size=(m, per_row), p=p / p.sum())
    X = sp.csr_matrix((np.ones(m * per_row), columns.ravel(), np.arange(0, m * per_row + 1,
                                                                        per_row)), shape=(m, n))
    X.sum_duplicates()
    X = sp.csr_matrix(sp.diags(1 / np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())) @ X)
    z = X @ (rng.standard_normal(n) * 3)
    return X, (rng.random(m) < 1 / (1 + np.exp(-(z - np.median(z))))).astype(float)


def test_rare_columns_do_not_stall_the_default_metric():
    """Most columns of text are rare; plain standardisation gives them a
    penalty curvature λ/var far above the data's, which sets the step size
    (this problem: 372 iterations with √var). The default scale √(var + 4λ)
    converges in 22."""
    X, y = text_like(4000, 3000, 30, seed=16)
    assert np.sum(X.getnnz(axis=0) <= 2) > 300
    clf = descend.LogisticRegression().fit(X, y)
    assert clf.converged_ and clf.n_iter_ < 100


@pytest.mark.parametrize("kind", ["none", "diagonal", "full"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_row_curvature_for_mini_batch_steps_equals_the_dense_one(kind, fit_intercept):
    from descend.optim.precondition import make_preconditioner
    X, dense, y = sparse_problem(m=500, n=30, seed=17, variant="unsorted")
    ours = CsrObjective(X, y, l2=1e-2, fit_intercept=fit_intercept)
    theirs = Objective(dense, y, l2=1e-2, fit_intercept=fit_intercept)
    precond = make_preconditioner(kind, theirs)
    assert ours.largest_row_curvature(precond, 200) == pytest.approx(
        theirs.largest_row_curvature(precond, 200), rel=1e-12)
    v = np.random.default_rng(18).standard_normal(ours.n_params)
    np.testing.assert_allclose(ours.bound_operator(200)(v), theirs.bound_operator(200)(v),
                               rtol=1e-12)


def test_the_default_metric_for_sparse_x_builds_no_curvature_matrix(monkeypatch):
    """Even with few columns: a sparse curvature costs far more than an epoch."""
    def refuse(self, theta=None):
        raise AssertionError("curvature matrix built")
    monkeypatch.setattr(CsrObjective, "curvature", refuse)
    X, _, y = sparse_problem(m=500, n=10, seed=19)
    assert descend.LogisticRegression().fit(X, y).converged_


def test_float32_data_gets_the_dense_kernels_float32_arithmetic():
    """float32 CSR data goes through the kernel as float32, as the dense
    kernel's does: both agree to float32 rounding, and neither is the same
    rows upcast to float64. (Not bit for bit: where a CPU contracts x·w + b
    into one fused multiply-add differs between the two loops; with AVX-512
    the loss differed in its last float32 bits.)"""
    from descend.engine.kernels import fused_rows
    rng = np.random.default_rng(20)
    m, n = 301, 5
    X = sp.csr_matrix((rng.standard_normal(m).astype(np.float32) * 3,
                       rng.integers(0, n, m), np.arange(m + 1)), shape=(m, n))
    y = rng.integers(0, 2, m).astype(np.float32)
    w = rng.standard_normal(n).astype(np.float32)

    def csr(X, y, w, b):
        grad = np.zeros(n + 1)
        loss = csr_fused_rows(X.data, X.indices, X.indptr, y, np.empty(0, X.dtype), w, b,
                              0, m, grad)
        return loss, grad

    loss, grad = csr(X, y, w, np.float32(0.3))
    dense_grad = np.zeros(n + 1)
    dense_loss = fused_rows(X.toarray(), y, np.empty(0, np.float32), w, np.float32(0.3),
                            0, m, dense_grad)
    loss64, grad64 = csr(X.astype(np.float64), y.astype(np.float64), w.astype(np.float64),
                         np.float64(np.float32(0.3)))
    eps = np.finfo(np.float32).eps
    assert abs(loss - dense_loss) <= 8 * eps * loss
    np.testing.assert_allclose(grad, dense_grad, rtol=0, atol=64 * eps)
    assert abs(loss - loss64) > 1e3 * np.finfo(np.float64).eps * loss64  # not upcast
    assert np.max(np.abs(grad - grad64)) > 1e3 * np.finfo(np.float64).eps


# -- K classes on CSR ----------------------------------------------------------
def _k_class_pair(K=4, fit_intercept=True, dtype=np.float64, seed=7):
    """The same K-class objective on CSR and on its dense copy, with weights."""
    from descend.engine.csr_multinomial import CsrMultinomialObjective
    from descend.engine.multinomial import MultinomialObjective
    X = sparse_problem(m=500, n=30, density=0.15, seed=seed, dtype=dtype)[0]
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, X.shape[0])
    s = rng.uniform(0.2, 3, X.shape[0]).astype(dtype)
    options = dict(sample_weight=s, l2=1e-3, fit_intercept=fit_intercept)
    return (CsrMultinomialObjective(X, y, K, **options),
            MultinomialObjective(np.ascontiguousarray(X.toarray()), y, K, **options))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_k_classes_on_csr_equal_the_dense_objective(fit_intercept):
    """Loss, gradient, mini-batch rows, bound products and the largest row
    curvature under the diagonal metric: CSR equals the dense K-class objective."""
    from descend.optim.precondition import make_preconditioner
    sparse, dense = _k_class_pair(fit_intercept=fit_intercept)
    theta = np.random.default_rng(1).standard_normal(dense.n_params) * 0.3
    for rows in (None, np.arange(0, 500, 7)):
        (ls, gs), (ld, gd) = sparse.loss_grad(theta, rows), dense.loss_grad(theta, rows)
        assert ls == pytest.approx(ld, rel=1e-12)
        np.testing.assert_allclose(gs, gd, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(sparse.bound_operator(200)(theta),
                               dense.bound_operator(200)(theta), rtol=1e-10, atol=1e-14)
    metric = make_preconditioner("diagonal", dense)
    assert sparse.largest_row_curvature(metric, 300) == pytest.approx(
        dense.largest_row_curvature(metric, 300), rel=1e-10)


def test_k_classes_on_csr_fit_the_dense_model():
    X = sparse_problem(m=600, n=25, density=0.2, seed=3)[0]
    y = np.random.default_rng(3).integers(0, 3, X.shape[0])
    y[X[:, 0].toarray().ravel() > 0.5] = 2  # some signal to find
    on_csr = descend.LogisticRegression(preconditioner="diagonal").fit(X, y)
    dense = descend.LogisticRegression(preconditioner="diagonal").fit(X.toarray(), y)
    np.testing.assert_allclose(on_csr.coef_, dense.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(on_csr.predict_proba(X), dense.predict_proba(X.toarray()),
                               rtol=1e-6, atol=1e-9)
    with pytest.raises(UsageError, match="^the 'full' preconditioner is not available for sparse or coded X with K classes"):
        descend.LogisticRegression(preconditioner="full").fit(X, y)
