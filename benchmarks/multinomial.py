"""The "multinomial" section of ``make bench``: K classes against scikit-learn.

Prints, as ratios measured in one process:

* epoch: one K-class loss-and-gradient evaluation ÷ one ``X @ Wᵀ`` (the
  faster of NumPy's two layouts for it), K = 3, 5 and 10 on 1,000,000 × 100,
  float64 and float32;
* time to relative objective gap 1e-6 (against an optimum solved far
  tighter) for descend's defaults and scikit-learn's multinomial solvers with
  their defaults, on (a) 1,000,000 × 100, K = 5, features on scales 0.2–5
  with offsets (the solver section's), and (b) scikit-learn's digits
  replicated to at least 150,000 rows, in raw pixel units (0–16).
  A scikit-learn solver that stops short of the gap with its defaults is run
  again with tighter tolerances (TIGHTER_TOLS) until it reaches it, so that
  "time to 1e-6" is measured for it too.

``python benchmarks/run.py --only multinomial`` runs it alone;
DESCEND_BENCH_ROWS sets fewer rows for (a) and the epochs (a quick look).
"""
import os
import sys
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
from descend.engine.multinomial import MultinomialObjective

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import best_time, interleaved_best_times, timed_fit  # noqa: E402

ROWS = int(os.environ.get("DESCEND_BENCH_ROWS", 1_000_000))
FEATURES = 100
CLASSES = (3, 5, 10)
RACE_CLASSES = 5
DIGITS_ROWS = 150_000
C = 1.0
TARGET_GAP = 1e-6
#: A solver whose run, estimated from a tenth of the rows, would take longer
#: than this is reported with that estimate instead of run (the section then
#: takes about ten minutes).
SLOW_LIMIT_S = 60.0
SOLVERS = ("lbfgs", "newton-cholesky", "newton-cg", "sag", "saga")
#: Each is first timed on a tenth of the rows (see SLOW_LIMIT_S).
SAMPLED = SOLVERS
#: A solver run in full that stopped short of TARGET_GAP with its defaults is
#: run again with these tolerances, in turn, until it reaches the gap.
TIGHTER_TOLS = (1e-6, 1e-8, 1e-10, 1e-12)


def scaled_multiclass(m, n, K, seed=0, dtype=np.float64):
    """Features on scales 0.2–5 with offsets; labels from a softmax model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    W = rng.standard_normal((K, n)) / np.sqrt(n) * 3
    y = np.argmax(X @ W.T + rng.gumbel(size=(m, K)), axis=1)
    X *= np.geomspace(0.2, 5, n)
    X += rng.uniform(-3, 3, n)
    return np.ascontiguousarray(X, dtype=dtype), y


def digits_problem(min_rows=DIGITS_ROWS):
    """scikit-learn's digits (1,797 × 64, 10 classes) tiled to ≥ min_rows, raw units."""
    X, y = load_digits(return_X_y=True)
    copies = -(-min_rows // len(y))
    return np.ascontiguousarray(np.tile(X, (copies, 1))), np.tile(y, copies)


def objective_value(X, y, coef, intercept):
    """J(W, b) with descend's compiled objective (checked against PyTorch in the tests)."""
    K = coef.shape[0]
    obj = MultinomialObjective(X, y, K, l2=1.0 / (C * len(y)))
    return obj.loss_grad(np.column_stack([coef, intercept]).ravel())[0]


def reference_optimum(X, y):
    """J* from descend run far past the benchmark's tolerance (its optimum is
    tested against scikit-learn's to 1e-6 in tests/test_multinomial.py; a
    newton-cholesky run to 1e-12 here would take longer than the section)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = descend.LogisticRegression(C=C, tol=1e-16, max_iter=300).fit(X, y)
    return objective_value(X, y, ours.coef_, ours.intercept_)


def gap_of(model, X, y, J_star):
    return (objective_value(X, y, model.coef_, model.intercept_) - J_star) / J_star


def estimated_run(make, X, y, tenth_optimum):
    """Time on a tenth of the rows, scaled up (per epoch linear in m), and the
    gap reached there against that tenth's own optimum (computed once)."""
    k = max(len(y) // 10, 2000)
    model, seconds = timed_fit(make, X[:k], y[:k])
    if not tenth_optimum:
        tenth_optimum.append(reference_optimum(X[:k], y[:k]))
    return seconds * len(y) / k, gap_of(model, X[:k], y[:k], tenth_optimum[0])


def race(name, X, y):
    """descend and every scikit-learn multinomial solver: (method, seconds, gap, note)."""
    J_star = reference_optimum(X, y)
    contenders = [("descend (defaults)", lambda: descend.LogisticRegression(C=C))]
    contenders += [(f"sklearn {s}", lambda s=s: SkLogisticRegression(C=C, solver=s))
                   for s in SOLVERS]
    rows, tenth_optimum = [], []
    for label, make in contenders:
        if label.endswith(SAMPLED):
            estimate, sample_gap = estimated_run(make, X, y, tenth_optimum)
            if estimate > SLOW_LIMIT_S:
                rows.append((label, estimate, np.nan,
                             f"not run: about {estimate:.0f} s, estimated from a tenth of the "
                             f"rows, where it stopped at gap {sample_gap:.1e}"))
                print(f"  {name}: {label:24s} est. {estimate:8.1f} s", file=sys.stderr)
                continue
        model, seconds = timed_fit(make, X, y)
        rows.append((label, seconds, gap_of(model, X, y, J_star), ""))
        print(f"  {name}: {label:24s} {seconds:8.2f} s  gap {rows[-1][2]:.1e}", file=sys.stderr)
        if label.startswith("sklearn") and rows[-1][2] > TARGET_GAP:
            rows += tightened(name, label.split()[1], X, y, J_star)
    return rows


def tightened(name, solver, X, y, J_star):
    """A solver that stopped short of the gap, run again with tighter tolerances
    until it reaches it (or a run takes longer than SLOW_LIMIT_S)."""
    rows = []
    for tol in TIGHTER_TOLS:
        model, seconds = timed_fit(lambda: SkLogisticRegression(
            C=C, solver=solver, tol=tol, max_iter=10_000), X, y)
        rows.append((f"sklearn {solver}, tol {tol:g}", seconds, gap_of(model, X, y, J_star), ""))
        print(f"  {name}: {rows[-1][0]:24s} {seconds:8.2f} s  gap {rows[-1][2]:.1e}",
              file=sys.stderr)
        if rows[-1][2] <= TARGET_GAP or seconds > SLOW_LIMIT_S:
            break
    return rows


def epoch_ratios(m):
    """(dtype, K, X @ Wᵀ seconds, epoch seconds) for each dtype and K."""
    out = []
    for dtype in (np.float64, np.float32):
        X, _ = scaled_multiclass(m, FEATURES, 3, seed=1, dtype=dtype)
        for K in CLASSES:
            rng = np.random.default_rng(K)
            y = rng.integers(0, K, m)
            W = (rng.standard_normal((K, FEATURES)) * 0.1).astype(dtype)
            obj = MultinomialObjective(X, y, K, l2=1e-6)
            theta = np.column_stack([W.astype(np.float64), np.full(K, 0.1)]).ravel()
            obj.loss_grad(theta)  # compiled before timing
            # the faster of X @ Wᵀ and (W Xᵀ)ᵀ: the reference is BLAS at its best
            read, epoch, other = interleaved_best_times(
                lambda: X @ W.T, lambda: obj.loss_grad(theta), lambda: W @ X.T, rounds=2)
            read = min(read, other)
            out.append((np.dtype(dtype).name, K, read, epoch))
            print(f"  epoch {np.dtype(dtype).name} K={K}: {epoch / read:.2f}", file=sys.stderr)
        X = None  # free X before the next dtype
    return out


def print_race(title, rows):
    ours = rows[0][1]
    lbfgs = next(r for r in rows if r[0] == "sklearn lbfgs")[1]
    reached = [r for r in rows[1:] if r[2] <= TARGET_GAP]
    fastest = min(rows[1:], key=lambda r: r[1])
    print(f"\n### Time to relative objective gap {TARGET_GAP:g}: {title}\n")
    print("| method | seconds | final gap | descend ÷ method | note |")
    print("|---|---|---|---|---|")
    for label, seconds, gap, note in rows:
        est = " (est.)" if note.startswith("not run") else ""
        gap_text = "—" if np.isnan(gap) else f"{gap:.1e}"
        print(f"| {label} | {seconds:.2f}{est} | {gap_text} | {ours / seconds:.2f} | {note} |")
    print(f"\ndescend ÷ lbfgs (defaults): **{ours / lbfgs:.2f}**; descend ÷ the fastest "
          f"scikit-learn solver ({fastest[0]}): **{ours / fastest[1]:.2f}**", end="")
    if reached:
        best = min(reached, key=lambda r: r[1])
        print(f"; ÷ the fastest that reached {TARGET_GAP:g} ({best[0]}): "
              f"**{ours / best[1]:.2f}**")
    else:
        print(f"; no scikit-learn solver reached {TARGET_GAP:g}, even with the tighter tolerances")


def main():
    print(f"\n## Multinomial (K classes), {ROWS:,} × {FEATURES}\n")
    print("### Epoch: K-class loss + gradient ÷ one X @ Wᵀ\n")
    print("| dtype | K | X @ Wᵀ | descend epoch | ratio |")
    print("|---|---|---|---|---|")
    for dtype, K, read, epoch in epoch_ratios(ROWS):
        print(f"| {dtype} | {K} | {read * 1e3:.1f} ms | {epoch * 1e3:.1f} ms | "
              f"**{epoch / read:.2f}** |")
    X, y = scaled_multiclass(ROWS, FEATURES, RACE_CLASSES)
    print_race(f"(a) {ROWS:,} × {FEATURES}, K = {RACE_CLASSES}, scales 0.2–5 with offsets",
               race("(a)", X, y))
    X, y = digits_problem()
    print_race(f"(b) digits × {len(y) // 1797} ({len(y):,} × 64, K = 10), raw pixel units",
               race("(b)", X, y))


if __name__ == "__main__":
    main()
