"""Train from a file end to end: what a user runs, timed as real subprocesses.

Run alone with ``python benchmarks/files.py [--rows N]``, or as the "files"
section of ``make bench`` (``benchmarks/run.py``; ``--only files`` runs just
this one). Into a temporary folder (deleted afterwards) it writes, with seeded
NumPy and Arrow kernels only, a Parquet file of ``--rows`` rows (default
5,000,000): 15 float64 columns on different means and scales with about 1 %
missing values each, 3 text columns of 5, 20 and 50 levels and a yes/no
target that depends on some of them, and the same table as CSV. Then, each as
its own process:

* ``descend train FILE --target target --impute mean -o OUT -q``, on Parquet
  and on CSV;
* reference A, the yardstick: a script that reads the file with Arrow
  (``pyarrow.parquet.read_table`` / ``pyarrow.csv.read_csv``) and fits
  ``descend.LogisticRegression()`` on the ready float64 design matrix; only
  read + fit are counted (descend's preprocessing, which builds that matrix,
  is not);
* reference B, the scikit-learn script a practitioner would write (pandas
  reader, SimpleImputer + StandardScaler and OneHotEncoder in a
  ColumnTransformer, LogisticRegression) with ``lbfgs`` and with
  ``newton-cholesky``, both with their default settings;
* ``--memory-limit 1GB`` on a second Parquet file (``--big-rows``, default
  8,500,000 rows, same columns) whose float32 design matrix is over 3 GB,
  against the in-memory float32 run (``--dtype float32``) on the same file;
* ``descend --help``, best of five.

Memory of a process: peak RSS is the child's own ``ru_maxrss`` as returned by
``os.wait4`` for that one process (the kernel's high-water mark of its
resident set, read when it is reaped: nothing is missed between samples, and
other children of this script do not mix in). Peak anonymous memory (heap,
not the pages of a mapped file) has no high-water mark in Linux, so
``RssAnon`` in /proc/PID/status is sampled every 20 ms and the largest sample
kept. Sizes are binary: 1 GB = 2**30 bytes, as descend's --memory-limit
reads it.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent
DESCEND = str(BIN / "descend") if (BIN / "descend").exists() else None
HERE = Path(__file__).resolve()

DEFAULT_ROWS = 5_000_000
ROWS = int(os.environ.get("DESCEND_BENCH_FILE_ROWS", DEFAULT_ROWS))
BIG_ROWS = 8_500_000
SEED = 20261127
CHUNK_ROWS = 1_000_000
NUMERIC = 15
LEVELS = {"region": 5, "plan": 20, "city": 50}
FEATURES_OUT = NUMERIC + sum(LEVELS.values())  # 90 columns of X
MISSING = 0.01
GiB, MiB = 2**30, 2**20
POLL_S = 0.02

# Targets: the data-path issue's (see benchmarks/README.md).
RATIO_A_MAX = 1.5        # descend train ÷ (Arrow read + fit)
RATIO_B_MAX = 0.3        # descend train ÷ the faster scikit-learn script (the target)
RSS_FACTOR, RSS_EXTRA = 1.3, 400 * MiB   # peak RSS ≤ 1.3 × X (float64) + 400 MB
MAPPED_LIMIT = "1GB"
ANON_MAX = 1.2 * GiB     # peak RssAnon of the --memory-limit 1GB run
COEF_RTOL = 1e-6         # mapped vs in-memory float32 coefficients
MAPPED_RATIO_MAX = 2.0   # mapped ÷ in-memory wall time
HELP_MAX_S = 0.5         # descend --help, best of 5

# Memory a run needs, to check before starting it (bytes per row, + fixed).
SKLEARN_BYTES_PER_ROW = 2000      # pandas frame, dense numeric copies, sparse X
DESCEND_BYTES_PER_ROW_F64 = 1.3 * FEATURES_OUT * 8 + 250   # X + the Arrow table
# float32 X, and the float64 copy of it that descend's training metrics make
DESCEND_BYTES_PER_ROW_F32 = FEATURES_OUT * (4 + 8) + 300
DESCEND_MAPPED_BYTES_PER_ROW = FEATURES_OUT * 8 + 200


# -- data -------------------------------------------------------------------
def _spec():
    """Means, scales and effects shared by every file (fixed by the seed)."""
    rng = np.random.default_rng(SEED)
    means = rng.choice([-1, 1], NUMERIC) * np.round(10 ** rng.uniform(-2, 4, NUMERIC), 2)
    scales = np.geomspace(0.01, 5000, NUMERIC)
    rng.shuffle(scales)
    weights = np.zeros(NUMERIC)
    weights[[0, 1, 4, 9, 12]] = [1.2, -0.8, 0.5, 0.3, -0.4]
    effects = {name: rng.normal(0, 0.6, k) if name != "plan" else np.zeros(k)
               for name, k in LEVELS.items()}
    probs = {name: (p := 1 / np.arange(1, k + 1) ** 0.7) / p.sum() for name, k in LEVELS.items()}
    return means, scales, weights, effects, probs


def _chunk(rng, n, spec):
    import pyarrow as pa
    means, scales, weights, effects, probs = spec
    z = rng.standard_normal((NUMERIC, n))
    columns = {}
    for j in range(NUMERIC):
        missing = rng.random(n) < MISSING
        columns[f"x{j:02d}"] = pa.array(means[j] + scales[j] * z[j], mask=missing)
    logit = weights @ z - 0.3
    for name, k in LEVELS.items():
        codes = rng.choice(k, size=n, p=probs[name]).astype(np.int32)
        logit += effects[name][codes]
        levels = pa.array([f"{name}_{i:02d}" for i in range(k)])
        columns[name] = levels.take(pa.array(codes))
    positive = rng.random(n) < 1 / (1 + np.exp(-logit))
    columns["target"] = pa.array(["no", "yes"]).take(pa.array(positive.astype(np.int8)))
    return pa.table(columns)


def generate(rows, parquet_path, csv_path=None, seed=1):
    """Write ``rows`` rows as Parquet (and as CSV), a million rows at a time."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    spec = _spec()
    rng = np.random.default_rng([SEED, seed])
    parquet = csv = None
    try:
        for start in range(0, rows, CHUNK_ROWS):
            table = _chunk(rng, min(CHUNK_ROWS, rows - start), spec)
            if parquet is None:
                parquet = pq.ParquetWriter(parquet_path, table.schema)
                csv = pacsv.CSVWriter(csv_path, table.schema) if csv_path else None
            parquet.write_table(table, row_group_size=CHUNK_ROWS)
            if csv is not None:
                csv.write_table(table)
    finally:
        for writer in (parquet, csv):
            if writer is not None:
                writer.close()


# -- measuring a process ------------------------------------------------------
class Run:
    """One finished subprocess: wall time, peak RSS, peak sampled RssAnon, output."""

    def __init__(self, label, seconds, peak_rss, peak_anon, returncode, stdout, stderr):
        self.label, self.seconds = label, seconds
        self.peak_rss, self.peak_anon = peak_rss, peak_anon
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    @property
    def ok(self):
        return self.returncode == 0

    def json(self):
        """The last line of standard output, as JSON (the worker scripts' result)."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def _status_kib(pid, keys):
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            found[key] = int(value.split()[0]) * 1024
    return found


def measure(label, argv, workdir):
    """Run ``argv`` as a child process; wall time from start to reaping, peak RSS
    from ``os.wait4``'s rusage of that child, RssAnon sampled every 20 ms."""
    out_path, err_path = Path(workdir) / "stdout.txt", Path(workdir) / "stderr.txt"
    peak_anon = [0]
    done = threading.Event()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

        def sample():
            while not done.is_set():
                anon = _status_kib(proc.pid, ("RssAnon",)).get("RssAnon", 0)
                peak_anon[0] = max(peak_anon[0], anon)
                done.wait(POLL_S)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    run = Run(label, seconds, usage.ru_maxrss * 1024, peak_anon[0], proc.returncode,
              out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))
    print(f"  {label:48s} {seconds:7.2f} s  peak RSS {run.peak_rss / GiB:5.2f} GiB  "
          f"anon {run.peak_anon / GiB:5.2f} GiB" + ("" if run.ok else f"  EXIT {run.returncode}"),
          file=sys.stderr, flush=True)
    if not run.ok:
        print(f"    stderr: {run.stderr.strip()[-2000:]}", file=sys.stderr)
    return run


def available_memory():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def enough_memory(needed, what, skipped):
    free = available_memory()
    if free is not None and free < needed:
        skipped.append(f"{what}: not run, needs about {needed / GiB:.1f} GiB and "
                       f"{free / GiB:.1f} GiB is available")
        print(f"  {skipped[-1]}", file=sys.stderr)
        return False
    return True


# -- the worker scripts (run as subprocesses of this file) ---------------------
def worker_reference_a(path):
    """Arrow read (timed) → descend's preprocessing (not timed) → fit (timed)."""
    t0 = time.perf_counter()
    import pyarrow.compute as pc
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq
        table = pq.read_table(path)
    else:
        import pyarrow.csv as pacsv
        table = pacsv.read_csv(path)
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    from descend.data.preprocess import Preprocessor
    y = pc.equal(table.column("target"), "yes").to_numpy(zero_copy_only=False).astype(np.float64)
    _, X = Preprocessor.fit(table.drop_columns(["target"]), impute="mean")
    del table
    prepare = time.perf_counter() - t0
    import descend
    t0 = time.perf_counter()
    model = descend.LogisticRegression().fit(X, y)
    fit = time.perf_counter() - t0
    print(json.dumps({"read": read, "prepare": prepare, "fit": fit, "n_iter": int(model.n_iter_),
                      "converged": bool(model.converged_), "coef": model.coef_.ravel().tolist(),
                      "intercept": float(model.intercept_[0])}))


def worker_sklearn(path, solver):
    """The script a practitioner would write with pandas and scikit-learn."""
    import warnings

    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    t0 = time.perf_counter()
    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    read = time.perf_counter() - t0
    y = df.pop("target")
    numeric = df.select_dtypes("number").columns.tolist()
    categorical = [c for c in df.columns if c not in numeric]
    model = make_pipeline(
        ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]),
        LogisticRegression(solver=solver))
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(df, y)
    fit = time.perf_counter() - t0
    clf = model[-1]
    print(json.dumps({"read": read, "prepare_and_fit": fit, "n_iter": int(clf.n_iter_[0]),
                      "max_iter": clf.max_iter, "warnings": sorted({type(w.message).__name__
                                                                    for w in caught}),
                      "coef": clf.coef_.ravel().tolist(), "intercept": float(clf.intercept_[0])}))


# -- the section -----------------------------------------------------------------
def warm_up(tmp, py, rows=20_000):
    """Run every timed command once on a small file first, so that Numba's
    on-disk cache of compiled kernels is filled: the timed runs then measure
    what a user sees on every run but the first after installing. Returns
    the first and the second descend train's wall seconds (compiling, cached)."""
    path = tmp / "warm.parquet"
    generate(rows, path, seed=3)
    runs = [measure(f"warm-up: descend train ({rows:,} rows)",
                    _descend_train(path, tmp / "warm.json", *extra), tmp)
            for extra in ((), (), ("--dtype", "float32"), ("--memory-limit", "1MB"))]
    runs.append(measure("warm-up: reference A", [*py, "reference-a", str(path)], tmp))
    path.unlink()
    failed = [r.label for r in runs if not r.ok]
    if failed:
        sys.exit(f"warm-up failed: {failed}")
    return runs[0].seconds, runs[1].seconds


def _descend_train(path, out, *extra):
    return [DESCEND, "train", str(path), "--target", "target", "--impute", "mean",
            "-o", str(out), "-q", *extra]


_TIMINGS = re.compile(r"(\d+) iterations, (converged|did NOT converge)[^;]*;"
                      r" read ([\d.]+) s, prepared ([\d.]+) s, fitted ([\d.]+) s")


def _summary(run):
    """(iterations, converged, read, prepare, fit) from descend train's summary."""
    match = _TIMINGS.search(run.stdout)
    if not match:
        return None
    return (int(match.group(1)), match.group(2) == "converged",
            *(float(match.group(i)) for i in (3, 4, 5)))


def _coef(path):
    data = json.loads(Path(path).read_text())
    return np.array(data["coef"] + [data["intercept"]])


def _max_rel(a, b):
    """Largest |a − b| / |b| over the coefficients (and intercept)."""
    return float(np.max(np.abs(a - b) / np.abs(b)))


def _rel_inf(a, b):
    """max |a − b| ÷ max |b|: the difference against the coefficients' size."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _fmt_gib(nbytes):
    return f"{nbytes / GiB:.2f} GiB"


def _verdict(ok):
    return "pass" if ok else "FAIL"


def help_time(repeat=5):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([DESCEND, "--help"], check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


#: Touches one float64 per 4 KiB page of a new 1 GiB array: the cost of the
#: first write to memory, which a fresh X pays once (page faults; on a virtual
#: machine that hands memory back to its host, far more than on bare metal).
_FIRST_TOUCH = ("import time, numpy as np; t = time.perf_counter(); a = np.zeros(2**27); "
                "a[::512] = 1; print(time.perf_counter() - t)")


def first_touch_seconds_per_gib():
    """Seconds a new process takes to fault in 1 GiB of new memory."""
    done = subprocess.run([sys.executable, "-c", _FIRST_TOUCH], check=True,
                          capture_output=True, text=True)
    return float(done.stdout)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=ROWS,
                   help="rows of the Parquet/CSV file (default %(default)s)")
    p.add_argument("--big-rows", type=int, default=None,
                   help=f"rows of the --memory-limit file (default {BIG_ROWS}, or 1.7 × --rows "
                        f"when that is not {DEFAULT_ROWS}; 0 skips that part)")
    p.add_argument("--memory-limit", default=MAPPED_LIMIT,
                   help="--memory-limit of the mapped run (default %(default)s; the RssAnon "
                        "target stays 1.2 GB)")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.big_rows is None:
        args.big_rows = BIG_ROWS if args.rows == DEFAULT_ROWS else int(args.rows * 1.7)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        kind, *rest = args.worker
        return worker_reference_a(*rest) if kind == "reference-a" else worker_sklearn(*rest)
    if DESCEND is None:
        sys.exit(f"no descend command next to {sys.executable}; install descend in this venv")
    import pandas as pd
    import pyarrow as pa
    import sklearn

    import descend
    rows, big_rows = args.rows, args.big_rows
    x_bytes = rows * FEATURES_OUT * 8
    started = time.perf_counter()
    print(f"\n# Files: train from a file end to end — {time.strftime('%Y-%m-%d')}\n")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{_fmt_gib(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'))} memory, "
          f"{_fmt_gib(available_memory())} available at the start; descend {descend.__version__}, "
          f"pyarrow {pa.__version__}, pandas {pd.__version__}, scikit-learn {sklearn.__version__}")
    print(f"data: {rows:,} rows × ({NUMERIC} float64 columns with {MISSING:.0%} missing, text "
          f"columns of {', '.join(map(str, LEVELS.values()))} levels, yes/no target) → X of "
          f"{rows:,} × {FEATURES_OUT} = {x_bytes / GiB:.2f} GiB as float64")
    print("peak RSS: the child's own ru_maxrss from os.wait4; anon: RssAnon sampled every "
          f"{POLL_S * 1e3:.0f} ms (its largest sample)")
    print(f"first touch of new memory at the start: {first_touch_seconds_per_gib():.2f} s per GiB "
          "(a child faulting in 1 GiB; descend train writes X, the references do not time it)\n")
    skipped, runs = [], {}
    with tempfile.TemporaryDirectory(prefix="descend-bench-files-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        generate(rows, tmp / "data.parquet", tmp / "data.csv")
        os.sync()  # the files written back now: no timed run shares the disk with that
        files = {"Parquet": tmp / "data.parquet", "CSV": tmp / "data.csv"}
        print(f"  generated {rows:,} rows in {time.perf_counter() - t0:.1f} s: Parquet "
              f"{files['Parquet'].stat().st_size / MiB:.0f} MiB, CSV "
              f"{files['CSV'].stat().st_size / MiB:.0f} MiB", file=sys.stderr, flush=True)
        py = [sys.executable, str(HERE), "--worker"]
        first, cached = warm_up(tmp, py)
        print(f"warm-up: descend train on 20,000 rows took {first:.1f} s the first time (Numba "
              f"compiles its kernels and caches them on disk when this is a new install) and "
              f"{cached:.1f} s the second; every timed run below finds the cache filled\n")
        for fmt, path in files.items():
            if enough_memory(DESCEND_BYTES_PER_ROW_F64 * rows + 400 * MiB,
                             f"descend train ({fmt})", skipped):
                run = measure(f"descend train ({fmt})",
                              _descend_train(path, tmp / f"model-{fmt}.json"), tmp)
                run.coef = _coef(tmp / f"model-{fmt}.json") if run.ok else None
                runs[fmt, "descend"] = run
                runs[fmt, "A"] = measure(f"reference A: Arrow read + fit ({fmt})",
                                         [*py, "reference-a", str(path)], tmp)
            for solver in ("lbfgs", "newton-cholesky"):
                if enough_memory(SKLEARN_BYTES_PER_ROW * rows + 400 * MiB,
                                 f"scikit-learn {solver} ({fmt})", skipped):
                    runs[fmt, solver] = measure(f"reference B: scikit-learn {solver} ({fmt})",
                                                [*py, "sklearn", str(path), solver], tmp)
        for path in files.values():
            path.unlink()

        big = {}
        if big_rows:
            t0 = time.perf_counter()
            generate(big_rows, tmp / "big.parquet", seed=2)
            os.sync()
            print(f"  generated {big_rows:,} rows in {time.perf_counter() - t0:.1f} s: Parquet "
                  f"{(tmp / 'big.parquet').stat().st_size / MiB:.0f} MiB", file=sys.stderr,
                  flush=True)
            if enough_memory(DESCEND_BYTES_PER_ROW_F32 * big_rows + 400 * MiB,
                             "descend train --dtype float32 (in memory)", skipped):
                big["memory"] = measure(
                    "descend train --dtype float32 (in memory)",
                    _descend_train(tmp / "big.parquet", tmp / "big-memory.json",
                                   "--dtype", "float32"), tmp)
            if enough_memory(DESCEND_MAPPED_BYTES_PER_ROW * big_rows + 400 * MiB,
                             f"descend train --memory-limit {args.memory_limit}", skipped):
                big["mapped"] = measure(
                    f"descend train --memory-limit {args.memory_limit}",
                    _descend_train(tmp / "big.parquet", tmp / "big-mapped.json",
                                   "--memory-limit", args.memory_limit), tmp)
            coefs = {k: _coef(tmp / f"big-{k}.json") for k, r in big.items() if r.ok}
        help_s = help_time()
        print(f"first touch of new memory at the end: {first_touch_seconds_per_gib():.2f} s per "
              "GiB", file=sys.stderr, flush=True)

    print_tables(rows, big_rows, x_bytes, runs, big, coefs if big_rows else {}, help_s, skipped,
                 args.memory_limit)
    print(f"\nfiles section: {time.perf_counter() - started:.0f} s in all")


def print_tables(rows, big_rows, x_bytes, runs, big, coefs, help_s, skipped, limit):
    print(f"\n## Runs ({rows:,} rows; the --memory-limit file {big_rows:,} rows)\n")
    print("| command | wall s | peak RSS | peak RssAnon | inside the process |")
    print("|---|---|---|---|---|")
    for (fmt, kind), run in runs.items():
        inside = ""
        if run.ok and kind == "descend" and (s := _summary(run)):
            inside = (f"read {s[2]:.2f} s, prepared {s[3]:.2f} s, fitted {s[4]:.2f} s; "
                      f"{s[0]} iterations" + ("" if s[1] else ", NOT converged"))
        elif run.ok and kind == "A":
            r = run.json()
            inside = (f"read {r['read']:.2f} s + fit {r['fit']:.2f} s (prepare, not counted: "
                      f"{r['prepare']:.2f} s); {r['n_iter']} iterations")
        elif run.ok:
            r = run.json()
            stopped = r["n_iter"] >= r["max_iter"]
            inside = (f"read {r['read']:.2f} s, prepare + fit {r['prepare_and_fit']:.2f} s; "
                      f"{r['n_iter']} iterations" + (" (stopped at max_iter)" if stopped else ""))
        elif not run.ok:
            inside = f"exit {run.returncode}: {run.stderr.strip().splitlines()[-1][:120]}"
        print(f"| {run.label} | {run.seconds:.2f} | {_fmt_gib(run.peak_rss)} | "
              f"{_fmt_gib(run.peak_anon)} | {inside} |")
    for key, run in big.items():
        s = _summary(run) if run.ok else None
        inside = "" if not s else (f"read {s[2]:.2f} s, prepared {s[3]:.2f} s, fitted "
                                   f"{s[4]:.2f} s; {s[0]} iterations"
                                   + ("" if s[1] else ", NOT converged"))
        if run.ok and key == "mapped":
            inside += ("; design matrix memory-mapped" if "memory-mapped" in run.stdout
                       else "; design matrix NOT memory-mapped")
        if not run.ok:
            inside = f"exit {run.returncode}: {run.stderr.strip().splitlines()[-1][:120]}"
        print(f"| {run.label} ({big_rows:,} rows) | {run.seconds:.2f} | "
              f"{_fmt_gib(run.peak_rss)} | {_fmt_gib(run.peak_anon)} | {inside} |")
    print(f"| descend --help (best of 5) | {help_s:.3f} | | | |")

    print("\n## Against the targets\n")
    print("| measurement | value | target | met? |")
    print("|---|---|---|---|")
    rss_max = RSS_FACTOR * x_bytes + RSS_EXTRA
    for fmt in ("Parquet", "CSV"):
        ours = runs.get((fmt, "descend"))
        if ours is None or not ours.ok:
            print(f"| descend train ({fmt}) | did not run to the end | | FAIL |")
            continue
        a = runs.get((fmt, "A"))
        if a is not None and a.ok:
            r = a.json()
            ratio = ours.seconds / (r["read"] + r["fit"])
            print(f"| {fmt}: descend train ÷ (Arrow read + fit), reference A | {ratio:.2f} "
                  f"({ours.seconds:.1f} s ÷ {r['read'] + r['fit']:.1f} s) | ≤ {RATIO_A_MAX} | "
                  f"{_verdict(ratio <= RATIO_A_MAX)} |")
        sk = {s: runs[fmt, s] for s in ("lbfgs", "newton-cholesky")
              if (fmt, s) in runs and runs[fmt, s].ok}
        if sk:
            solver, fastest = min(sk.items(), key=lambda kv: kv[1].seconds)
            ratio = ours.seconds / fastest.seconds
            print(f"| {fmt}: descend train ÷ faster scikit-learn script (reference B: "
                  f"{solver}) | {ratio:.2f} ({ours.seconds:.1f} s ÷ {fastest.seconds:.1f} s) | "
                  f"≤ {RATIO_B_MAX} | {_verdict(ratio <= RATIO_B_MAX)} |")
        print(f"| {fmt}: peak RSS of descend train | {_fmt_gib(ours.peak_rss)} "
              f"({ours.peak_rss / x_bytes:.2f} × X) | ≤ {RSS_FACTOR} × X + 400 MB = "
              f"{_fmt_gib(rss_max)} | {_verdict(ours.peak_rss <= rss_max)} |")
    if big:
        mapped, memory = big.get("mapped"), big.get("memory")
        if mapped is not None and mapped.ok:
            is_mapped = "memory-mapped" in mapped.stdout
            print(f"| --memory-limit {limit}: peak RssAnon (X float32 "
                  f"{big_rows * FEATURES_OUT * 4 / GiB:.2f} GiB"
                  + ("" if is_mapped else ", NOT mapped") + f") | {_fmt_gib(mapped.peak_anon)} | "
                  f"≤ {_fmt_gib(ANON_MAX)} | {_verdict(mapped.peak_anon <= ANON_MAX)} |")
        else:
            print(f"| --memory-limit {limit} | did not run to the end | | FAIL |")
        if len(coefs) == 2:
            diff = _max_rel(coefs["mapped"], coefs["memory"])
            print(f"| mapped vs in-memory float32: max relative difference of coef and "
                  f"intercept | {diff:.1e} | ≤ {COEF_RTOL:g} | {_verdict(diff <= COEF_RTOL)} |")
        if mapped is not None and memory is not None and mapped.ok and memory.ok:
            ratio = mapped.seconds / memory.seconds
            print(f"| time mapped ÷ in-memory float32 | {ratio:.2f} ({mapped.seconds:.1f} s ÷ "
                  f"{memory.seconds:.1f} s) | ≤ {MAPPED_RATIO_MAX} | "
                  f"{_verdict(ratio <= MAPPED_RATIO_MAX)} |")
    print(f"| descend --help, best of 5 | {help_s:.3f} s | ≤ {HELP_MAX_S} s | "
          f"{_verdict(help_s <= HELP_MAX_S)} |")
    for note in skipped:
        print(f"\n- {note}")
    same = [(fmt, s) for fmt in ("Parquet", "CSV") for s in ("A", "newton-cholesky")
            if (fmt, s) in runs and runs[fmt, s].ok and (fmt, "descend") in runs
            and runs[fmt, "descend"].ok]
    if same:
        print()
    for fmt, s in same:
        r = runs[fmt, s].json()
        other = np.array(r["coef"] + [r["intercept"]])
        print(f"- same optimum ({fmt}): the coefficients of reference "
              f"{'A' if s == 'A' else 'B newton-cholesky'} differ from descend train's by at "
              f"most {_rel_inf(other, runs[fmt, 'descend'].coef):.1e} of the largest coefficient")


if __name__ == "__main__":
    main()
