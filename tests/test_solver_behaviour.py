"""The solver's behaviour seen from outside: optima, update rules, step sizes, resume.

Only public surfaces are used: ``LogisticRegression`` and its fitted attributes,
the state handed to ``callback`` (opaque apart from ``iteration``, ``converged``
and ``history``), and :mod:`descend.io.checkpoint`. The update rules are checked
iterate for iterate against reference implementations written here in NumPy on
the objective J(w, b) = mean log-loss + ‖w‖²/(2·C·m), intercept unpenalised.
"""
import itertools
import json
import warnings

import numpy as np
import pytest
from scipy.special import expit
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
from conftest import make_problem, reference_objective
from descend.io.checkpoint import (
    Checkpointer,
    load_checkpoint,
    save_checkpoint,
    state_from_dict,
    state_to_dict,
)

# --------------------------------------------------------------------------
# helpers


def reference_grad(X, y, theta, C=1.0, m_total=None):
    """∇J for θ = (w, b), written out independently of descend. For a batch
    of rows, the penalty stays that of the whole data set (``m_total`` rows)."""
    m, n = X.shape
    w, b = theta[:n], theta[n]
    dz = expit(X @ w + b) - y
    return np.append(X.T @ dz / m + w / (C * (m_total or m)), dz.mean())


def reference_loss(X, y, theta, C=1.0):
    n = X.shape[1]
    return reference_objective(X, y, theta[:n], theta[n], C=C)


def theta_of(model):
    return np.append(model.coef_.ravel(), model.intercept_[0])


def sklearn_optimum(X, y, C=1.0):
    sk = SkLogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    return np.append(sk.coef_.ravel(), sk.intercept_[0])


def fit_quietly(X, y, solver_state=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return descend.LogisticRegression(**params).fit(X, y, solver_state=solver_state)


@pytest.fixture(scope="module")
def raw_cancer():
    """Breast-cancer data in its own units (columns from ~0.001 to ~4000)."""
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def scaled_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


#: Columns with offsets far from zero and scales far from one.
SCALES = [1, 10, 0.1, 3, 1]
OFFSETS = [5, -3, 2, 0, 10]


# --------------------------------------------------------------------------
# preconditioners reach the same optimum as scikit-learn


def test_diagonal_preconditioner_reaches_the_optimum_on_columns_with_offsets_and_scales():
    # Standardisation folds each column's mean into the intercept; a wrong
    # sign there still converges on centred data, never on offset data.
    X, y = make_problem(scales=SCALES, offsets=OFFSETS)
    optimum = sklearn_optimum(X, y)
    model = fit_quietly(X, y, preconditioner="diagonal", tol=1e-14, max_iter=300)
    assert model.converged_ and model.n_iter_ < 100
    theta = theta_of(model)
    assert reference_loss(X, y, theta) - reference_loss(X, y, optimum) < 1e-12
    np.testing.assert_allclose(theta, optimum, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("params", [
    dict(preconditioner="diagonal", tol=1e-14),
    dict(batch_size=64, random_state=0, max_iter=30),  # "auto" is diagonal for mini-batches
], ids=["diagonal", "minibatch"])
def test_constant_columns_keep_the_diagonal_preconditioner_finite(params):
    # A constant column has standard deviation 0: dividing by it gives inf/nan.
    X, y = make_problem(n=3)
    X = np.column_stack([X[:, 0], np.full(len(X), 3.0), X[:, 1], np.zeros(len(X)), X[:, 2]])
    optimum = sklearn_optimum(X, y)
    model = fit_quietly(X, y, **params)
    theta = theta_of(model)
    assert np.all(np.isfinite(theta))
    # The penalty makes the constant columns' weights 0 at the optimum.
    assert np.all(np.abs(model.coef_[0, [1, 3]]) < 1e-8)
    gap = reference_loss(X, y, theta) - reference_loss(X, y, optimum)
    assert 0 <= gap + 1e-12 and gap < (1e-9 if model.batch_size is None else 1e-3)
    if model.batch_size is None:
        assert model.converged_
        np.testing.assert_allclose(theta, optimum, atol=1e-5)


def test_constant_columns_without_penalty_keep_the_diagonal_preconditioner_finite():
    # The diagonal scale is √(var + 4λ): with C = inf (λ = 0) a constant
    # column's is 0 again, and only the guard keeps 1/scale finite.
    X, y = make_problem(n=3)
    X = np.column_stack([X[:, 0], np.full(len(X), 3.0), X[:, 1], np.zeros(len(X)), X[:, 2]])
    model = fit_quietly(X, y, preconditioner="diagonal", C=np.inf, tol=1e-14)
    theta = theta_of(model)
    assert np.all(np.isfinite(theta))
    varying = [0, 2, 4]
    ref = SkLogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X[:, varying], y)
    gap = (reference_loss(X, y, theta, C=np.inf)
           - reference_loss(X[:, varying], y, np.append(ref.coef_, ref.intercept_), C=np.inf))
    assert abs(gap) < 1e-9


# --------------------------------------------------------------------------
# update rules, iterate for iterate against NumPy references


def reference_nesterov(X, y, lr, iterations, C=1.0):
    """FISTA with gradient-based adaptive restart (O'Donoghue & Candès 2015).

    Returns the points at which the gradient was taken (y₀ = 0, y₁, ...,
    y_iterations) and how many times momentum was restarted.
    """
    x_prev = np.zeros(X.shape[1] + 1)
    point, t, restarts, points = x_prev.copy(), 1.0, 0, [x_prev.copy()]
    for _ in range(iterations):
        g = reference_grad(X, y, point, C)
        x = point - lr * g
        if g @ (x - x_prev) > 0:  # the step points against the momentum
            t, restarts = 1.0, restarts + 1
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        point = x + ((t - 1.0) / t_next) * (x - x_prev)
        x_prev, t = x, t_next
        points.append(point)
    return points, restarts


def test_nesterov_with_a_fixed_step_is_fista_with_adaptive_restart():
    X, y = make_problem()
    lr, k = 3.0, 60  # 1/L ≈ 3.3
    points, restarts = reference_nesterov(X, y, lr, k)
    assert restarts >= 3  # the data exercise the restart
    model = fit_quietly(X, y, solver="nesterov", learning_rate=lr, preconditioner="none",
                        max_iter=k, tol=0)
    assert model.n_iter_ == k
    np.testing.assert_allclose(theta_of(model), points[k], rtol=0, atol=1e-10)
    # history_[i] is the loss at the point the (i + 1)-th gradient was taken at
    losses = [h["loss"] for h in model.history_]
    np.testing.assert_allclose(losses, [reference_loss(X, y, p) for p in points[:k]],
                               rtol=1e-12)


def test_nesterov_with_diagonal_scaling_needs_few_iterations():
    # Restarting when the step agrees with the momentum (instead of when it
    # opposes it) throws the momentum away: four to seven times the iterations.
    for X, y, most in [(*make_problem(), 30), (*make_problem(scales=SCALES, offsets=OFFSETS), 40),
                       (*make_problem(m=2000, n=20, seed=1), 60)]:
        model = fit_quietly(X, y, solver="nesterov", preconditioner="diagonal")
        assert model.converged_ and model.n_iter_ <= most


def test_default_solver_needs_few_iterations(raw_cancer):
    # Newton-like steps once the curvature is refreshed to the Hessian.
    X, y = raw_cancer
    model = fit_quietly(X, y)
    assert model.converged_ and model.n_iter_ <= 20
    X, y = make_problem(scales=SCALES, offsets=OFFSETS)
    model = fit_quietly(X, y)
    assert model.converged_ and model.n_iter_ <= 20


def reference_adam(X, y, lr, iterations, beta1=0.9, beta2=0.999, eps=1e-8):
    theta = np.zeros(X.shape[1] + 1)
    m, v, points = np.zeros_like(theta), np.zeros_like(theta), [theta]
    for k in range(1, iterations + 1):
        g = reference_grad(X, y, theta)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**k), v / (1 - beta2**k)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        points.append(theta)
    return points


def test_adam_with_a_fixed_step_is_bias_corrected_adam(scaled_cancer):
    X, y = scaled_cancer
    lr, k = 0.05, 15
    points = reference_adam(X, y, lr, k)
    model = fit_quietly(X, y, solver="adam", learning_rate=lr, preconditioner="none",
                        max_iter=k, tol=0)
    assert model.n_iter_ == k
    np.testing.assert_allclose(theta_of(model), points[k], rtol=0, atol=1e-12)
    losses = [h["loss"] for h in model.history_]
    np.testing.assert_allclose(losses, [reference_loss(X, y, p) for p in points[:k]],
                               rtol=1e-12)


def test_momentum_with_a_fixed_step_is_the_heavy_ball(scaled_cancer):
    """v ← 0.9 v + g, θ ← θ − α v, written out in NumPy."""
    X, y = scaled_cancer
    lr, k = 0.05, 12
    theta, velocity, points = np.zeros(X.shape[1] + 1), np.zeros(X.shape[1] + 1), []
    for _ in range(k):
        points.append(theta)
        velocity = 0.9 * velocity + reference_grad(X, y, theta)
        theta = theta - lr * velocity
    model = fit_quietly(X, y, solver="momentum", learning_rate=lr, preconditioner="none",
                        max_iter=k, tol=0)
    np.testing.assert_allclose(theta_of(model), theta, rtol=0, atol=1e-12)
    np.testing.assert_allclose([h["loss"] for h in model.history_],
                               [reference_loss(X, y, p) for p in points], rtol=1e-12)


# --------------------------------------------------------------------------
# mini-batches


def test_minibatch_step_size_decays_like_one_over_root_epoch():
    # One batch of all rows per epoch and no preconditioner: epoch k is the
    # gradient step θₖ = θₖ₋₁ − αₖ ∇J(θₖ₋₁), so αₖ can be read off the iterates.
    X, y = make_problem(m=200, n=3)
    epochs = 8
    thetas = [np.zeros(4)] + [
        theta_of(fit_quietly(X, y, solver="gd", batch_size=len(X), random_state=0,
                             preconditioner="none", max_iter=k, tol=0))
        for k in range(1, epochs + 1)]
    alphas = []
    for before, after in itertools.pairwise(thetas):
        g = reference_grad(X, y, before)
        alpha = -(after - before) @ g / (g @ g)
        np.testing.assert_allclose(after, before - alpha * g, rtol=0, atol=1e-12)
        alphas.append(alpha)
    alphas = np.array(alphas)
    assert alphas[0] > 0
    np.testing.assert_allclose(alphas / alphas[0], 1 / np.sqrt(np.arange(1, epochs + 1)),
                               rtol=1e-8)


def test_each_epoch_visits_every_row_once_in_a_fresh_order():
    # Four rows, one per batch: the order of an epoch's four steps can be
    # read off the iterate it ends at.
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 2)), np.array([0, 1, 0, 1])
    lr, epochs, C = 0.5, 10, 1.0
    thetas = [np.zeros(3)] + [
        theta_of(fit_quietly(X, y, solver="gd", learning_rate=lr, preconditioner="none",
                             batch_size=1, random_state=0, max_iter=k, tol=0, C=C))
        for k in range(1, epochs + 1)]
    m = len(X)
    orders = []
    for before, after in itertools.pairwise(thetas):
        matches = []
        for order in itertools.permutations(range(m)):
            theta = before.copy()
            for row in order:
                theta = theta - lr * reference_grad(X[[row]], y[[row]], theta, C, m_total=m)
            if np.allclose(theta, after, rtol=0, atol=1e-12):
                matches.append(order)
        assert len(matches) == 1, "an epoch is not one pass over the rows, one row per batch"
        orders.append(matches[0])
    assert len(set(orders)) > 1, f"every epoch used the same order {orders[0]}"


# --------------------------------------------------------------------------
# resume from every iteration


def states_of_every_iteration(X, y, **params):
    """The uninterrupted model and a copy of the state the callback got after
    each iteration, round-tripped through JSON as a checkpoint would be."""
    saved = []
    model = fit_quietly(X, y, callback=lambda s: saved.append(json.dumps(state_to_dict(s))),
                        **params)
    return model, [state_from_dict(json.loads(text)) for text in saved]


def assert_same_run(resumed, full):
    assert resumed.n_iter_ == full.n_iter_
    assert resumed.converged_ == full.converged_
    strip = [{k: v for k, v in h.items() if k != "elapsed"} for h in full.history_]
    assert [{k: v for k, v in h.items() if k != "elapsed"} for h in resumed.history_] == strip
    assert np.array_equal(resumed.coef_, full.coef_)
    assert np.array_equal(resumed.intercept_, full.intercept_)


RESUMED_RUNS = {
    # the default on data in its own units refreshes its curvature to the Hessian
    "default-refresh": ("raw", dict()),
    "default-offsets": ("offsets", dict()),
    "nesterov-restarts": ("plain", dict(solver="nesterov", learning_rate=3.0,
                                        preconditioner="none", max_iter=40, tol=0)),
    "momentum-auto": ("offsets", dict(solver="momentum", max_iter=40, tol=0)),
    "adam": ("scaled", dict(solver="adam", max_iter=20, tol=0)),
    "minibatch-shuffled": ("scaled", dict(batch_size=32, random_state=0, max_iter=10, tol=0)),
    "minibatch-gd-fixed": ("offsets", dict(solver="gd", learning_rate=0.01, batch_size=50,
                                           random_state=4, max_iter=10, tol=0)),
}


@pytest.mark.parametrize("name", RESUMED_RUNS)
def test_resume_from_the_state_of_every_iteration_gives_the_same_run(name, raw_cancer,
                                                                     scaled_cancer):
    kind, params = RESUMED_RUNS[name]
    X, y = {"raw": raw_cancer, "scaled": scaled_cancer,
            "plain": make_problem(),
            "offsets": make_problem(scales=SCALES, offsets=OFFSETS)}[kind]
    full, states = states_of_every_iteration(X, y, **params)
    assert full.n_iter_ >= 5
    iterations = [s.iteration for s in states]  # before the resumed runs advance them
    for state in states:
        resumed = fit_quietly(X, y, solver_state=state, **params)
        assert_same_run(resumed, full)
    # one state per iteration, each after that iteration
    assert iterations == list(range(1, full.n_iter_ + 1))


def test_resume_after_a_curvature_refresh_from_checkpoints_on_disk(raw_cancer, tmp_path):
    X, y = raw_cancer

    def save(state):
        save_checkpoint(tmp_path / str(state.iteration), state, {})
    full = fit_quietly(X, y, callback=save)
    assert full.converged_ and full.n_iter_ >= 5
    for k in range(1, full.n_iter_ + 1):
        state, _ = load_checkpoint(tmp_path / str(k))
        assert state.iteration == k
        assert_same_run(fit_quietly(X, y, solver_state=state), full)


# --------------------------------------------------------------------------
# the checkpoint callback


@pytest.mark.parametrize("params", [dict(), dict(batch_size=32, random_state=0, tol=1e-4)],
                         ids=["full-batch", "minibatch"])
def test_checkpointer_saves_the_converged_final_state(params, scaled_cancer, tmp_path):
    X, y = scaled_cancer
    checkpointer = Checkpointer(tmp_path, {"resume_command": "-"}, every=10_000)
    full = fit_quietly(X, y, callback=checkpointer, **params)
    assert full.converged_ and full.n_iter_ < 10_000
    state, meta = load_checkpoint(tmp_path)
    assert meta == {"resume_command": "-"}
    assert state.iteration == full.n_iter_ and state.converged
    assert [h["loss"] for h in state.history] == [h["loss"] for h in full.history_]
    resumed = fit_quietly(X, y, solver_state=state, **params)
    assert resumed.n_iter_ == full.n_iter_  # nothing left to do
    assert_same_run(resumed, full)


def test_checkpointer_saves_every_kth_iteration_and_calls_on(scaled_cancer, tmp_path):
    X, y = scaled_cancer
    params = dict(solver="gd", learning_rate=0.1, preconditioner="none", max_iter=10, tol=0)
    seen, on_disk = [], []
    checkpointer = Checkpointer(tmp_path, {}, every=3, then=lambda s: seen.append(s.iteration))

    def callback(state):
        checkpointer(state)
        on_disk.append(load_checkpoint(tmp_path)[0].iteration if tmp_path.joinpath(
            "checkpoint.json").exists() else None)
    full = fit_quietly(X, y, callback=callback, **params)
    assert seen == list(range(1, 11))
    assert on_disk == [None, None, 3, 3, 3, 6, 6, 6, 9, 9]
    state, _ = load_checkpoint(tmp_path)
    assert_same_run(fit_quietly(X, y, solver_state=state, **params), full)
