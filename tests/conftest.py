import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def make_problem(m=400, n=5, seed=0, scales=None, offsets=None, dtype=np.float64):
    """A random binary problem with known structure (not separable)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    w = rng.standard_normal(n)
    y = (rng.random(m) < 1 / (1 + np.exp(-(X @ w + 0.3)))).astype(int)
    if scales is not None:
        X = X * scales
    if offsets is not None:
        X = X + offsets
    return np.ascontiguousarray(X, dtype=dtype), y


def reference_objective(X, y, coef, intercept, C=1.0, sample_weight=None):
    """J written out independently of descend, in float64 with logaddexp."""
    X = np.asarray(X, dtype=np.float64)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    z = X @ np.ravel(coef) + intercept
    losses = np.logaddexp(0, z) - y * z
    w = np.ravel(coef)
    return s @ losses / s.sum() + (0 if np.isinf(C) else w @ w / (2 * C * s.sum()))
