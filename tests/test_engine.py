"""The one-pass engine: same numbers as the plain formula, no copies of X."""
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
from conftest import make_problem, reference_objective
from descend.engine.objective import Objective


def two_pass(X, y, s, w, b, l2):
    """The textbook evaluation: z = Xw + b, then Xᵀ(a − y), in float64."""
    X = X.astype(np.float64)
    s = np.ones(len(y)) if s is None else s
    z = X @ w + b
    a = 1 / (1 + np.exp(-z))
    J = s @ (np.logaddexp(0, z) - y * z) / s.sum() + 0.5 * l2 * w @ w
    dz = s * (a - y) / s.sum()
    return J, np.append(X.T @ dz + l2 * w, dz.sum())


@pytest.mark.parametrize("engine", ["compiled", "graph"])
@pytest.mark.parametrize("block_rows", [100, 128, 1000, 7])   # 1000 divides m, the others don't
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_one_pass_equals_two_pass(engine, block_rows, weighted, threads):
    X, y = make_problem(1000, 6, seed=3)
    rng = np.random.default_rng(4)
    s = rng.uniform(0.1, 2, 1000) if weighted else None
    w, b = rng.standard_normal(6), 0.4
    obj = Objective(X, y, s, l2=0.01, n_threads=threads, block_rows=block_rows, engine=engine)
    J, g = obj.loss_grad(np.append(w, b))
    J_ref, g_ref = two_pass(X, y, s, w, b, 0.01)
    assert J == pytest.approx(J_ref, rel=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-14)


def test_mini_batch_rows_match_the_subset():
    X, y = make_problem(500, 4, seed=5)
    rows = np.arange(0, 500, 3)
    obj = Objective(X, y, l2=0.1)
    theta = np.array([0.3, -0.2, 0.1, 0.5, -0.1])
    J, g = obj.loss_grad(theta, rows=rows)
    J_ref, g_ref = two_pass(X[rows], y[rows], None, theta[:4], theta[4], 0.1)
    assert J == pytest.approx(J_ref, rel=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12)


def test_float32_is_not_upcast_or_copied():
    X, y = make_problem(3000, 5, seed=6, dtype=np.float32)
    obj = Objective(X, y)
    assert obj.X is X and obj.X.dtype == np.float32
    J32, g32 = obj.loss_grad(np.full(6, 0.1))
    J64, g64 = Objective(X.astype(np.float64), y).loss_grad(np.full(6, 0.1))
    assert J32 == pytest.approx(J64, rel=1e-6)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_makes_no_copy_of_X(dtype):
    X, y = make_problem(100_000, 100, seed=7, dtype=dtype)
    descend.LogisticRegression().fit(X[:100], y[:100])  # compile and import outside the trace
    tracemalloc.start()
    descend.LogisticRegression().fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.10 * X.nbytes, f"fit allocated {peak / X.nbytes:.2f} × X"


SCALES = np.array([0.2, 1.0, 5.0, 100.0, 0.01, 3.0])
OFFSETS = np.array([10.0, -3.0, 0.0, 500.0, 0.0, -7.0])


@pytest.mark.parametrize("problem", [
    dict(m=2000, n=6, seed=8),
    dict(m=2000, n=6, seed=9, scales=SCALES, offsets=OFFSETS),          # badly scaled
    dict(m=500, n=40, seed=10),
    dict(m=3000, n=6, seed=11, scales=SCALES * 1e3, offsets=OFFSETS),   # worse still
])
@pytest.mark.parametrize("C", [1.0, 0.01, 100.0])
def test_default_solver_reaches_sklearns_optimum(problem, C):
    X, y = make_problem(**problem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=500).fit(X, y)
    ours = descend.LogisticRegression(C=C).fit(X, y)
    assert ours.converged_
    J = reference_objective(X, y, ours.coef_, ours.intercept_[0], C)
    J_ref = reference_objective(X, y, ref.coef_, ref.intercept_[0], C)
    assert (J - J_ref) / J_ref < 1e-6


def assert_kernel_equals_two_pass(X, y, s, w, b, lo, hi):
    """fused_rows on rows lo:hi gives the plain formula's loss and gradient
    sums to 1e-12 (``s`` of length 0: unit weights)."""
    from descend.engine.kernels import fused_rows
    grad = np.zeros(X.shape[1] + 1)
    total = fused_rows(X, y, s, w, b, lo, hi, grad)
    weights = s[lo:hi] if len(s) else np.ones(hi - lo)
    J_ref, g_ref = two_pass(X[lo:hi], y[lo:hi], weights, w, b, 0.0)
    S = weights.sum()
    assert total / S == pytest.approx(J_ref, rel=1e-12)
    np.testing.assert_allclose(grad / S, g_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n", [1, 7, 100])
@pytest.mark.parametrize("lo, hi", [(0, 1), (3, 70), (5, 1001), (0, 1024)])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_row_ranges_and_widths_equal_two_pass(n, lo, hi, weighted):
    """Ranges that end inside a chunk and inside a group of rows, and row widths
    below, inside and across one prefetched half, all give the plain formula."""
    rng = np.random.default_rng(n + hi)
    X = rng.standard_normal((1100, n))
    y = (rng.random(1100) < 0.5) * 1.0
    s = rng.uniform(0.1, 2, 1100) if weighted else np.empty(0)
    assert_kernel_equals_two_pass(X, y, s, rng.standard_normal(n) / np.sqrt(n), 0.3, lo, hi)


@pytest.mark.parametrize("layout", ["fortran", "every other column", "rows reversed"])
def test_kernel_reads_any_memory_layout(layout):
    """The prefetch addresses assume nothing about X's strides: other layouts
    give the same numbers (only the prefetch hints lose their use)."""
    rng = np.random.default_rng(12)
    base = rng.standard_normal((300, 14))
    X = {"fortran": np.asfortranarray(base), "every other column": base[:, ::2],
         "rows reversed": base[::-1]}[layout]
    y = (rng.random(300) < 0.5) * 1.0
    assert_kernel_equals_two_pass(X, y, np.empty(0), rng.standard_normal(X.shape[1]) / 3,
                                  -0.2, 7, 290)


def test_the_cached_kernel_is_reused_and_editing_the_formulas_recompiles_it(tmp_path):
    """Numba caches the kernel and the loss ufuncs on disk, keyed by their own
    file; a new process must load them (not compile again), and an edit of
    numerics.py, whose formulas the kernel inlines, must not load stale code."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    package = Path(descend.__file__).parent
    copy = tmp_path / "descend"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = ("import numpy as np; from descend.engine.kernels import fused_rows; "
              "print(fused_rows(np.ones((8, 3)), np.ones(8), np.empty(0), np.zeros(3), 0.0, 0, 8,"
              " np.zeros(4)))")
    def kernel_loss():
        run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True,
                             capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path)})
        return float(run.stdout)
    assert kernel_loss() == pytest.approx(8 * np.log(2))            # compiled, then cached
    cached = sorted((copy / "engine" / "__pycache__").glob("*.nb*"))
    assert any("fused_rows" in p.name for p in cached)
    kernel_loss()                     # a second process loads the cache: nothing new compiled
    assert sorted((copy / "engine" / "__pycache__").glob("*.nb*")) == cached
    numerics = copy / "engine" / "numerics.py"
    source = numerics.read_text()
    edited = source.replace("+ log1p_unit(exp_nonpositive(-abs(z))))",
                            "+ log1p_unit(exp_nonpositive(-abs(z))) + one)")
    assert edited != source
    numerics.write_text(edited)
    assert kernel_loss() == pytest.approx(8 * np.log(2) + 8)        # recompiled, not stale
