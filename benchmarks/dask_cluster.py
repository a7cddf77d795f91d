"""The "dask" section of ``make bench``: descend on a Dask cluster against dask-ml.

One ``LocalCluster(n_workers=2, threads_per_worker=1)`` and one dask array
persisted on it, 1,000,000 × 100 in 8 chunks of rows with the solver
section's badly scaled features (scales 0.2–5 with offsets, ``run.scaled_problem``),
C = 1. Prints, measured in one process:

* the seconds of each fit, with its final relative objective gap against
  an optimum solved far tighter (the target is 1e-6): descend on the cluster
  with its defaults, every dask-ml solver with its defaults (newton,
  gradient_descent, lbfgs; admm with ``--admm``, it takes about a minute per
  300,000 rows), and descend in memory on the same NumPy X;
* per iteration, the passes over X and the graph submissions of each: a
  scheduler plugin counts every graph clients submit and every task that
  reads a chunk of X or a copy of one (passes = those tasks ÷ 8; a task
  reading several counts once); an iteration is one of
  descend's, or one gradient evaluation of dask-glm (each of its iterations
  evaluates one);
* the ratios the issue sets: descend ÷ the fastest dask-ml solver (target
  ≤ 0.25) and descend on the cluster ÷ descend in memory (target ≤ 2).

The file is not named ``dask.py``, and ``run.py`` runs it in a process of
its own with ``python -P``: with this folder first on the import path, that
name (as the ``sparse.py`` once beside it did) would hide the packages dask imports.

``python benchmarks/run.py --only dask`` runs it alone; DESCEND_BENCH_DASK_ROWS
sets fewer rows (a quick look).
"""
import os
import sys
import time
import warnings

import numpy as np

# Last on the path, not first: no module here may hide a package dask imports
# (run.py starts this file with python -P).
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
from run import objective_value, reference_optimum, scaled_problem  # noqa: E402

ROWS = int(os.environ.get("DESCEND_BENCH_DASK_ROWS", 1_000_000))
FEATURES = 100
CHUNKS = 8
TARGET_GAP = 1e-6
DASK_ML_SOLVERS = ("newton", "gradient_descent", "lbfgs")


def counter_plugin(chunk_bytes):
    """A scheduler plugin counting graphs and the tasks that read a chunk of X
    (a dependency of at least 90 % of a chunk's bytes: X's own chunks, or a
    copy a solver made of them — descend's aligned copy, dask-ml's
    standardised X)."""
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Counter(SchedulerPlugin):
        name = "descend-bench-counter"

        def __init__(self):
            self.graphs = self.reads = 0

        def update_graph(self, scheduler, **kwargs):
            self.graphs += 1

        def transition(self, key, start, finish, *args, **kwargs):
            if finish != "memory" or not hasattr(self, "scheduler"):
                return
            task = self.scheduler.tasks.get(key)
            if task is not None and any((d.nbytes or 0) >= 0.9 * chunk_bytes
                                        for d in task.dependencies):
                self.reads += 1

        async def start(self, scheduler):
            self.scheduler = scheduler
    return Counter()


def counts(client):
    def read(dask_scheduler):
        plugin = dask_scheduler.plugins["descend-bench-counter"]
        return plugin.graphs, plugin.reads
    return client.run_on_scheduler(read)


class GradientCalls:
    """Counts dask-glm's gradient evaluations (one per iteration of its solvers)."""

    def __enter__(self):
        from dask_glm.families import Logistic
        self.calls, self.saved = 0, {}
        for name in ("gradient",):  # pointwise_gradient calls it too
            original = getattr(Logistic, name)
            self.saved[name] = original

            def counted(*args, _original=original, **kwargs):
                self.calls += 1
                return _original(*args, **kwargs)
            setattr(Logistic, name, staticmethod(counted))
        return self

    def __exit__(self, *exc):
        from dask_glm.families import Logistic
        for name, original in self.saved.items():
            setattr(Logistic, name, staticmethod(original))


def measured(client, fit):
    """(seconds, coef, intercept, iterations, graphs, chunk reads) of ``fit()``."""
    graphs0, reads0 = counts(client)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        coef, intercept, iterations = fit()
        seconds = time.perf_counter() - started
    graphs, reads = counts(client)
    return seconds, coef, intercept, iterations, graphs - graphs0, reads - reads0


def descend_fit(X, y):
    import descend
    model = descend.LogisticRegression(C=1.0).fit(X, y)
    return model.coef_.ravel(), float(model.intercept_[0]), model.n_iter_


def dask_ml_fit(solver, X, y):
    from dask_ml.linear_model import LogisticRegression
    with GradientCalls() as calls:
        model = LogisticRegression(C=1.0, solver=solver).fit(X, y)
    return np.ravel(model.coef_), float(np.ravel(model.intercept_)[0]), calls.calls


def table_rows(client, X, y, dX, dy, J_star, solvers):
    rows = []
    for label, fit in [("descend, dask array", lambda: descend_fit(dX, dy))] + [
            (f"dask-ml {s}", lambda s=s: dask_ml_fit(s, dX, dy)) for s in solvers]:
        seconds, coef, b, iterations, graphs, reads = measured(client, fit)
        gap = (objective_value(X, y, coef, b) - J_star) / J_star
        rows.append((label, seconds, gap, iterations, reads / CHUNKS / max(iterations, 1),
                     graphs / max(iterations, 1)))
    started = time.perf_counter()
    coef, b, iterations = descend_fit(X, y)
    seconds = time.perf_counter() - started
    rows.append(("descend, NumPy in memory", seconds,
                 (objective_value(X, y, coef, b) - J_star) / J_star, iterations, None, None))
    return rows


def main(argv=()):
    import dask
    import dask.array as da
    import dask_ml
    import distributed
    solvers = DASK_ML_SOLVERS + (("admm",) if "--admm" in argv else ())
    X, y = scaled_problem(ROWS, FEATURES)
    J_star = reference_optimum(X, y)
    print(f"\n## Dask: {ROWS:,} × {FEATURES} in {CHUNKS} persisted chunks, "
          "LocalCluster(n_workers=2, threads_per_worker=1), C = 1\n")
    print(f"dask {dask.__version__}, distributed {distributed.__version__}, "
          f"dask-ml {dask_ml.__version__}\n")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        rows_per_chunk = -(-ROWS // CHUNKS)
        dX = da.from_array(X, chunks=(rows_per_chunk, FEATURES))
        dy = da.from_array(y, chunks=rows_per_chunk)
        dX, dy = client.persist([dX, dy])
        distributed.wait([dX, dy])
        client.register_plugin(counter_plugin(rows_per_chunk * FEATURES * X.itemsize))
        rows = table_rows(client, X, y, dX, dy, J_star, solvers)
    print("| method | seconds | final gap | iterations | passes over X / iteration "
          "| graphs / iteration | descend ÷ method |")
    print("|---|---|---|---|---|---|---|")
    ours = rows[0][1]
    for label, seconds, gap, iterations, passes, graphs in rows:
        per_iteration = " | ".join("—" if v is None else f"{v:.2f}" for v in (passes, graphs))
        print(f"| {label} | {seconds:.2f} | {gap:.1e} | {iterations} | {per_iteration} | "
              f"{ours / seconds:.2f} |")
    fastest = min(r[1] for r in rows if r[0].startswith("dask-ml"))
    print(f"\ndescend on the cluster ÷ fastest dask-ml solver: **{ours / fastest:.2f}** "
          "(target ≤ 0.25)")
    print(f"descend on the cluster ÷ descend in memory: **{ours / rows[-1][1]:.2f}** "
          "(target ≤ 2)")


if __name__ == "__main__":
    main(sys.argv[1:])
