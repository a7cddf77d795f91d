"""Array API input: PyTorch tensors and array-api-strict arrays fit in their own
namespace, to the NumPy fit's coefficients and scikit-learn's optimum."""
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
from conftest import make_problem
from descend.engine import array_numerics, numerics
from descend.engine.array_objective import ArrayObjective
from descend.exceptions import DataError, UsageError

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
xps = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
from array_api_compat import array_namespace  # noqa: E402

NAMESPACES = {
    "torch": lambda a: torch.asarray(a),
    "array-api-strict": lambda a: xps.asarray(a),
}
SETTINGS = {
    "default (factored curvature, Newton-like refreshes)": {},
    "diagonal metric": {"preconditioner": "diagonal"},
    "no intercept": {"fit_intercept": False},
    "C=0.05": {"C": 0.05},
    "the lesson's fixed-α gd": {"solver": "gd", "learning_rate": 0.5, "max_iter": 4000},
    "momentum": {"solver": "momentum"},
    "mini-batches": {"batch_size": 64, "max_iter": 5, "random_state": 3},
}


def host(a):
    return np.from_dlpack(a) if not isinstance(a, np.ndarray) else a


@pytest.fixture(scope="module")
def problem():
    X, y = make_problem(m=600, n=6, seed=4, scales=np.array([1, 10, 0.1, 1, 3, 1.0]),
                        offsets=np.array([0, 5, 0, -2, 0, 1.0]))
    return X, y


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("kind", list(NAMESPACES))
def test_float64_input_gives_the_numpy_fit_coefficients(problem, kind, setting):
    X, y = problem
    options = {"tol": 1e-13, **SETTINGS[setting]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixed-step and mini-batch runs stop at max_iter
        ours = descend.LogisticRegression(**options).fit(NAMESPACES[kind](X), NAMESPACES[kind](y))
        reference = descend.LogisticRegression(**options).fit(X, y)
    assert ours.n_iter_ == reference.n_iter_
    np.testing.assert_allclose(host(ours.coef_), reference.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(host(ours.intercept_), reference.intercept_, rtol=0, atol=1e-8)


@pytest.mark.parametrize("kind", list(NAMESPACES))
def test_weights_and_balanced_classes_give_the_numpy_fit(problem, kind):
    X, y = problem
    s = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    options = {"tol": 1e-13, "class_weight": "balanced"}
    ours = descend.LogisticRegression(**options).fit(NAMESPACES[kind](X), NAMESPACES[kind](y),
                                                     sample_weight=NAMESPACES[kind](s))
    reference = descend.LogisticRegression(**options).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(host(ours.coef_), reference.coef_, rtol=0, atol=1e-8)


def test_float32_tensors_stay_float32_and_match_the_numpy_float32_fit(problem):
    X, y = problem
    X32 = X.astype(np.float32)
    ours = descend.LogisticRegression().fit(torch.asarray(X32), torch.asarray(y))
    reference = descend.LogisticRegression().fit(X32, y)
    assert ours.coef_.dtype == torch.float32 and ours.intercept_.dtype == torch.float32
    np.testing.assert_allclose(ours.coef_.numpy(), reference.coef_, rtol=1e-4, atol=1e-5)


def test_the_optimum_is_scikit_learns(cancer):
    X, y = cancer
    ours = descend.LogisticRegression(C=0.5).fit(torch.asarray(X), torch.asarray(y))
    reference = SkLogisticRegression(C=0.5, tol=1e-10, max_iter=100_000).fit(X, y)
    assert ours.converged_
    np.testing.assert_allclose(ours.coef_.numpy(), reference.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_.numpy(), reference.intercept_, atol=1e-4)


@pytest.mark.parametrize("kind", list(NAMESPACES))
def test_fitted_attributes_and_predictions_are_in_xs_namespace_and_device(problem, kind):
    X, y = problem
    Xa = NAMESPACES[kind](X)
    clf = descend.LogisticRegression().fit(Xa, NAMESPACES[kind](y))
    xp = array_namespace(Xa)
    reference = descend.LogisticRegression().fit(X, y)
    for name in ("coef_", "intercept_", "classes_"):
        value = getattr(clf, name)
        assert array_namespace(value) is xp and value.device == Xa.device, name
    assert tuple(clf.coef_.shape) == (1, 6) and tuple(clf.intercept_.shape) == (1,)
    outputs = {"predict": reference.predict, "predict_proba": reference.predict_proba,
               "predict_log_proba": reference.predict_log_proba,
               "decision_function": reference.decision_function}
    for method, expected in outputs.items():
        value = getattr(clf, method)(Xa)
        assert array_namespace(value) is xp, method
        np.testing.assert_allclose(host(value), expected(X), rtol=1e-9, atol=1e-12,
                                   err_msg=method)


def test_the_solver_state_stays_in_the_namespace(problem):
    X, y = problem
    clf = descend.LogisticRegression(preconditioner="diagonal").fit(torch.asarray(X),
                                                                    torch.asarray(y))
    state = clf.solver_state_
    assert isinstance(state.theta, torch.Tensor) and isinstance(state.best_grad, torch.Tensor)
    accelerate = state.rule_state[1]  # Nesterov: [step, Accelerate]
    assert isinstance(accelerate["x"], torch.Tensor)
    assert isinstance(accelerate["t"], torch.Tensor)  # the restart is a select, not a branch
    assert all(isinstance(h["loss"], float) for h in clf.history_)


def test_each_iteration_moves_its_numbers_to_the_host_once(problem, monkeypatch):
    from descend.optim import arrays
    X, y = problem
    calls = []
    to_host = arrays.to_host
    monkeypatch.setattr(arrays, "to_host", lambda v: calls.append(v.shape) or to_host(v))
    clf = descend.LogisticRegression().fit(torch.asarray(X), torch.asarray(y))
    assert len(calls) == clf.n_iter_ == len(clf.history_)
    assert all(shape == (4,) for shape in calls)  # J, finite, g′ᵀg′, ‖∇J‖²


def test_text_labels_stay_on_the_host_and_predictions_name_them(problem):
    X, y = problem
    labels = np.array(["no", "yes"])[y]
    clf = descend.LogisticRegression().fit(torch.asarray(X), labels)
    assert isinstance(clf.classes_, np.ndarray)
    np.testing.assert_array_equal(clf.predict(torch.asarray(X)),
                                  descend.LogisticRegression().fit(X, labels).predict(X))


def test_warm_start_continues_from_the_tensor_coefficients(problem):
    X, y = problem
    clf = descend.LogisticRegression(warm_start=True).fit(torch.asarray(X), torch.asarray(y))
    first = clf.n_iter_
    clf.fit(torch.asarray(X), torch.asarray(y))
    assert clf.n_iter_ < first


def test_numpy_and_other_inputs_keep_their_paths():
    from descend.array_input import is_array_api_input
    import pandas as pd
    import scipy.sparse as sp
    for other in (np.zeros((2, 2)), [[1.0]], pd.DataFrame({"a": [1.0]}), sp.csr_array((2, 2))):
        assert not is_array_api_input(other)
    assert is_array_api_input(torch.zeros(2, 2)) and is_array_api_input(xps.zeros((2, 2)))


@pytest.mark.parametrize("make, match, error", [
    (lambda X, y: (torch.asarray(np.where(X > 2, np.nan, X)), y), "NaN or infinite", DataError),
    (lambda X, y: (torch.asarray(X[:, 0]), y), "2D array", ValueError),
    (lambda X, y: (torch.asarray(X), y[:-1]), "labels", ValueError),
    (lambda X, y: (torch.asarray(X), np.zeros(len(y))), "only one class", ValueError),
], ids=["nan", "1-d", "lengths", "one class"])
def test_bad_input_is_one_clear_error(problem, make, match, error):
    X, y = problem
    with pytest.raises(error, match=match):
        descend.LogisticRegression().fit(*make(X, y))


def test_predicting_with_the_wrong_width_or_unsupported_options_is_clear(problem):
    X, y = problem
    clf = descend.LogisticRegression().fit(torch.asarray(X), torch.asarray(y))
    with pytest.raises(ValueError, match="X has 5 features, but LogisticRegression is expecting 6"):
        clf.predict(torch.asarray(X[:, :5]))
    with pytest.raises(UsageError, match="fitted on torch arrays"):
        clf.predict(X)
    with pytest.raises(UsageError, match="eval_set"):
        descend.LogisticRegression().fit(torch.asarray(X), y, eval_set=(X, y))
    with pytest.raises(UsageError, match="partial_fit"):
        descend.LogisticRegression().partial_fit(torch.asarray(X), y, classes=[0, 1])


# -- the objective's derivatives, against PyTorch autograd ---------------------
def autograd_objective(X, y, s, l2, fit_intercept):
    """J(θ) written with PyTorch's own softplus, for autograd to differentiate."""
    def J(theta):
        w = theta[: X.shape[1]]
        z = X @ w + (theta[-1] if fit_intercept else 0.0)
        losses = torch.nn.functional.softplus(z) - y * z
        return (s * losses).sum() / s.sum() + 0.5 * l2 * (w @ w)
    return J


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_loss_gradient_and_hessian_are_autograds(fit_intercept):
    X, y = make_problem(m=300, n=4, seed=2)
    s = np.random.default_rng(1).uniform(0.1, 2.0, len(y))
    objective = ArrayObjective(torch.asarray(X), y.astype(float), torch.asarray(s), l2=0.03,
                               fit_intercept=fit_intercept)
    theta = torch.asarray(np.random.default_rng(3).standard_normal(objective.n_params))
    J = autograd_objective(torch.asarray(X), torch.asarray(y, dtype=torch.float64),
                           torch.asarray(s), 0.03, fit_intercept)
    point = theta.clone().requires_grad_(True)
    value = J(point)
    (grad,) = torch.autograd.grad(value, point)
    loss, ours = objective.loss_grad(theta)
    assert abs(float(loss) - float(value.detach())) <= 1e-14
    torch.testing.assert_close(ours, grad, rtol=1e-12, atol=1e-14)
    hessian = torch.autograd.functional.hessian(J, theta)
    torch.testing.assert_close(objective.curvature(theta), hessian, rtol=1e-10, atol=1e-13)
    # the bound: the Hessian at θ = 0, where a(1 − a) = 1/4 on every row
    torch.testing.assert_close(objective.curvature(),
                               torch.autograd.functional.hessian(J, 0 * theta),
                               rtol=1e-10, atol=1e-13)


def test_column_moments_and_the_bound_operator_are_numpys():
    from descend.engine.objective import Objective
    X, y = make_problem(m=500, n=5, seed=5, offsets=np.arange(5.0))
    s = np.random.default_rng(2).uniform(0.1, 2.0, len(y))
    ours = ArrayObjective(torch.asarray(X), y, s, l2=0.01)
    reference = Objective(X, y.astype(float), s, l2=0.01)
    for a, b in zip(ours.diagonal_scaling(), reference.diagonal_scaling()):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12)
    v = np.random.default_rng(0).standard_normal(6)
    np.testing.assert_allclose(ours.bound_operator(100)(torch.asarray(v)).numpy(),
                               reference.bound_operator(100)(v), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_array_formulas_are_the_compiled_ones(dtype):
    z = np.concatenate([np.linspace(-800, 800, 4001), np.geomspace(1e-30, 50, 200)]).astype(dtype)
    z = np.concatenate([z, -z])
    for y in (0.0, 0.3, 1.0):
        yy = np.full_like(z, y)
        tz, ty = torch.asarray(z), torch.asarray(yy)
        rtol = 4 * np.finfo(dtype).eps
        np.testing.assert_allclose(array_numerics.loss_from_logit(
            array_namespace(tz), tz, ty).numpy(), numerics.loss_from_logit(z, yy), rtol=rtol,
            atol=2 * np.finfo(dtype).tiny)  # the compiled eᵗ stops at the normal range
        np.testing.assert_allclose(array_numerics.dloss_dlogit(
            array_namespace(tz), tz, ty).numpy(), numerics.dloss_dlogit(z, yy), rtol=rtol,
            atol=2 * np.finfo(dtype).tiny)


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="no CUDA device: the GPU half of the Array API path needs one")
def test_a_cuda_float64_fit_stays_on_the_gpu(problem):
    X, y = problem
    clf = descend.LogisticRegression(tol=1e-13).fit(torch.asarray(X).cuda(), torch.asarray(y))
    assert clf.coef_.is_cuda and clf.classes_.is_cuda and clf.solver_state_.theta.is_cuda
    reference = descend.LogisticRegression(tol=1e-13).fit(X, y)
    np.testing.assert_allclose(clf.coef_.cpu().numpy(), reference.coef_, atol=1e-8)


# -- K classes -------------------------------------------------------------------
def k_class_problem(m=900, n=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * [1, 5, 0.2, 1][:n] + [0, 1, 0, 3][:n]
    y = np.argmax(X @ rng.standard_normal((K, n)).T + rng.gumbel(size=(m, K)), axis=1)
    return X, y


@pytest.mark.parametrize("setting", ["default (factored curvature, Newton-like refreshes)",
                                     "diagonal metric", "no intercept", "mini-batches"])
@pytest.mark.parametrize("kind", list(NAMESPACES))
def test_k_classes_give_the_numpy_fit(kind, setting):
    X, y = k_class_problem()
    options = {"tol": 1e-13, **SETTINGS[setting]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the mini-batch runs stop at max_iter
        ours = descend.LogisticRegression(**options).fit(NAMESPACES[kind](X), NAMESPACES[kind](y))
        reference = descend.LogisticRegression(**options).fit(X, y)
    assert ours.n_iter_ == reference.n_iter_
    assert tuple(ours.coef_.shape) == (3, 4) and tuple(ours.intercept_.shape) == (3,)
    np.testing.assert_allclose(host(ours.coef_), reference.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(host(ours.intercept_), reference.intercept_, rtol=0, atol=1e-8)
    Xa = NAMESPACES[kind](X)
    for method in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
        value = getattr(ours, method)(Xa)
        assert array_namespace(value) is array_namespace(Xa), method
        np.testing.assert_allclose(host(value), getattr(reference, method)(X), rtol=1e-8,
                                   atol=1e-10, err_msg=method)


def test_k_classes_reach_scikit_learns_optimum():
    X, y = k_class_problem(K=4, seed=3)
    ours = descend.LogisticRegression(C=0.5).fit(torch.asarray(X), torch.asarray(y))
    reference = SkLogisticRegression(C=0.5, tol=1e-10, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_.numpy(), reference.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_.numpy(), reference.intercept_, atol=1e-4)


def test_k_class_derivatives_are_autograds_and_the_bound_bounds_the_hessian():
    from descend.engine.array_multinomial import ArrayMultinomialObjective
    X, y = k_class_problem(m=200, n=3, K=3, seed=1)
    s = np.random.default_rng(1).uniform(0.1, 2.0, len(y))
    objective = ArrayMultinomialObjective(torch.asarray(X), y, 3, torch.asarray(s), l2=0.02)
    Xt, st, Y = torch.asarray(X), torch.asarray(s), torch.nn.functional.one_hot(
        torch.asarray(y), 3).double()

    def J(theta):
        T = theta.reshape(3, 4)
        Z = Xt @ T[:, :3].T + T[:, 3]
        losses = torch.logsumexp(Z, dim=1) - (Z * Y).sum(dim=1)
        return (st * losses).sum() / st.sum() + 0.01 * (T[:, :3] ** 2).sum()
    theta = torch.asarray(np.random.default_rng(4).standard_normal(12))
    point = theta.clone().requires_grad_(True)
    value = J(point)
    (grad,) = torch.autograd.grad(value, point)
    loss, ours = objective.loss_grad(theta)
    assert abs(float(loss) - float(value.detach())) <= 1e-13
    torch.testing.assert_close(ours, grad, rtol=1e-12, atol=1e-14)
    hessian = torch.autograd.functional.hessian(J, theta)
    torch.testing.assert_close(objective.curvature(theta), hessian, rtol=1e-10, atol=1e-13)
    assert float(torch.linalg.eigvalsh(objective.curvature() - hessian).min()) >= -1e-12


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_k_class_array_formula_is_the_compiled_one(dtype):
    from descend.engine.softmax import loss_and_dlogits
    rng = np.random.default_rng(0)
    Z = np.concatenate([rng.standard_normal((500, 4)) * 30, rng.standard_normal((500, 4)) * 1e-3,
                        np.array([[800.0, -800.0, 0.0, 1.0], [5.0, 5.0, 5.0, 5.0]])]).astype(dtype)
    y = rng.integers(0, 4, len(Z))
    y[-2:] = [0, 2]
    losses, dZ = loss_and_dlogits(Z, y)
    Zt = torch.asarray(Z)
    Y = torch.nn.functional.one_hot(torch.asarray(y), 4).to(Zt.dtype)
    ours, ours_dZ = array_numerics.softmax_loss_and_dlogits(array_namespace(Zt), Zt, Y)
    eps = np.finfo(dtype).eps
    # (the compiled eᵗ is clamped near the normal range: losses below 1e6·tiny differ)
    np.testing.assert_allclose(ours.numpy(), losses, rtol=8 * eps, atol=1e6 * np.finfo(dtype).tiny)
    np.testing.assert_allclose(ours_dZ.numpy(), dZ, rtol=8 * eps, atol=4 * eps)


def test_scikit_learns_array_api_check_passes():
    """check_array_api_input (values and sample weights compared with NumPy's) for
    torch and array-api-strict, in a process with SCIPY_ARRAY_API=1, which
    scikit-learn's Array API mode needs before scipy is imported."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    script = """
from sklearn.utils.estimator_checks import check_array_api_input
import descend
for namespace, device, dtype in [("torch", "cpu", "float64"), ("torch", "cpu", "float32"),
                                 ("array_api_strict", None, "float64")]:
    check_array_api_input("LogisticRegression", descend.LogisticRegression(), namespace,
                          device_name=device, dtype_name=dtype, check_values=True,
                          check_sample_weight=True)
print("passed")
"""
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "SCIPY_ARRAY_API": "1", "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0 and "passed" in done.stdout, done.stderr[-3000:]
