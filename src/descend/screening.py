"""What fits on a subset of the columns share: the start, the KKT check, the copy.

The regularisation path (:mod:`descend.path`) and the working-set fit
(:mod:`descend.working_set`) both solve an L1 problem on some of X's columns,
every other weight held at zero, and then check on the full gradient that
those zeros are optimal: with ∇ the gradient of the smooth part (loss and
½λ₂‖w‖²), a zero wⱼ is optimal exactly when |∂J/∂wⱼ| ≤ λ₁ for every class.
θ is laid out (K, n + 1) (one row for two classes, the intercept last when
fitted), flattened.
"""
import numpy as np
import scipy.sparse as sp

from descend.engine.codes import is_coded

#: A left-out feature violates the KKT conditions when |∂J/∂wⱼ| exceeds λ₁ by
#: more than this fraction (the fit's own gradient is good to ~1e-7 of it).
KKT_SLACK = 1e-6


def intercept_only(y01, sample_weight, n_classes, fit_intercept):
    """b* of the model with every weight zero: logit(p) for two classes,
    log pₖ (centred) for K; p the weighted class shares. Shape (K,) (K = 1)."""
    s = np.ones(len(y01)) if sample_weight is None else np.asarray(sample_weight, float)
    if not fit_intercept:
        return np.zeros(1 if n_classes == 2 else n_classes)
    if n_classes == 2:
        p = np.clip(np.dot(s, y01) / s.sum(), 1e-300, 1 - 1e-16)
        return np.array([np.log(p / (1 - p))])
    shares = np.bincount(np.asarray(y01, int), weights=s, minlength=n_classes) / s.sum()
    b = np.log(np.maximum(shares, 1e-300))
    return b - b.mean()


def intercept_only_theta(y01, sample_weight, n_classes, n_features, fit_intercept):
    """θ with every weight zero and the intercept alone fitted (its optimum there)."""
    rows = n_classes if n_classes > 2 else 1
    theta = np.zeros((rows, n_features + int(fit_intercept)))
    if fit_intercept:
        theta[:, -1] = intercept_only(y01, sample_weight, n_classes, True)
    return theta.ravel()


def weights_grad(objective, theta, rows, n_features):
    """∇ of ``objective``'s smooth part at θ, the weights' part as (K, n)."""
    with objective.evaluation_context():  # BLAS on one core per thread, as the solver
        grad = objective.loss_grad(theta)[1]
    return grad.reshape(rows, -1)[:, :n_features]


def kkt_violations(weights_gradient, l1):
    """Features whose zero weight breaks |∂J/∂wⱼ| ≤ λ₁ for some class, from the
    (K, n) gradient of :func:`weights_grad` (a wⱼ ≠ 0 may be flagged too: mask it)."""
    return np.any(np.abs(weights_gradient) > l1 * (1 + KKT_SLACK), axis=0)


def support(theta, rows, n_features):
    """Features with a non-zero weight for some class."""
    return np.any(np.reshape(theta, (rows, -1))[:, :n_features] != 0, axis=0)


def restrict(theta, keep, rows, n_features, fit_intercept):
    """θ of the problem on the columns ``keep`` (the intercepts kept)."""
    T = np.reshape(theta, (rows, -1))
    parts = [T[:, :n_features][:, keep]] + ([T[:, -1:]] if fit_intercept else [])
    return np.hstack(parts).ravel()


def embed(sub_theta, keep, rows, n_features, fit_intercept):
    """θ of the full problem from that on the columns ``keep``: zero elsewhere."""
    sub = np.reshape(sub_theta, (rows, -1))
    out = np.zeros((rows, n_features + int(fit_intercept)))
    out[:, np.flatnonzero(keep)] = sub[:, :int(np.count_nonzero(keep))]
    if fit_intercept:
        out[:, -1] = sub[:, -1]
    return out.ravel()


def columns(X, keep):
    """The kept columns of X, as one contiguous copy (CSR for sparse or coded
    X: a CodedMatrix without some of its one-hot columns is no longer one); X
    itself when every column is kept."""
    if keep.all():
        return X
    index = np.flatnonzero(keep)
    if is_coded(X):
        X = X.tocsr(X.dtype)
    if sp.issparse(X):
        return sp.csr_matrix(X[:, index])
    return np.take(X, index, axis=1)  # C order; about 3 × faster than X[:, keep]
