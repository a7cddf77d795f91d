"""descend against scikit-learn and PyTorch, as ratios measured in one process.

Run with ``make bench``. Prints the machine, library versions and a table:

* epoch: one loss-and-gradient evaluation ÷ one ``X @ w`` (memory-bound read
  of X), on 1,000,000 × 100 float64 and float32;
* time to reach relative objective gap 1e-6 (against an optimum solved to
  1e-12), for descend with its defaults and for every scikit-learn solver with
  its defaults, SGDClassifier and a PyTorch full-batch loop — on (a) 1,000,000
  × 100 features with scales 0.2–5 and offsets, (b) scikit-learn's
  breast-cancer data replicated 200 times, in its raw units;
* peak memory of ``fit`` ÷ size of X;
* then the "files" section (``benchmarks/files.py``): ``descend train`` on
  Parquet and CSV files end to end, as subprocesses, against an Arrow read +
  fit and the scikit-learn script, peak memory, ``--memory-limit``;
* then the "sparse" section (``benchmarks/sparse_text.py``): text-like CSR of
  1,000,000 × 100,000, the epoch ÷ scipy's ``X @ w`` and the time to gap 1e-6
  against every scikit-learn solver that takes sparse input; then
  ``descend train`` on 10,000,000 rows with text columns of 1,000 and 100,000
  levels (categorical codes, ``benchmarks/sparse_codes.py``) against the
  scikit-learn script, peak RSS and wall time.

* then the "multinomial" section (``benchmarks/multinomial.py``): the K-class
  epoch and time to the optimum against scikit-learn's multinomial solvers.
* then the "penalties" section (``benchmarks/penalties.py``): L1 and elastic
  net against saga and liblinear, LogisticRegressionCV against scikit-learn's.
* then the "dask" section (``benchmarks/dask_cluster.py``): descend on a
  two-worker LocalCluster against dask-ml's solvers and against itself in
  memory, with the passes over X and graph submissions per iteration.

``--only solvers``, ``--only files``, ``--only sparse``, ``--only multinomial``,
``--only penalties`` or ``--only dask`` runs one section (penalties: its own row
counts, see its docstring). Set DESCEND_BENCH_ROWS (solvers), DESCEND_BENCH_FILE_ROWS
(files), DESCEND_BENCH_SPARSE_ROWS and DESCEND_BENCH_CODES_ROWS (sparse) to use
fewer rows (for a quick look).
"""
import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
import warnings

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import SGDClassifier
from threadpoolctl import threadpool_info, threadpool_limits

import descend
from descend.engine.objective import Objective

ROWS = int(os.environ.get("DESCEND_BENCH_ROWS", 1_000_000))
FEATURES = 100
C = 1.0
TARGET_GAP = 1e-6
#: A contender whose run, estimated from a tenth of the rows, would take longer
#: than this is reported with that estimate instead of run, so ``make bench``
#: stays under ten minutes; the torch loop stops when its time passes this.
SLOW_LIMIT_S = 45.0
SAMPLED = ("sag", "saga", "liblinear", "SGDClassifier(log_loss)")


def best_time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def interleaved_best_times(read, epoch, two_pass, rounds=4):
    """Best times of X @ w, descend's epoch and the naive two-pass route,
    measured in alternating rounds so that a slow spell of this shared machine
    touches all three rather than one (descend runs with BLAS on one thread,
    as in fit)."""
    best = [np.inf, np.inf, np.inf]
    for _ in range(rounds):
        best[0] = min(best[0], best_time(read))
        with threadpool_limits(limits=1, user_api="blas"):
            best[1] = min(best[1], best_time(epoch))
        best[2] = min(best[2], best_time(two_pass, repeat=2))
    return best


def scaled_problem(m, n, seed=0, dtype=np.float64):
    """Features on scales 0.2–5 with offsets; labels from a logistic model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n), dtype=np.float64)
    w = rng.standard_normal(n) / np.sqrt(n) * 3
    y = (rng.random(m) < 1 / (1 + np.exp(-(X @ w + 0.5)))).astype(np.float64)
    scales = np.geomspace(0.2, 5, n)
    offsets = rng.uniform(-3, 3, n)
    X *= scales
    X += offsets
    return np.ascontiguousarray(X, dtype=dtype), y


def cancer_problem(copies=200):
    X, y = load_breast_cancer(return_X_y=True)
    return np.ascontiguousarray(np.tile(X, (copies, 1))), np.tile(y, copies).astype(np.float64)


def objective_value(X, y, coef, intercept):
    obj = Objective(X, y, l2=1.0 / (C * len(y)))
    return obj.loss_grad(np.append(np.ravel(coef), intercept))[0]


def reference_optimum(X, y):
    """J* from descend run far past the benchmark's tolerance, checked by newton-cholesky."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = descend.LogisticRegression(C=C, tol=1e-16, max_iter=200).fit(X, y)
        sk = SkLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=200).fit(X, y)
    return min(objective_value(X, y, ours.coef_, ours.intercept_[0]),
               objective_value(X, y, sk.coef_, sk.intercept_[0]))


def timed_fit(make, X, y):
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model = make().fit(X, y)
        return model, time.perf_counter() - t0


def torch_loop(X, y, J_star):
    """Full-batch torch.optim.LBFGS on BCEWithLogitsLoss + L2: time until the gap
    is ≤ 1e-6 (the gap check is not timed)."""
    import torch
    torch.set_num_threads(os.cpu_count())
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    # max_eval: torch's default (max_iter·5/4 = 1) leaves the line search no
    # evaluation, and the loop would never move.
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=1, max_eval=25, history_size=10,
                            line_search_fn="strong_wolfe")
    loss_fn = torch.nn.BCEWithLogitsLoss()
    lam = 1.0 / (C * len(y))

    def closure():
        opt.zero_grad()
        loss = loss_fn(Xt @ w + b, yt) + 0.5 * lam * (w @ w)
        loss.backward()
        return loss
    elapsed, gap = 0.0, np.inf
    for _ in range(2000):
        t0 = time.perf_counter()
        opt.step(closure)
        elapsed += time.perf_counter() - t0
        with torch.no_grad():
            gap = (objective_value(X, y, w.numpy(), float(b)) - J_star) / J_star
        if gap <= TARGET_GAP or elapsed > SLOW_LIMIT_S:
            break
    return elapsed, gap


def race(name, X, y):
    """Every contender on one data set; rows of (method, seconds, gap)."""
    J_star = reference_optimum(X, y)
    m = len(y)
    contenders = [("descend (defaults)", lambda: descend.LogisticRegression(C=C))]
    for solver in ("lbfgs", "newton-cholesky", "newton-cg", "sag", "saga", "liblinear"):
        contenders.append((f"sklearn {solver}",
                           lambda s=solver: SkLogisticRegression(C=C, solver=s)))
    contenders.append(("sklearn SGDClassifier(log_loss)",
                       lambda: SGDClassifier(loss="log_loss", alpha=1.0 / (C * m), random_state=0)))
    rows = []
    for label, make in contenders:
        if label.endswith(SAMPLED):
            estimate, sample_gap = _estimated_run(make, X, y)
            if estimate > SLOW_LIMIT_S:
                rows.append((label, estimate, np.nan,
                             f"not run: about {estimate:.0f} s, estimated from a tenth of the "
                             f"rows, where it stopped at gap {sample_gap:.1e}"))
                continue
        model, seconds = timed_fit(make, X, y)
        gap = (objective_value(X, y, model.coef_, model.intercept_[0]) - J_star) / J_star
        rows.append((label, seconds, gap, ""))
        print(f"  {name}: {label:34s} {seconds:8.2f} s  gap {gap:.1e}", file=sys.stderr)
    try:
        seconds, gap = torch_loop(X, y, J_star)
        rows.append(("torch LBFGS loop (full batch)", seconds, gap, ""))
    except ImportError:
        rows.append(("torch LBFGS loop (full batch)", np.nan, np.nan, "torch not installed"))
    return rows


def _estimated_run(make, X, y):
    """Time on a tenth of the rows, scaled up (these solvers are linear in m per
    epoch), and the gap reached there against that tenth's own optimum."""
    k = max(len(y) // 10, 1000)
    model, seconds = timed_fit(make, X[:k], y[:k])
    J_star = reference_optimum(X[:k], y[:k])
    gap = (objective_value(X[:k], y[:k], model.coef_, model.intercept_[0]) - J_star) / J_star
    return seconds * len(y) / k, gap


def epoch_ratios(m):
    rows = []
    for dtype in (np.float64, np.float32):
        X, y = scaled_problem(m, FEATURES, seed=1, dtype=dtype)
        y = y.astype(dtype)  # else the naive route upcasts, and copies X
        w = (np.random.default_rng(2).standard_normal(FEATURES) * 0.1).astype(dtype)
        obj = Objective(X, y, l2=1e-6)
        theta = np.append(w.astype(np.float64), 0.1)
        read, grad, two_pass = interleaved_best_times(
            lambda: X @ w,
            lambda: obj.loss_grad(theta),
            lambda: X.T @ (1 / (1 + np.exp(-(X @ w))) - y))
        rows.append((np.dtype(dtype).name, read, grad, two_pass))
        X = obj = None  # free 800 MB before the next dtype
    return rows


def peak_memory_ratio(X, y):
    gc.collect()
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        descend.LogisticRegression(C=C).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (X.nbytes + peak) / X.nbytes


def main():
    parser = argparse.ArgumentParser(description="descend's benchmarks (make bench)")
    parser.add_argument("--only", choices=["solvers", "files", "sparse", "multinomial",
                                           "penalties", "dask"],
                        help="run one section: the in-process solver race, training "
                             "from files end to end, text-like sparse X, or K classes "
                             "(default: all)")
    only = parser.parse_args().only
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if only in (None, "solvers"):
        solvers()
    if only in (None, "files"):
        import files
        files.main([])
    if only in (None, "sparse"):
        import sparse_text
        sparse_text.main([])
    if only in (None, "multinomial"):
        import multinomial
        multinomial.main()
    if only in (None, "penalties"):
        import penalties
        penalties.main()
    if only in (None, "dask"):
        # its own process, this folder not first on its path (see its docstring)
        import subprocess
        subprocess.run([sys.executable, "-P", os.path.join(os.path.dirname(
            os.path.abspath(__file__)), "dask_cluster.py")], check=True)


def solvers():
    print(f"# descend benchmark — {time.strftime('%Y-%m-%d')}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}; numpy {np.__version__}, scipy {scipy.__version__}, "
          f"scikit-learn {sklearn.__version__}, descend {descend.__version__}", end="")
    try:
        import torch
        print(f", torch {torch.__version__}")
    except ImportError:
        print(", torch absent")
    blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()]
    print(f"BLAS: {blas}\n")

    print(f"## Epoch: loss + gradient ÷ one X @ w ({ROWS:,} × {FEATURES})\n")
    print("| dtype | X @ w | descend epoch | ratio | naive two-pass NumPy | ratio |")
    print("|---|---|---|---|---|---|")
    for dtype, read, grad, naive in epoch_ratios(ROWS):
        print(f"| {dtype} | {read * 1e3:.1f} ms | {grad * 1e3:.1f} ms | **{grad / read:.2f}** | "
              f"{naive * 1e3:.1f} ms | {naive / read:.2f} |")

    datasets = [(f"(a) {ROWS:,} × {FEATURES}, scales 0.2–5 with offsets", *scaled_problem(ROWS, FEATURES)),
                ("(b) breast cancer × 200 (113,800 × 30), raw units", *cancer_problem())]
    for title, X, y in datasets:
        rows = race(title[:3], X, y)
        ours = rows[0][1]
        lbfgs = next(r for r in rows if r[0] == "sklearn lbfgs")[1]
        print(f"\n## Time to relative objective gap {TARGET_GAP:g}: {title}\n")
        print("| method | seconds | final gap | descend ÷ method | note |")
        print("|---|---|---|---|---|")
        for label, seconds, gap, note in rows:
            reached = "" if not np.isfinite(gap) or gap <= TARGET_GAP else \
                f"stopped at gap {gap:.1e} (never reached {TARGET_GAP:g})"
            ratio = "" if not np.isfinite(seconds) else f"{ours / seconds:.2f}" + \
                (" (est.)" if note.startswith("not run") else "")
            gap_text = "" if not np.isfinite(gap) else f"{gap:.1e}"
            sec_text = "" if not np.isfinite(seconds) else f"{seconds:.2f}"
            print(f"| {label} | {sec_text} | {gap_text} | {ratio} | {note or reached} |")
        print(f"\ndescend ÷ sklearn lbfgs (defaults): **{ours / lbfgs:.2f}**")
        print(f"\npeak memory of descend's fit ÷ size of X: "
              f"**{peak_memory_ratio(X, y):.3f}** (X is {X.nbytes / 2**20:.0f} MiB)")
        del X, y
        gc.collect()


if __name__ == "__main__":
    main()
