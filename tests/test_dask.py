"""Dask input on a real LocalCluster (two worker processes): the same fit as in
memory, deterministic, lazy predictions, and a worker killed mid-fit."""
import os
import signal
import sys

import numpy as np
import pytest

from conftest import make_problem
from descend import LogisticRegression
from descend.exceptions import UsageError

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")


class GraphCounter(distributed.diagnostics.plugin.SchedulerPlugin):
    """A scheduler plugin counting the graphs clients submit."""

    name = "descend-graph-counter"

    def __init__(self):
        self.graphs = 0

    def update_graph(self, scheduler, **kwargs):
        self.graphs += 1


def submitted(dask_scheduler):
    return dask_scheduler.plugins[GraphCounter.name].graphs


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=50)
    with distributed.Client(cluster) as client:
        client.register_plugin(GraphCounter())
        yield client
    cluster.close()


def graphs(client):
    return client.run_on_scheduler(submitted)


def badly_scaled(m=6000, n=8, seed=0, dtype=np.float64):
    return make_problem(m, n, seed, scales=np.logspace(0, 3, n), offsets=np.linspace(0, 50, n),
                        dtype=dtype)


def chunked(X, *others, rows=1500):
    return [da.from_array(X, chunks=(rows, X.shape[1]))] + [
        None if v is None else da.from_array(np.asarray(v), chunks=rows) for v in others]


def exact_objective(est, X, y, sample_weight=None, C=1.0):
    """J at the estimator's coefficients, in float64 and written out apart
    from descend (binary or K classes), its class weights included."""
    from scipy.special import logsumexp
    X = np.asarray(X, dtype=np.float64)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    codes = np.searchsorted(est.classes_, y)
    if est.class_weight is not None:
        from sklearn.utils.class_weight import compute_class_weight
        s = s * compute_class_weight(est.class_weight, classes=est.classes_, y=y,
                                     sample_weight=s)[codes]
    W, b = est.coef_.astype(np.float64), est.intercept_.astype(np.float64)
    Z = X @ W.T + b
    if len(est.classes_) == 2:
        Z = np.column_stack([np.zeros(len(X)), Z[:, 0]])
    losses = logsumexp(Z, axis=1) - Z[np.arange(len(X)), codes]
    penalty = 0 if np.isinf(C) else np.sum(W * W) / (2 * C * s.sum())
    return s @ losses / s.sum() + penalty


def assert_same_fit(on_cluster, in_memory, X, y, sample_weight=None, C=1.0):
    """The same iterations, J (exact, and as the solver saw it in float64) to
    1e-10 relative, the same dtype."""
    assert on_cluster.n_iter_ == in_memory.n_iter_
    J, J_ref = (exact_objective(e, X, y, sample_weight, C) for e in (on_cluster, in_memory))
    assert abs(J - J_ref) <= 1e-10 * J_ref
    if X.dtype == np.float64:  # float32's own sums are good to ~1e-8 only
        seen, seen_ref = on_cluster.history_[-1]["loss"], in_memory.history_[-1]["loss"]
        assert abs(seen - seen_ref) <= 1e-10 * seen_ref
    np.testing.assert_allclose(on_cluster.coef_, in_memory.coef_, rtol=1e-5, atol=1e-8)
    assert on_cluster.coef_.dtype == in_memory.coef_.dtype


# -- the same numbers as in memory ------------------------------------------
@pytest.mark.parametrize("options", [{}, {"C": np.inf}, {"C": 0.01, "preconditioner": "diagonal"},
                                     {"solver": "gd", "learning_rate": 1e-7, "max_iter": 30}])
def test_binary_fit_equals_in_memory(client, options):
    X, y = badly_scaled()
    dX, dy = chunked(X, y)
    assert_same_fit(LogisticRegression(**options).fit(dX, dy),
                    LogisticRegression(**options).fit(X, y), X, y, C=options.get("C", 1.0))


def test_weights_and_class_weights(client):
    X, y = badly_scaled(seed=1)
    s = np.random.default_rng(2).uniform(0, 3, len(y))
    dX, dy, ds = chunked(X, y, s, rows=1000)
    for class_weight in (None, "balanced", {0: 3.0}):
        options = {"class_weight": class_weight}
        assert_same_fit(LogisticRegression(**options).fit(dX, dy, sample_weight=ds),
                        LogisticRegression(**options).fit(X, y, sample_weight=s), X, y, s)


def test_multinomial_with_class_weights(client):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5000, 6)) * np.logspace(0, 2, 6)
    y = np.array(["a", "b", "c"])[np.argmax(X[:, :3] / np.logspace(0, 2, 6)[:3]
                                            + rng.standard_normal((5000, 3)), axis=1)]
    dX, dy = chunked(X, y, rows=1300)  # uneven chunks: 1300, 1300, 1300, 1100
    for options in ({}, {"class_weight": "balanced"}):
        on_cluster = LogisticRegression(**options).fit(dX, dy)
        assert_same_fit(on_cluster, LogisticRegression(**options).fit(X, y), X, y)
        assert on_cluster.classes_.tolist() == ["a", "b", "c"]


def test_float32_stays_float32(client):
    X, y = badly_scaled(dtype=np.float32)
    dX, dy = chunked(X, y)
    on_cluster = LogisticRegression().fit(dX, dy)
    assert_same_fit(on_cluster, LogisticRegression().fit(X, y), X, y)
    assert on_cluster.predict_proba(dX).dtype == np.float32


def test_dataframe_of_numeric_columns(client):
    import pandas as pd
    X, y = badly_scaled()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    ddf = dd.from_pandas(frame, npartitions=4)
    on_cluster = LogisticRegression().fit(ddf, dd.from_pandas(pd.Series(y), npartitions=4))
    assert on_cluster.feature_names_in_.tolist() == list(frame.columns)
    assert_same_fit(on_cluster, LogisticRegression().fit(frame, y), X, y)
    text = ddf.assign(city="Paris")
    with pytest.raises(ValueError, match=r"\['city'\] are not numeric"):
        LogisticRegression().fit(text, y)


def test_deterministic_bits(client):
    X, y = badly_scaled(seed=4)
    dX, dy = chunked(X, y, rows=700)
    dX, dy = client.persist([dX, dy])
    first = LogisticRegression().fit(dX, dy)
    second = LogisticRegression().fit(dX, dy)
    assert np.array_equal(first.coef_, second.coef_)
    assert [h["loss"] for h in first.history_] == [h["loss"] for h in second.history_]


def test_one_graph_per_evaluation(client):
    """loss and gradient: one submission; the curvature: one more."""
    from descend.cluster.arrays import make_objective, validate_training_data
    X, y = badly_scaled()
    est = LogisticRegression()
    dX, codes, s = validate_training_data(est, *chunked(X, y), None, True, None)
    objective = make_objective(est, dX, codes, s)
    theta = np.full(objective.n_params, 1e-3)
    before = graphs(client)
    objective.loss_grad(theta)
    assert graphs(client) == before + 1
    objective.curvature(theta)
    assert graphs(client) == before + 2


def test_objective_equals_in_memory(client):
    """J, ∇J, curvature, bound, moments and row samples: the in-memory values."""
    from descend.cluster.arrays import make_objective, validate_training_data
    from descend.engine.objective import Objective
    from descend.optim.precondition import NoPreconditioner
    X, y = badly_scaled()
    s = np.random.default_rng(5).uniform(0, 2, len(y))
    est = LogisticRegression().fit(X[:50], y[:50])
    dX, codes, ds = validate_training_data(est, *chunked(X, y, s), True, None)
    objective = make_objective(est, dX, codes, ds)
    reference = Objective(X, y.astype(float), s, l2=objective.l2)
    theta = np.random.default_rng(6).standard_normal(objective.n_params) * 1e-2
    for mine, theirs in zip(objective.loss_grad(theta), reference.loss_grad(theta)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    for point in (None, theta):
        np.testing.assert_allclose(objective.curvature(point), reference.curvature(point),
                                   rtol=1e-11)
    np.testing.assert_allclose(objective.diagonal_scaling(), reference.diagonal_scaling(),
                               rtol=1e-11)
    assert objective.bound_operator(500)(theta) == pytest.approx(
        reference.bound_operator(500)(theta), rel=1e-12)
    assert objective.largest_row_curvature(NoPreconditioner(), 500) == pytest.approx(
        reference.largest_row_curvature(NoPreconditioner(), 500), rel=1e-12)


def test_sampled_refresh_equals_in_memory(client, monkeypatch):
    """A refreshed curvature over every k-th row of X (each chunk told where it
    starts: 1,100 rows, not a multiple of k; the last 500): the in-memory
    matrix, and the same fit."""
    import descend.engine.objective as objective_module
    from descend.cluster.arrays import make_objective, validate_training_data
    from descend.engine.objective import Objective
    monkeypatch.setattr(objective_module, "HESSIAN_ROWS_PER_PARAM", 50)
    X, y = badly_scaled(seed=7)
    s = np.random.default_rng(8).uniform(0, 2, len(y))
    est = LogisticRegression().fit(X[:50], y[:50])
    dX, codes, ds = validate_training_data(est, *chunked(X, y, s, rows=1100), True, None)
    objective = make_objective(est, dX, codes, ds)
    reference = Objective(X, y.astype(float), s, l2=objective.l2)
    assert objective.hessian_stride == reference.hessian_stride == 13  # 6,000 // (50 × 9)
    theta = np.random.default_rng(9).standard_normal(objective.n_params) * 1e-2
    sampled = objective.curvature(theta)
    np.testing.assert_allclose(sampled, reference.curvature(theta), rtol=1e-11)
    reference.hessian_stride = 1
    assert np.max(np.abs(sampled - reference.curvature(theta))) > 1e-8  # it was sampled
    dX, dy, ds = chunked(X, y, s, rows=1100)
    assert_same_fit(LogisticRegression().fit(dX, dy, sample_weight=ds),
                    LogisticRegression().fit(X, y, sample_weight=s), X, y, s)


def test_minibatches_and_partial_fit(client):
    X, y = badly_scaled(m=2000)
    dX, dy = chunked(X, y, rows=500)
    options = {"batch_size": 500, "max_iter": 3, "random_state": 0, "tol": 0}
    on_cluster = LogisticRegression(**options).fit(dX, dy)
    np.testing.assert_allclose(on_cluster.coef_, LogisticRegression(**options).fit(X, y).coef_,
                               rtol=1e-9)
    partial, in_memory = LogisticRegression(), LogisticRegression()
    for _ in range(3):
        partial.partial_fit(dX, dy, classes=[0, 1])
        in_memory.partial_fit(X, y, classes=[0, 1])
    np.testing.assert_allclose(partial.coef_, in_memory.coef_, rtol=1e-9)


def test_resume_from_a_state(client):
    """Stopped at iteration 4, resumed from its state: the uninterrupted fit's bits."""
    X, y = badly_scaled(seed=7)
    dX, dy = client.persist(chunked(X, y))
    whole = LogisticRegression().fit(dX, dy)

    def stop(state):
        if state.iteration == 4:
            raise KeyboardInterrupt
    saved = []
    with pytest.raises(KeyboardInterrupt):
        LogisticRegression(callback=lambda st: (saved.append(st), stop(st))).fit(dX, dy)
    resumed = LogisticRegression().fit(dX, dy, solver_state=saved[-1])
    assert np.array_equal(resumed.coef_, whole.coef_)
    assert resumed.n_iter_ == whole.n_iter_


# -- predictions ------------------------------------------------------------
def test_predictions_stay_lazy(client):
    X, y = badly_scaled()
    rng = np.random.default_rng(8)
    y3 = rng.integers(0, 3, len(y))
    dX, _ = chunked(X, y)
    for labels in (y, y3):
        fitted = LogisticRegression(max_iter=50).fit(X, labels)
        for method in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
            lazy = getattr(fitted, method)(dX)
            assert isinstance(lazy, da.Array), method
            assert lazy.chunks[0] == dX.chunks[0]
            np.testing.assert_allclose(lazy.compute(), getattr(fitted, method)(X), rtol=1e-12)


def test_predictions_check_the_columns(client):
    X, y = badly_scaled()
    fitted = LogisticRegression(max_iter=20).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(da.from_array(X[:, :3], chunks=(1000, 3)))


# -- faults -----------------------------------------------------------------
def test_a_worker_killed_mid_fit_changes_nothing(client):
    """SIGKILL one worker process at iteration 3; Dask recomputes its chunks
    from their source (a seeded random array) and the fit is the same bits."""
    def source():
        rng = da.random.default_rng(11)
        X = rng.standard_normal((8000, 6), chunks=(1000, 6)) * np.logspace(0, 2, 6)
        logit = X @ (np.linspace(-1, 1, 6) / np.logspace(0, 2, 6))
        y = (rng.random(8000, chunks=1000) < 1 / (1 + np.exp(-logit))).astype(float)
        return X, y
    X, y = client.persist(list(source()))
    undisturbed = LogisticRegression(preconditioner="diagonal").fit(X, y)
    X, y = client.persist(list(source()))
    victims = list(client.run(os.getpid).items())

    def kill(state):
        if state.iteration == 3:
            os.kill(victims[0][1], signal.SIGKILL)
    disturbed = LogisticRegression(preconditioner="diagonal", callback=kill).fit(X, y)
    assert disturbed.n_iter_ > 3
    assert np.array_equal(disturbed.coef_, undisturbed.coef_)
    assert np.array_equal(disturbed.intercept_, undisturbed.intercept_)
    client.wait_for_workers(2, timeout=60)
    assert victims[0][1] not in client.run(os.getpid).values()  # it did die


def test_without_dask_the_error_names_the_extra(monkeypatch):
    from descend.cluster.arrays import require_dask
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UsageError, match=r"pip install descend\[dask\]"):
        require_dask()


# -- the command line -------------------------------------------------------
@pytest.fixture(scope="module")
def parquet_folder(tmp_path_factory):
    """Three Parquet files: numbers in three scales, a text column, text labels."""
    import pandas as pd
    folder = tmp_path_factory.mktemp("dask-cli") / "train"
    folder.mkdir()
    rng = np.random.default_rng(12)
    for k in range(3):
        X = rng.standard_normal((1500, 3))
        city = rng.choice(["Paris", "Lyon", "Nice"], 1500)
        logit = X @ [1.0, -2.0, 0.5] + (city == "Paris")
        label = np.where(logit + rng.standard_normal(1500) > 0, "yes", "no")
        pd.DataFrame({"a": X[:, 0], "b": X[:, 1] * 1000, "c": X[:, 2] + 50, "city": city,
                      "label": label}).to_parquet(folder / f"part{k}.parquet")
    return folder


def descend(*args):
    import subprocess
    from conftest import DESCEND_EXE
    return subprocess.run([DESCEND_EXE, *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_cli_train_predict_round_trip(client, parquet_folder, tmp_path):
    """train --dask local → predict and evaluate on the cluster: the model and
    predictions of the single-machine commands."""
    import json

    import pandas as pd
    on_cluster, in_memory = tmp_path / "cluster.json", tmp_path / "memory.json"
    done = descend("train", parquet_folder, "--target", "label", "-o", on_cluster,
                   "--dask", "local", "-q")
    assert done.returncode == 0, done.stderr
    assert descend("train", parquet_folder, "--target", "label", "-o", in_memory,
                   "-q").returncode == 0
    mine, theirs = (json.loads(p.read_text()) for p in (on_cluster, in_memory))
    ours, single = mine["preprocessing"], theirs["preprocessing"]
    assert ours["categorical"] == single["categorical"]
    for key in ("mean", "scale"):  # partition statistics merged: the same to rounding
        np.testing.assert_allclose(ours["numeric"][key], single["numeric"][key], rtol=1e-12)
    np.testing.assert_allclose(mine["coef"], theirs["coef"], rtol=1e-8)
    assert mine["summary"]["iterations"] == theirs["summary"]["iterations"]

    predictions = tmp_path / "predictions"
    done = descend("predict", on_cluster, parquet_folder, "-o", predictions,
                   "--dask", client.scheduler.address)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in predictions.iterdir()) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert descend("predict", in_memory, parquet_folder, "-o", tmp_path / "p.parquet"
                   ).returncode == 0
    parts, whole = pd.read_parquet(predictions), pd.read_parquet(tmp_path / "p.parquet")
    assert (parts["predicted"] == whole["predicted"]).all()
    np.testing.assert_allclose(parts["probability_yes"], whole["probability_yes"], rtol=1e-9)

    done = descend("evaluate", on_cluster, parquet_folder, "--dask", client.scheduler.address)
    assert done.returncode == 0, done.stderr
    assert done.stdout == descend("evaluate", on_cluster, parquet_folder).stdout


def test_cli_scheduler_unreachable_is_one_line(parquet_folder, tmp_path):
    import socket
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    done = descend("train", parquet_folder, "--target", "label", "--dask",
                   f"tcp://127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("descend: error: --dask")
    assert "no Dask scheduler answers" in done.stderr
    done = descend("predict", tmp_path / "m.json", parquet_folder, "-o", tmp_path / "out",
                   "--dask", "somewhere")
    assert done.returncode == 2 and "give 'local'" in done.stderr


def test_partition_statistics_merge_as_one_pass():
    """TableStatistics of two parts merged = one pass over both (the cluster's
    preprocessing statistics): moments, counts, gaps and the first bad value's row."""
    import pyarrow as pa
    from descend.data.statistics import TableStatistics
    rng = np.random.default_rng(13)
    # the first part's text is all numbers: the first word is in the second
    parts = [pa.table({"x": pa.array(np.append(rng.normal(5, 3, 400), np.nan)),
                       "c": pa.array(list(rng.choice(words, 400)) + [words[0]])})
             for words in (["1", "2", None], ["a", "b", None])]
    whole = TableStatistics(["x"], ["c"])
    for part in parts:
        whole.update(part)
    first, second = TableStatistics(["x"], ["c"]), TableStatistics(["x"], ["c"])
    first.update(parts[0])
    second.update(parts[1])
    first.merge(second)
    for name in ("count", "missing", "infinite", "largest"):
        assert getattr(first.numeric["x"], name) == getattr(whole.numeric["x"], name)
    assert first.numeric["x"].mean == pytest.approx(whole.numeric["x"].mean, rel=1e-14)
    assert first.numeric["x"].m2 == pytest.approx(whole.numeric["x"].m2, rel=1e-12)
    assert first.categorical["c"].value_counts()[0] == whole.categorical["c"].value_counts()[0]
    assert first.categorical["c"].value_counts()[1].tolist() == \
        whole.categorical["c"].value_counts()[1].tolist()
    for name in ("missing", "present", "numbers", "example"):
        assert getattr(first.categorical["c"], name) == getattr(whole.categorical["c"], name)
    assert whole.categorical["c"].example[0] >= 401
    assert first.rows == whole.rows == 802
