"""The same data and options give the same bits: whatever the number of
threads, BLAS's threads, or the load of the machine."""
import json
import subprocess

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import descend
from conftest import DESCEND_EXE, make_problem
from descend.engine import objective as objective_module
from descend.engine.objective import Objective


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 64 rows, so that a small X has many partial sums to add."""
    monkeypatch.setattr(objective_module, "BLOCK_BYTES", 64 * 12 * 8)


@pytest.mark.parametrize("engine", ["compiled", "graph"])
def test_sums_do_not_depend_on_the_number_of_threads(small_blocks, engine):
    X, y = make_problem(5000, 12, seed=4, scales=np.linspace(0.5, 3, 12))
    theta = np.random.default_rng(0).standard_normal(13) / 4
    results = []
    for threads in (1, 2, 3):
        obj = Objective(X, y, l2=1e-3, n_threads=threads, engine=engine)
        assert len(obj._partial_edges()) > 4 and obj.n_threads == threads
        with obj.evaluation_context():
            loss, grad = obj.loss_grad(theta)
            results.append((loss, grad, obj.curvature(theta), obj.column_moments()[1]))
    for other in results[1:]:
        assert other[0] == results[0][0]
        for a, b in zip(other[1:], results[0][1:]):
            assert np.array_equal(a, b)


def test_fits_are_bit_identical_with_any_threads(small_blocks):
    X, y = make_problem(6000, 12, seed=5, scales=np.linspace(0.5, 3, 12), offsets=2.0)
    coefs = []
    for n_jobs, blas in ((1, 1), (2, 1), (3, 2), (2, 4)):
        with threadpool_limits(limits=blas, user_api="blas"):
            clf = descend.LogisticRegression(n_jobs=n_jobs).fit(X, y)
        coefs.append(np.append(clf.coef_.ravel(), clf.intercept_))
    for other in coefs[1:]:
        assert np.array_equal(other, coefs[0])


@pytest.mark.slow
def test_the_command_gives_the_same_model_under_load(customers, tmp_path):
    """Two trainings at once, beside a busy process, and one alone: same bits."""
    def train(out):
        return subprocess.Popen([DESCEND_EXE, "train", str(customers), "-t", "churn",
                                 "--impute", "mean", "-o", str(out), "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    burn = subprocess.Popen(["python3", "-c", "import time\nend = time.time() + 20\n"
                             "while time.time() < end: sum(range(10000))"])
    try:
        runs = [train(tmp_path / f"m{k}.json") for k in range(3)]
        assert all(run.wait(timeout=120) == 0 for run in runs)
    finally:
        burn.kill()
    alone = train(tmp_path / "alone.json")
    assert alone.wait(timeout=120) == 0
    models = [json.loads((tmp_path / f"{name}.json").read_text())
              for name in ("m0", "m1", "m2", "alone")]
    for model in models[1:]:
        assert model["coef"] == models[0]["coef"] and model["intercept"] == models[0]["intercept"]
