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


@pytest.fixture
def run_cli(capsys):
    """Run ``descend ARGS`` in this process; return (exit code, stdout, stderr)."""
    from descend.cli.main import main

    def run(*args):
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        return exit_info.value.code, out, err
    return run


def customers_frame(m=400, seed=0):
    """Text labels, a categorical column, an id column and missing values."""
    import pandas as pd
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.normal(40, 10, m).round(1),
        "income": rng.lognormal(10, 0.5, m).round(0),
        "plan": rng.choice(["basic", "pro", "team"], m),
        "customer_id": np.arange(m),
    })
    z = 0.08 * (df.age - 40) + 1.2 * (df.plan == "pro") - 0.8 * (df.plan == "team")
    df["churn"] = np.where(rng.random(m) < 1 / (1 + np.exp(-z)), "yes", "no")
    df.loc[[3, 10, 50], "age"] = np.nan
    df.loc[[7, 8], "plan"] = None
    return df


@pytest.fixture
def customers(tmp_path):
    path = tmp_path / "customers.csv"
    customers_frame().to_csv(path, index=False)
    return path


#: The installed console script beside this interpreter (the venv's bin/).
import sys as _sys
from pathlib import Path as _Path

DESCEND_EXE = str(_Path(_sys.executable).parent / "descend")
