"""High-cardinality categories through the command line: ``descend train``
end to end against the scikit-learn script, as real subprocesses.

The second half of the "sparse" section (``benchmarks/sparse_text.py`` runs it
after the text-like CSR; alone: ``python benchmarks/sparse_codes.py
[--rows N]``, or DESCEND_BENCH_CODES_ROWS). Into a temporary folder (deleted
afterwards) it writes, with seeded NumPy and Arrow kernels only, a Parquet
file of ``--rows`` rows (default 10,000,000): 10 float64 columns on different
means and scales, a text column of 1,000 levels and one of 100,000 (uniform
levels, N(0, 0.5²) and N(0, 0.3²) effects) and a yes/no target. Then, each as
its own process:

* ``descend train FILE --target target -o OUT -q`` (the codes route, chosen
  by ``--categorical auto``), which holds the Arrow table in memory while it
  fits, and the same with ``--memory-limit`` (``STREAM_LIMIT``, enough for
  the numeric block in memory), which streams the file in each pass instead:
  at these shapes the table of text is larger than the codes that replace it;
* the scikit-learn script a practitioner would write: pandas'
  ``read_parquet``, StandardScaler on the numbers and a sparse
  OneHotEncoder(handle_unknown="ignore") on the text in a ColumnTransformer
  (sparse output), LogisticRegression(C=1) with the fastest of its solvers
  that take sparse input (lbfgs, newton-cg, sag, saga, liblinear): each runs
  first on a tenth of the rows, and the fastest there runs on all of them.

Printed: peak RSS of ``descend train`` ÷ (the numeric block + the code
columns as descend holds them: float64 numbers and int32 codes) against the
target 1.3 × + 400 MB, the wall time ratio against the target 0.3, and how
far apart the two fits' training log-losses are. Peak RSS and wall time are
measured as in ``benchmarks/files.py`` (``os.wait4``'s ru_maxrss).
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from files import DESCEND, GiB, MiB, available_memory, enough_memory, measure  # noqa: E402

ROWS = int(os.environ.get("DESCEND_BENCH_CODES_ROWS", 10_000_000))
NUMERIC = 10
LEVELS = {"shop": 1_000, "product": 100_000}
SEED = 20261202
CHUNK_ROWS = 1_000_000
C = 1.0
SOLVERS = ("lbfgs", "newton-cg", "sag", "saga", "liblinear")
RSS_FACTOR, RSS_EXTRA, RATIO_MAX = 1.3, 400 * MiB, 0.3
#: Memory a scikit-learn run needs per row (pandas frame with Python strings,
#: sparse one-hot X, the solver's copies), to check before starting it.
SKLEARN_BYTES_PER_ROW = 1500


def stream_limit(block):
    """A --memory-limit that keeps the numeric block in memory (≤ half of it)."""
    return f"{max(2 * GiB, 4 * block) // MiB}MB"


def generate(rows, path):
    """Write ``rows`` rows as Parquet, a million at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(SEED)
    means = np.round(10 ** rng.uniform(-1, 3, NUMERIC), 2)
    scales = np.geomspace(0.1, 500, NUMERIC)
    weights = rng.normal(0, 0.5, NUMERIC)
    effects = {name: rng.normal(0, 0.5 if k < 10_000 else 0.3, k) for name, k in LEVELS.items()}
    names = {name: pa.array([f"{name}_{i:06d}" for i in range(k)]) for name, k in LEVELS.items()}
    writer = None
    try:
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            z = rng.standard_normal((NUMERIC, n))
            columns = {f"x{j}": pa.array(means[j] + scales[j] * z[j]) for j in range(NUMERIC)}
            logit = weights @ z - 0.2
            for name, k in LEVELS.items():
                codes = rng.integers(0, k, n)
                logit += effects[name][codes]
                columns[name] = names[name].take(pa.array(codes))
            positive = rng.random(n) < 1 / (1 + np.exp(-logit))
            columns["target"] = pa.array(["no", "yes"]).take(pa.array(positive.astype(np.int8)))
            table = pa.table(columns)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=CHUNK_ROWS)
    finally:
        if writer is not None:
            writer.close()


def worker_sklearn(path, solver, rows):
    """The scikit-learn script (the first ``rows`` rows of the file)."""
    import warnings

    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    if int(rows) < len(df):
        df = df.head(int(rows))
    y = df.pop("target")
    numeric = df.select_dtypes("number").columns.tolist()
    categorical = [c for c in df.columns if c not in numeric]
    model = make_pipeline(
        ColumnTransformer([("num", StandardScaler(), numeric),
                           ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]),
        LogisticRegression(solver=solver, C=C))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(df, y)
    seconds = time.perf_counter() - t0
    loss = log_loss(y, model.predict_proba(df)[:, 1], labels=["no", "yes"])
    clf = model[-1]
    print(json.dumps({"seconds": seconds, "n_iter": int(np.max(clf.n_iter_)), "log_loss": loss,
                      "warnings": sorted({type(w.message).__name__ for w in caught})}))


def fastest_solver(path, rows, tmp, skipped):
    """The scikit-learn solver fastest on a tenth of the rows (and their runs)."""
    tenth = max(rows // 10, 1000)
    trials = {}
    for solver in SOLVERS:
        if enough_memory(SKLEARN_BYTES_PER_ROW * tenth + 400 * MiB, f"scikit-learn {solver} "
                         f"({tenth:,} rows)", skipped):
            run = measure(f"scikit-learn {solver} ({tenth:,} rows)",
                          [sys.executable, str(HERE), "--worker", str(path), solver, str(tenth)],
                          tmp)
            if run.ok:
                trials[solver] = run
    best = min(trials, key=lambda s: trials[s].seconds) if trials else None
    return best, trials, tenth


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=ROWS, help="rows of the Parquet file")
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker_sklearn(*args.worker)
    import descend
    rows = args.rows
    block = rows * (NUMERIC * 8 + len(LEVELS) * 4)   # float64 numbers, int32 codes
    print(f"\n# Sparse: categorical codes through the CLI — {time.strftime('%Y-%m-%d')}\n")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {available_memory() / GiB:.1f} "
          f"GiB available at the start; descend {descend.__version__}")
    print(f"data: {rows:,} rows × ({NUMERIC} float64 columns, text columns of "
          f"{' and '.join(f'{k:,}' for k in LEVELS.values())} levels, yes/no target) as Parquet; "
          f"numeric block + code columns {block / MiB:.0f} MiB (one-hot float64 X would be "
          f"{rows * (NUMERIC + sum(LEVELS.values())) * 8 / GiB:,.0f} GiB)\n")
    skipped = []
    with tempfile.TemporaryDirectory(prefix="descend-bench-codes-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        generate(rows, tmp / "data.parquet")
        print(f"  generated in {time.perf_counter() - t0:.1f} s: "
              f"{(tmp / 'data.parquet').stat().st_size / MiB:.0f} MiB", file=sys.stderr)
        ours = measure("descend train", [DESCEND, "train", str(tmp / "data.parquet"), "--target",
                                         "target", "-o", str(tmp / "model.json"), "-q"], tmp)
        model = json.loads((tmp / "model.json").read_text()) if ours.ok else None
        limit = stream_limit(block)
        streamed = measure(f"descend train --memory-limit {limit}",
                           [DESCEND, "train", str(tmp / "data.parquet"), "--target", "target",
                            "-o", str(tmp / "streamed.json"), "-q", "--memory-limit", limit], tmp)
        streamed.label = f"descend train --memory-limit {limit}"
        best, trials, tenth = fastest_solver(tmp / "data.parquet", rows, tmp, skipped)
        theirs = None
        if best and enough_memory(SKLEARN_BYTES_PER_ROW * rows + 400 * MiB,
                                  f"scikit-learn {best} ({rows:,} rows)", skipped):
            theirs = measure(f"scikit-learn {best} ({rows:,} rows)",
                             [sys.executable, str(HERE), "--worker", str(tmp / "data.parquet"),
                              best, str(rows)], tmp)
        streamed.model = json.loads((tmp / "streamed.json").read_text()) if streamed.ok else None
    ours.model, ours.label = model, "descend train"
    print_results(block, [ours, streamed], best, trials, tenth, theirs, skipped)


def _descend_row(run):
    s = run.model["summary"]
    print(f"| {run.label} | {run.seconds:.1f} | {run.peak_rss / MiB:,.0f} MiB | "
          f"{s['iterations']} iterations, {'converged' if s['converged'] else 'NOT converged'}"
          f"; read {s['timings']['read']:.1f} s, prepared {s['timings']['prepare']:.1f} s, "
          f"fitted {s['timings']['fit']:.1f} s; {run.model['preprocessing']['encoding']}, "
          f"{s['features_out']:,} features; log-loss {s['train']['log_loss']:.6f} |")


def print_results(block, runs, best, trials, tenth, theirs, skipped):
    print("| command | wall s | peak RSS | notes |")
    print("|---|---|---|---|")
    for run in runs:
        if run.ok:
            _descend_row(run)
    for solver, run in trials.items():
        r = run.json()
        print(f"| scikit-learn {solver}, {tenth:,} rows | {run.seconds:.1f} | "
              f"{run.peak_rss / MiB:,.0f} MiB | {r['n_iter']} iterations {r['warnings']} |")
    if theirs is not None and theirs.ok:
        r = theirs.json()
        print(f"| scikit-learn {best}, all rows | {theirs.seconds:.1f} | "
              f"{theirs.peak_rss / MiB:,.0f} MiB | {r['n_iter']} iterations {r['warnings']}; "
              f"log-loss {r['log_loss']:.6f} |")
    print()
    allowed = RSS_FACTOR * block + RSS_EXTRA
    for run in (r for r in runs if r.ok):
        print(f"{run.label}: peak RSS ÷ (numeric block + codes) = {run.peak_rss / block:.2f} ×, "
              f"{run.peak_rss / MiB:,.0f} MiB; target ≤ {RSS_FACTOR} × + 400 MB = "
              f"{allowed / MiB:,.0f} MiB: {'met' if run.peak_rss <= allowed else 'NOT met'}")
        if theirs is not None and theirs.ok:
            ratio = run.seconds / theirs.seconds
            print(f"  end to end ÷ scikit-learn {best} = **{ratio:.2f}**; target ≤ {RATIO_MAX}: "
                  f"{'met' if ratio <= RATIO_MAX else 'NOT met'}")
    if theirs is not None and theirs.ok and runs[0].ok:
        print(f"training log-loss: descend {runs[0].model['summary']['train']['log_loss']:.8f}, "
              f"scikit-learn {theirs.json()['log_loss']:.8f}")
    for line in skipped:
        print(f"- {line}")


if __name__ == "__main__":
    main()
