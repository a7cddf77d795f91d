"""``LogisticRegression`` on Array API input: PyTorch tensors, CuPy and ``array-api-strict`` arrays.

X stays in its namespace and on its device for the whole fit: the objective
(:mod:`descend.engine.array_objective`, with the fused Triton pass for CUDA
tensors; :mod:`descend.engine.array_multinomial` for K ≥ 3 classes), the solver's θ, momentum and preconditioner, and the fitted
attributes, which follow scikit-learn's Array API convention (``coef_``,
``intercept_`` and, for numeric labels, ``classes_`` in X's namespace, on
its device). Only the labels (and sample weights) go to the host, once, to
be checked and encoded by the estimator's own rules; each iteration then
moves one small vector of numbers back for its history record.

NumPy arrays never come here: they keep the compiled CPU path.
"""
import numpy as np

from descend.exceptions import DataError, UsageError, warn_not_converged
from descend.optim.arrays import device_of, is_numpy, namespace, to_host


def is_array_api_input(X):
    """Whether X is a PyTorch tensor, a CuPy array or an ``array-api-strict`` array."""
    if isinstance(X, np.ndarray) or not hasattr(X, "__array_namespace__") and \
            type(X).__module__.split(".")[0] not in ("torch", "cupy"):
        return False
    from array_api_compat import (
        array_namespace,
        is_array_api_strict_namespace,
        is_cupy_array,
        is_torch_array,
    )
    if is_torch_array(X) or is_cupy_array(X):
        return True
    try:
        return is_array_api_strict_namespace(array_namespace(X))
    except TypeError:
        return False


def check_X(estimator, X, reset):
    """X as a 2-D real floating array of its namespace (integers become
    float64), finite, with the fitted number of features unless ``reset``."""
    xp = namespace(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got an array of shape {tuple(X.shape)}; "
                         "reshape it to (n_samples, n_features)")
    if not xp.isdtype(X.dtype, "real floating"):
        X = xp.astype(X, xp.float64)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X of shape {tuple(X.shape)}: at least one sample and one feature "
                         "are required")
    if not bool(xp.all(xp.isfinite(X))):
        raise DataError("X has NaN or infinite values; drop or impute them first")
    if reset:
        estimator.n_features_in_ = X.shape[1]
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input.")
    return X


def _host(v):
    """v as a NumPy array (labels, weights: anything array-like), None as None."""
    if v is None:
        return None
    return to_host(v) if is_array_api_input(v) else np.asarray(v)


def check_host_input(estimator):
    """A :class:`UsageError` when a model fitted on Array API input is handed
    NumPy-like X: its coefficients live in another namespace (or device)."""
    coef = getattr(estimator, "coef_", None)
    if coef is not None and not is_numpy(coef):
        raise UsageError(f"this model was fitted on {type(coef).__module__.split('.')[0]} "
                         "arrays and predicts from the same kind of array on the same device; "
                         "convert X (for PyTorch: torch.asarray(X, device=model.coef_.device))")


def fit(estimator, X, y, sample_weight=None, solver_state=None, eval_set=None):
    """:meth:`LogisticRegression.fit` for Array API X (see the module docstring)."""
    estimator._check_params()
    if eval_set is not None:
        raise UsageError("{eval_set} is not supported with Array API input yet; track a "
                         "held-out loss with a callback, or pass NumPy arrays",
                         eval_set=None)
    X = check_X(estimator, X, reset=True)
    y_host = _host(y)
    # labels and weights on the host, once, by the NumPy path's own checks
    # (a one-column placeholder stands in for X; its dtype is X's precision)
    stub = np.zeros((len(y_host), 1), dtype=np.float64 if X.dtype == namespace(X).float64
                    else np.float32)
    if len(y_host) != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(y_host)} labels")
    _, y01, weights = estimator._validate_training_data(stub, y_host, _host(sample_weight),
                                                        reset=True)
    estimator.n_features_in_ = X.shape[1]
    if estimator._rho > 0:
        raise UsageError(f"penalty {estimator.penalty!r}: Array API input supports the L2 "
                         "penalty (or none) for now; pass NumPy arrays (for a tensor, "
                         "X.cpu().numpy()) for an L1 part", penalty=None)
    objective = estimator._objective(X, y01, weights)
    solver = estimator._make_solver(objective)
    result = solver.run(objective, _initial_theta(estimator, X), state=solver_state)
    _store(estimator, X, result)
    if not result.state.converged:
        separable = result.state.separated or (
            np.isinf(estimator.C) and np.all(_host(predict(estimator, X)) == y_host))
        warn_not_converged(estimator.max_iter, result.state.measure, estimator.tol, separable)
    return estimator


def _initial_theta(estimator, X):
    """Zeros, or with ``warm_start`` the previous coefficients (host or device),
    laid out (K, n + 1) (one row for two classes)."""
    n, rows = X.shape[1], len(estimator.classes_) if estimator._multinomial else 1
    coef = getattr(estimator, "coef_", None)
    if not (estimator.warm_start and coef is not None and tuple(coef.shape) == (rows, n)):
        return np.zeros(rows * (n + int(estimator.fit_intercept)))
    theta = _host(coef).astype(np.float64)
    if estimator.fit_intercept:
        theta = np.column_stack([theta, _host(estimator.intercept_).astype(np.float64)])
    return theta.ravel()


def _store(estimator, X, result):
    """The fitted attributes, in X's namespace, dtype (float32 for half storage) and device."""
    xp, n = namespace(X), X.shape[1]
    dtype = xp.float64 if X.dtype == xp.float64 else xp.float32
    T = xp.reshape(result.theta, (-1, n + int(estimator.fit_intercept)))
    estimator.coef_ = xp.astype(T[:, :n], dtype)
    b = T[:, n] if estimator.fit_intercept else xp.zeros((T.shape[0],), dtype=xp.float64,
                                                           device=device_of(X))
    if estimator._multinomial:  # b is defined up to a constant: centred, as scikit-learn
        b = b - xp.mean(b)
    estimator.intercept_ = xp.astype(b, dtype)
    if estimator.classes_.dtype.kind in "biuf":
        estimator.classes_ = xp.asarray(estimator.classes_, device=device_of(X))
    estimator.n_iter_ = result.state.iteration
    estimator.converged_ = result.state.converged
    estimator.history_ = result.state.history
    estimator.solver_state_ = result.state


def _coefficients(estimator, X):
    """(w, b) in X's namespace and device, in X's compute precision."""
    xp = namespace(X)
    coef, intercept = estimator.coef_, estimator.intercept_
    if namespace(coef) is not xp:
        coef, intercept = _host(coef), _host(intercept)
    dtype = xp.float64 if X.dtype == xp.float64 else xp.float32
    put = lambda v: xp.astype(xp.asarray(v, device=device_of(X)), dtype)  # noqa: E731
    return put(coef), put(intercept)


def decision_function(estimator, X):
    """z = X w + b, shape (m,); for K ≥ 3 classes Z = X Wᵀ + b, shape (m, K);
    in X's namespace and device."""
    from sklearn.utils.validation import check_is_fitted
    check_is_fitted(estimator)
    X = check_X(estimator, X, reset=False)
    W, b = _coefficients(estimator, X)
    xp = namespace(X)
    X = X if X.dtype == W.dtype else xp.astype(X, W.dtype)
    if W.shape[0] > 1:
        return X @ W.T + b[None, :]
    return X @ W[0, :] + b[0]


def predict_proba(estimator, X):
    """[1 − a, a], a = σ(z), shape (m, 2), in X's namespace."""
    from descend.engine.array_numerics import sigmoid, softmax
    z = decision_function(estimator, X)
    xp = namespace(z)
    if z.ndim == 2:  # K classes
        return softmax(xp, z)
    a = sigmoid(xp, z)
    return xp.stack([1 - a, a], axis=1)


def predict_log_proba(estimator, X):
    """[log σ(−z), log σ(z)] from z, without underflow."""
    from descend.engine.array_numerics import log_sigmoid, log_softmax
    z = decision_function(estimator, X)
    xp = namespace(z)
    if z.ndim == 2:  # K classes
        return log_softmax(xp, z)
    return xp.stack([log_sigmoid(xp, -z), log_sigmoid(xp, z)], axis=1)


def predict(estimator, X):
    """The label of the largest probability (two classes: z > 0 → classes_[1]); in
    X's namespace for numeric labels."""
    z = decision_function(estimator, X)
    xp, classes = namespace(z), estimator.classes_
    index = xp.argmax(z, axis=1) if z.ndim == 2 else xp.astype(z > 0, xp.int64)
    if is_numpy(classes):  # text labels cannot live on a device
        return classes[_host(index)]
    if namespace(classes) is not xp:
        classes = xp.asarray(_host(classes), device=device_of(z))
    return xp.take(classes, index)
