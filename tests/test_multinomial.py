"""K classes: the softmax row formula, the K-class graph and kernel, the
multinomial objective's derivatives, and optima against scikit-learn."""
import math
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
from descend.engine.graph import softmax_graph
from descend.engine.multinomial import MultinomialObjective
from descend.engine.objective import Objective
from descend.engine.softmax import loss_and_dlogits, softmax


def multiclass_problem(m=600, n=6, K=4, seed=0, scales=None, offsets=None, dtype=np.float64):
    """Labels drawn from a softmax model (not separable)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    W = rng.standard_normal((K, n))
    y = np.argmax(X @ W.T + rng.gumbel(size=(m, K)), axis=1)
    if scales is not None:
        X = X * scales
    if offsets is not None:
        X = X + offsets
    return np.ascontiguousarray(X, dtype=dtype), y


def reference_objective(X, y, W, b, C=1.0, s=None):
    """J(W, b) written out independently of descend, in float64 with logsumexp."""
    X = np.asarray(X, dtype=np.float64)
    s = np.ones(len(y)) if s is None else np.asarray(s, dtype=np.float64)
    Z = X @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
    losses = logsumexp(Z, axis=1) - Z[np.arange(len(y)), y]
    penalty = 0.0 if np.isinf(C) else np.sum(np.square(W, dtype=np.float64)) / (2 * C * s.sum())
    return s @ losses / s.sum() + penalty


def sk_multinomial(X, y, **kw):
    """scikit-learn's multinomial optimum, to its solver's last digit."""
    return SkLogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000,
                                **kw).fit(np.asarray(X, dtype=np.float64), y)


def relative_gap(X, y, ours, ref, C=1.0, s=None):
    codes = np.searchsorted(ours.classes_, y)
    J = reference_objective(X, codes, ours.coef_, ours.intercept_, C, s)
    J_ref = reference_objective(X, codes, ref.coef_, ref.intercept_, C, s)
    return (J - J_ref) / J_ref


# -- the lesson, by hand ----------------------------------------------------

def test_lesson_k_class_numbers_by_hand():
    x, y, alpha = [1.0, 2.0], 1, 0.5
    W = [[0.1, 0.2], [0.3, -0.1], [0.0, 0.0]]
    b = [0.0, 0.1, -0.1]
    r = descend.step(x, y, W, b, alpha)
    # z = W x + b = (0.1 + 0.4 + 0, 0.3 − 0.2 + 0.1, 0 + 0 − 0.1)
    z = [0.5, 0.2, -0.1]
    total = math.exp(0.5) + math.exp(0.2) + math.exp(-0.1)
    a = [math.exp(v) / total for v in z]
    dz = [a[0], a[1] - 1, a[2]]                       # a − y, y = (0, 1, 0)
    np.testing.assert_allclose(r.z, z, rtol=0, atol=1e-15)
    np.testing.assert_allclose(r.a, a, rtol=1e-14)
    assert r.loss == pytest.approx(-math.log(a[1]), rel=1e-14)   # L = −log a_y
    np.testing.assert_allclose(r.dz, dz, rtol=1e-14)
    np.testing.assert_allclose(r.dW, [[d * 1.0, d * 2.0] for d in dz], rtol=1e-14)  # dz xᵀ
    np.testing.assert_allclose(r.db, dz, rtol=1e-14)
    np.testing.assert_allclose(r.W_new, np.array(W) - alpha * r.dW, rtol=1e-14)
    np.testing.assert_allclose(r.b_new, np.array(b) - alpha * np.array(dz), rtol=1e-14)
    assert r.a.sum() == pytest.approx(1.0, abs=1e-15)


def test_k_class_step_refuses_bad_labels_and_shapes():
    with pytest.raises(ValueError, match="class index 0..2"):
        descend.step([1.0], 3, [[1.0], [2.0], [3.0]], [0, 0, 0], 0.1)
    with pytest.raises(ValueError, match="one value per class"):
        descend.step([1.0, 2.0], 0, [[1.0, 0], [2.0, 0], [3.0, 0]], [0, 0], 0.1)


# -- the row formula --------------------------------------------------------

@pytest.mark.parametrize("K", [3, 5, 10, 17])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_formula_matches_logsumexp_and_softmax(dtype, K):
    rng = np.random.default_rng(K)
    # scales 0.1 and 1 put t = Σ_{k≠top} e^(zₖ − m) across (1, K − 1], where
    # log1p works on 1 + t halved into (1, 2]
    scale = rng.choice([0.1, 1, 10, 100], (500, 1))
    Z = (rng.standard_normal((500, K)) * scale).astype(dtype)
    y = rng.integers(0, K, 500)
    L, dZ = loss_and_dlogits(Z, y)
    assert L.dtype == dtype and dZ.dtype == dtype
    want_L, want_dZ = _exact_loss_and_dlogits(Z, y)
    # relative accuracy of every value, small losses included (scipy's
    # logsumexp(z) − z_y would lose them to cancellation)
    # logits as large as 300 carry a rounding of |z|·eps into e^(zₖ − m); below
    # the exp's clamp (float32: e^−87 ≈ 1.6e-38) the error is absolute
    eps = np.finfo(dtype).eps
    floor = 1e-300 if dtype == np.float64 else 2e-37
    np.testing.assert_allclose(L, want_L, rtol=512 * eps, atol=floor)
    np.testing.assert_allclose(dZ, want_dZ, rtol=512 * eps, atol=floor)


def _exact_loss_and_dlogits(Z, y):
    """L and dZ to 40 digits with mpmath, rounded to float64."""
    with mpmath.workdps(40):
        L, dZ = [], []
        for z, label in zip(Z.astype(np.float64), y):
            # relative to the label's logit: L = log1p(Σ_{k≠y} e^(zₖ − z_y))
            e = [mpmath.exp(mpmath.mpf(float(v)) - mpmath.mpf(float(z[label]))) for v in z]
            rest = mpmath.fsum(e[k] for k in range(len(z)) if k != label)
            L.append(float(mpmath.log1p(rest)))
            dZ.append([float(-rest / (1 + rest)) if k == label else float(e[k] / (1 + rest))
                       for k in range(len(z))])
    return np.array(L), np.array(dZ)


def test_row_formula_never_overflows_and_keeps_small_losses():
    Z = np.array([[1000.0, -1000.0, 0.0], [-1e300, 1e300, 0.0], [50.0, 0.0, 1.0]])
    y = np.array([1, 1, 0])
    L, dZ = loss_and_dlogits(Z, y)
    assert np.all(np.isfinite(L)) and np.all(np.isfinite(dZ))
    # the exp's clamp (e^−708 for float64, as the binary formulas) is the only error
    assert L[0] == 2000.0 and L[1] < 1e-307
    # a loss of e^−49 + e^−50: logsumexp(z) − z_y rounds it to 0, log1p keeps it
    small = math.exp(-49) + math.exp(-50)
    assert L[2] == pytest.approx(small, rel=1e-14, abs=0)
    assert dZ[2, 0] == pytest.approx(-small, rel=1e-13, abs=0)   # 1 − a_y without cancellation
    np.testing.assert_allclose(dZ[0], [1.0, -1.0, 0.0], atol=1e-300)


# -- graph and kernel ---------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_compiled_kernel_equals_the_graph(dtype, fit_intercept):
    X, y = multiclass_problem(m=1003, n=9, K=5, seed=1, dtype=dtype)
    s = np.random.default_rng(2).uniform(0.1, 3, len(y))
    theta = np.random.default_rng(3).standard_normal(5 * (9 + fit_intercept))
    results = [MultinomialObjective(X, y, 5, s, l2=0.01, fit_intercept=fit_intercept,
                                    engine=engine, block_rows=64).loss_grad(theta)
               for engine in ("compiled", "graph")]
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert results[0][0] == pytest.approx(results[1][0], rel=tol)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=tol, atol=tol)


def test_kernel_is_the_same_bits_whatever_the_thread_count():
    X, y = multiclass_problem(m=40_000, n=20, K=5, seed=4)
    theta = np.random.default_rng(5).standard_normal(5 * 21) * 0.1
    one = MultinomialObjective(X, y, 5, l2=1e-3, n_threads=1, block_rows=256).loss_grad(theta)
    three = MultinomialObjective(X, y, 5, l2=1e-3, n_threads=3, block_rows=256).loss_grad(theta)
    assert one[0] == three[0]
    assert np.array_equal(one[1], three[1])


def test_graph_backward_is_dZ_equals_A_minus_Y():
    X, y = multiclass_problem(m=7, n=3, K=3)
    W, b = np.ones((3, 3)) * [[0.1], [0.2], [-0.3]], np.array([0.0, 0.5, -0.5])
    values = softmax_graph().forward(x=X, W=W, b=b, y=y, s=None, S=7.0)
    grads = softmax_graph().backward(values)
    A = softmax(X @ W.T + b)
    np.testing.assert_allclose(grads["z"], (A - np.eye(3)[y]) / 7, rtol=1e-14)
    np.testing.assert_allclose(grads["W"], (A - np.eye(3)[y]).T @ X / 7, rtol=1e-13)


# -- derivatives: finite differences and PyTorch ----------------------------

def _weighted_objective(K, seed, fit_intercept=True):
    """The estimator's objective with sample and class weights."""
    X, y = multiclass_problem(m=300, n=5, K=K, seed=seed)
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.2, 3, len(y))
    class_weight = {k: float(w) for k, w in enumerate(rng.uniform(0.5, 2, K))}
    est = descend.LogisticRegression(C=0.7, class_weight=class_weight,
                                     fit_intercept=fit_intercept)
    est._check_params()
    Xv, codes, weights = est._validate_training_data(X, y, s, reset=True)
    return est._objective(Xv, codes, weights), X, y, s, class_weight


@pytest.mark.parametrize("K", [3, 4, 5, 6, 7])
def test_gradient_matches_pytorch_cross_entropy_with_weights(K):
    obj, X, y, s, class_weight = _weighted_objective(K, seed=K)
    assert isinstance(obj, MultinomialObjective)
    theta = np.random.default_rng(10 + K).standard_normal(obj.n_params)
    loss, grad = obj.loss_grad(theta)
    T = torch.tensor(theta.reshape(K, -1), requires_grad=True, dtype=torch.float64)
    Z = torch.tensor(X) @ T[:, :-1].T + T[:, -1]
    cw = torch.tensor([class_weight[k] for k in range(K)], dtype=torch.float64)
    per_row = torch.nn.functional.cross_entropy(Z, torch.tensor(y), weight=cw, reduction="none")
    st = torch.tensor(s)
    total = (st * cw[torch.tensor(y)]).sum()         # per_row already carries cw[y]
    J = (st * per_row).sum() / total + (T[:, :-1] ** 2).sum() / (2 * 0.7 * total)
    J.backward()
    assert loss == pytest.approx(J.item(), rel=1e-13)
    np.testing.assert_allclose(grad, T.grad.numpy().ravel(), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("K", [3, 5, 7])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_and_hessian_match_finite_differences(K, fit_intercept):
    obj = _weighted_objective(K, seed=20 + K, fit_intercept=fit_intercept)[0]
    theta = np.random.default_rng(K).standard_normal(obj.n_params) * 0.5
    h = 1e-6
    eye = np.eye(obj.n_params)
    fd_grad = [(obj.loss_grad(theta + h * e)[0] - obj.loss_grad(theta - h * e)[0]) / (2 * h)
               for e in eye]
    fd_hess = np.array([(obj.loss_grad(theta + h * e)[1] - obj.loss_grad(theta - h * e)[1])
                        / (2 * h) for e in eye])
    np.testing.assert_allclose(obj.loss_grad(theta)[1], fd_grad, atol=1e-8)
    np.testing.assert_allclose(obj.curvature(theta), fd_hess, atol=1e-7)


def test_bohning_bound_dominates_the_hessian_and_its_operators_agree():
    obj = _weighted_objective(4, seed=3)[0]
    rng = np.random.default_rng(0)
    B = obj.curvature()
    for _ in range(3):
        theta = rng.standard_normal(obj.n_params) * 2
        assert np.linalg.eigvalsh(B - obj.curvature(theta)).min() > -1e-12
    v = rng.standard_normal(obj.n_params)
    # on all the rows, the sampled operator is B itself, but with the sample's weights
    unweighted = MultinomialObjective(obj.X, obj.y, 4, l2=obj.l2)
    np.testing.assert_allclose(unweighted.bound_operator(10**6)(v), unweighted.curvature() @ v,
                               rtol=1e-12, atol=1e-14)
    # largest one-row curvature in coordinates T: the eigenvalue of each row's bound
    T = np.linalg.qr(rng.standard_normal((obj.n_params, obj.n_params)))[0] * 0.3
    K, p = 4, obj.row_params
    P = np.eye(K) - 1 / K
    rows = np.column_stack([obj.X, np.ones(len(obj.X))])
    brute = max(np.linalg.eigvalsh(0.5 * T.T @ np.kron(P, np.outer(x, x)) @ T).max()
                for x in rows[:200])
    linear_map = SimpleNamespace(from_scaled=lambda v: T @ v)  # a preconditioner θ = T θ′
    assert unweighted.largest_row_curvature(linear_map, 200) == pytest.approx(brute, rel=1e-10)


# -- optima against scikit-learn ----------------------------------------------

def _fit_and_compare(X, y, C=1.0, s=None, rtol=1e-6, **kw):
    ours = descend.LogisticRegression(C=C, **kw).fit(X, y, sample_weight=s)
    ref = sk_multinomial(X, y, C=C, sample_weight=s, **kw) if s is not None else \
        sk_multinomial(X, y, C=C, **kw)
    assert ours.converged_
    assert abs(relative_gap(X, y, ours, ref, C, s)) < rtol
    return ours, ref


def test_optimum_matches_sklearn():
    X, y = multiclass_problem(m=2000, n=8, K=5)
    ours, ref = _fit_and_compare(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4)
    assert ours.coef_.shape == (5, 8) and ours.intercept_.shape == (5,)
    assert abs(ours.intercept_.sum()) < 1e-12                       # centred
    np.testing.assert_allclose(ours.coef_.sum(axis=0), 0, atol=1e-10)


def test_optimum_with_a_rare_class_of_five_examples():
    X, y = multiclass_problem(m=1500, n=6, K=3, seed=7)
    rare = np.flatnonzero(y == 2)
    y = np.where(y == 2, 0, y)
    y[rare[:5]] = 2
    assert np.sum(y == 2) == 5
    _fit_and_compare(X, y)


def test_optimum_with_badly_scaled_columns_without_feature_scaling():
    n = 8
    X, y = multiclass_problem(m=3000, n=n, K=4, seed=8, scales=np.logspace(-3, 3, n),
                              offsets=np.linspace(-100, 100, n))
    _fit_and_compare(X, y)


def test_optimum_without_intercept():
    X, y = multiclass_problem(m=1500, n=6, K=4, seed=9, offsets=0.5)
    ours, _ = _fit_and_compare(X, y, fit_intercept=False)
    assert np.all(ours.intercept_ == 0.0)


def test_float32_stays_float32_and_reaches_the_float64_optimum():
    X, y = multiclass_problem(m=3000, n=6, K=4, seed=10, scales=np.geomspace(0.2, 5, 6),
                              offsets=1.0, dtype=np.float32)
    ours = descend.LogisticRegression().fit(X, y)
    assert ours.coef_.dtype == np.float32 and ours.predict_proba(X).dtype == np.float32
    ref = sk_multinomial(X, y)
    assert abs(relative_gap(X, y, ours, ref)) < 1e-6


def test_optimum_with_sample_and_class_weights():
    X, y = multiclass_problem(m=1200, n=5, K=4, seed=11)
    s = np.random.default_rng(1).uniform(0.2, 3, len(y))
    ours = descend.LogisticRegression(C=0.5, class_weight="balanced").fit(X, y, sample_weight=s)
    ref = SkLogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000, C=0.5,
                               class_weight="balanced").fit(X, y, sample_weight=s)
    # "balanced": the weighted examples of each class count the same, as scikit-learn
    per_class = s.sum() / (4 * np.bincount(y, weights=s))
    weights = s * per_class[y]
    assert abs(relative_gap(X, y, ours, ref, 0.5, weights)) < 1e-6


# -- the estimator ------------------------------------------------------------

def test_string_labels_probabilities_and_predictions():
    X, codes = multiclass_problem(m=800, n=4, K=3, seed=12)
    names = np.array(["adelie", "chinstrap", "gentoo"])
    clf = descend.LogisticRegression().fit(X, names[codes])
    assert clf.classes_.tolist() == names.tolist()
    P = clf.predict_proba(X)
    assert P.shape == (800, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-14)
    Z = clf.decision_function(X)
    assert Z.shape == (800, 3)
    np.testing.assert_array_equal(clf.predict(X), names[np.argmax(Z, axis=1)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), P, rtol=1e-12)
    assert clf.score(X, names[codes]) > 0.6


def test_two_classes_still_take_the_binary_sigmoid_path():
    X, y = multiclass_problem(m=800, n=4, K=2, seed=13)
    clf = descend.LogisticRegression(C=0.3).fit(X, y)
    est = descend.LogisticRegression(C=0.3)
    Xv, y01, _ = est._validate_training_data(X, y, None, reset=True)
    assert type(est._objective(Xv, y01, None)) is Objective
    assert clf.coef_.shape == (1, 4) and clf.intercept_.shape == (1,)
    # scikit-learn's binary optimum at C (a two-class softmax would be the sigmoid at 2C)
    ref = SkLogisticRegression(C=0.3, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, atol=1e-4)
    # a two-class softmax at C is the sigmoid at 2C (w = w₁ − w₀): far from this
    at_2C = SkLogisticRegression(C=0.6, tol=1e-12, max_iter=10_000).fit(X, y)
    assert np.abs(clf.coef_ - at_2C.coef_).max() > 1e-2
    assert clf.decision_function(X).shape == (800,)


def test_partial_fit_learns_k_classes_over_batches():
    X, y = multiclass_problem(m=4000, n=5, K=4, seed=14)
    clf = descend.LogisticRegression()
    for _ in range(3):
        for batch in np.array_split(np.arange(4000), 8):
            clf.partial_fit(X[batch], y[batch], classes=np.arange(4))
    ref = sk_multinomial(X, y)
    assert clf.coef_.shape == (4, 5)
    assert relative_gap(X, y, clf, ref) < 0.02


def test_partial_fit_first_batch_without_every_class_needs_classes():
    X, y = multiclass_problem(m=400, n=3, K=4, seed=15)
    clf = descend.LogisticRegression().partial_fit(X[y < 3], y[y < 3], classes=[0, 1, 2, 3])
    assert clf.coef_.shape == (4, 3)
    clf.partial_fit(X, y)
    assert clf.predict_proba(X).shape == (400, 4)


def test_warm_start_continues_from_k_class_coefficients():
    X, y = multiclass_problem(m=1000, n=5, K=4, seed=16)
    clf = descend.LogisticRegression(warm_start=True).fit(X, y)
    iterations = clf.n_iter_
    clf.fit(X, y)
    assert clf.n_iter_ < iterations


def test_callbacks_and_resume_are_bit_for_bit_for_k_classes():
    X, y = multiclass_problem(m=2000, n=6, K=5, seed=17, scales=np.geomspace(0.1, 10, 6))
    states = []

    def stop_at_three(state):
        states.append(state.iteration)
        if state.iteration == 3:
            raise KeyboardInterrupt

    full = descend.LogisticRegression().fit(X, y)
    interrupted = descend.LogisticRegression(callback=stop_at_three)
    saved = []
    interrupted.callback = lambda s: (saved.append(_copy_state(s)), stop_at_three(s))
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, y)
    assert states == [1, 2, 3]
    resumed = descend.LogisticRegression().fit(X, y, solver_state=saved[-1])
    assert np.array_equal(resumed.coef_, full.coef_)
    assert np.array_equal(resumed.intercept_, full.intercept_)


def _copy_state(state):
    """The state through the checkpoint file's own encoding."""
    import json

    from descend.io.checkpoint import state_from_dict, state_to_dict
    return state_from_dict(json.loads(json.dumps(state_to_dict(state))))


def test_resume_refuses_a_binary_state_for_k_classes():
    X, y = multiclass_problem(m=500, n=4, K=3, seed=18)
    binary = descend.LogisticRegression(max_iter=2).fit(X, y == 0)
    with pytest.raises(descend.DataError, match="does not fit"):
        descend.LogisticRegression().fit(X, y, solver_state=binary.solver_state_)


@pytest.mark.parametrize("batch_size", [1, 64])
def test_minibatches_for_k_classes_are_reproducible_and_sensible(batch_size):
    X, y = multiclass_problem(m=600, n=4, K=3, seed=19)
    fits = [descend.LogisticRegression(batch_size=batch_size, random_state=0, max_iter=5,
                                       tol=0).fit(X, y) for _ in range(2)]
    assert np.array_equal(fits[0].coef_, fits[1].coef_)
    assert fits[0].score(X, y) > 0.6


def test_eval_set_records_the_k_class_validation_loss():
    X, y = multiclass_problem(m=900, n=4, K=3, seed=20)
    clf = descend.LogisticRegression().fit(X[:600], y[:600], eval_set=(X[600:], y[600:]))
    last = clf.history_[-1]["validation_loss"]
    codes = y[600:]
    assert last == pytest.approx(reference_objective(X[600:], codes, clf.coef_, clf.intercept_,
                                                     np.inf), rel=1e-10)
