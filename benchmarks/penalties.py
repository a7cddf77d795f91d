"""The "penalties" section of ``make bench``: L1, elastic net and cross-validation.

Prints, as ratios measured in one process:

* time to relative objective gap 1e-6 for L1, C chosen so that about 10 % of
  the coefficients are non-zero, on (a) m × 100 with features on scales
  0.2–5 and offsets (the solver section's data) and (b) a wide 20,000 × 5,000
  problem, for descend's defaults, scikit-learn ``saga`` and ``liblinear``;
* the same for the elastic net (ρ = 0.5) on (a), descend against ``saga``;
* ``LogisticRegressionCV`` with 20 Cs and 5 folds, L2 and L1, against
  scikit-learn's with the same grid, folds and scoring (held-out log-loss),
  one run per scikit-learn solver that takes the penalty (``SK_CV_SOLVERS``):
  time and the C each chose. The ratio that counts is against the fastest
  run choosing descend's C: a solver stopped short of its optima (lbfgs at its
  default max_iter on unscaled data) can choose another.

The gap is (F − F*)/F* for F = mean log-loss + (1/(C m))[(1 − ρ)/2 ‖w‖² + ρ‖w‖₁],
scikit-learn's saga objective, with F* from descend run to tol 1e-16 (and the
best of every solver's F). Each scikit-learn solver is run with tol 1e-4,
1e-6, 1e-8, … until its own optimum reaches the gap (each run from scratch;
the time of the first run that reaches it is reported). ``liblinear``
penalises its intercept, so it races without one (``fit_intercept=False``
for it and for descend, the same F without b).

``python benchmarks/run.py --only penalties`` runs it alone. Row counts:
DESCEND_BENCH_PENALTY_ROWS for (a) (default 1,000,000: ``saga`` needs
minutes there), DESCEND_BENCH_WIDE_ROWS for (b) (default 20,000),
DESCEND_BENCH_CV_ROWS for the cross-validation (default 20,000).
"""
import os
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV

import descend
from descend.engine.objective import Objective
from descend.path import PenaltyPath

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import scaled_problem  # noqa: E402

ROWS = int(os.environ.get("DESCEND_BENCH_PENALTY_ROWS", 1_000_000))
WIDE_ROWS = int(os.environ.get("DESCEND_BENCH_WIDE_ROWS", 20_000))
WIDE_FEATURES = 5_000
CV_ROWS = int(os.environ.get("DESCEND_BENCH_CV_ROWS", 20_000))
FEATURES = 100
TARGET_GAP = 1e-6
NONZERO_SHARE = 0.10
#: A scikit-learn run longer than this is not followed by a tighter one.
SLOW_LIMIT_S = 240.0
SK_TOLS = (1e-4, 1e-6, 1e-8, 1e-10)


def wide_problem(m, n, seed=0):
    """Gaussian features with correlated neighbours, 50 true non-zeros."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    X[:, 1:] += 0.5 * X[:, :-1]
    w = np.zeros(n)
    w[rng.choice(n, 50, replace=False)] = rng.standard_normal(50)
    y = (rng.random(m) < 1 / (1 + np.exp(-(X @ w + 0.3)))).astype(np.float64)
    return np.ascontiguousarray(X), y


def penalised_value(X, y, coef, intercept, C, rho):
    """F of the docstring at (coef, intercept)."""
    m = len(y)
    objective = Objective(X, y, l2=(1 - rho) / (C * m))
    theta = np.append(np.ravel(coef), intercept)
    return objective.loss_grad(theta)[0] + rho / (C * m) * float(np.abs(np.ravel(coef)).sum())


def c_for_share(X, y, share=NONZERO_SHARE):
    """C giving about ``share`` of the coefficients non-zero (L1): bisection
    on log C above C₀, the C where the first weight leaves zero."""
    C0 = PenaltyPath(descend.LogisticRegression(penalty="l1"), X, y).C_zero
    lo, hi, want = np.log(C0), np.log(C0 * 1e3), share * X.shape[1]
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        nonzero = np.count_nonzero(
            descend.LogisticRegression(penalty="l1", C=np.exp(mid)).fit(X, y).coef_)
        if abs(nonzero - want) <= max(1, 0.1 * want):
            return float(np.exp(mid))
        lo, hi = (mid, hi) if nonzero < want else (lo, mid)
    return float(np.exp(0.5 * (lo + hi)))


def descend_model(C, rho, **kw):
    """descend's estimator for (C, ρ), its defaults otherwise."""
    if rho == 1:
        return descend.LogisticRegression(C=C, penalty="l1", **kw)
    return descend.LogisticRegression(C=C, penalty="elasticnet", l1_ratio=rho, **kw)


def timed(make, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model = make().fit(X, y)
        return model, time.perf_counter() - t0


def race(X, y, C, rho, solvers, fit_intercept=True):
    """(label, seconds, gap, note, non-zeros) for descend and each scikit-learn solver."""
    reference = descend_model(C, rho, tol=1e-16, max_iter=20_000,
                              fit_intercept=fit_intercept).fit(X, y)
    F_ref = penalised_value(X, y, reference.coef_, reference.intercept_[0], C, rho)
    runs = [("descend (defaults)", *timed(
        lambda: descend_model(C, rho, fit_intercept=fit_intercept), X, y), "")]
    for solver in solvers:
        for tol in SK_TOLS:
            model, seconds = timed(lambda: SkLogisticRegression(
                C=C, l1_ratio=rho, solver=solver, tol=tol, max_iter=100_000,
                fit_intercept=fit_intercept), X, y)
            gap_now = _gap(X, y, model, C, rho, F_ref)
            print(f"  {solver} tol {tol:g}: {seconds:.1f} s, gap {gap_now:.1e}", file=sys.stderr)
            if gap_now <= TARGET_GAP or seconds > SLOW_LIMIT_S or tol == SK_TOLS[-1]:
                # the first run that reaches the gap (or the last one tried) is kept
                runs.append((f"sklearn {solver}", model, seconds, f"tol {tol:g}"))
                break
    F = [penalised_value(X, y, r[1].coef_, np.atleast_1d(r[1].intercept_)[0], C, rho)
         for r in runs]
    F_star = min(F + [F_ref])
    rows = []
    for (label, model, seconds, note), value in zip(runs, F):
        rows.append((label, seconds, (value - F_star) / F_star, note,
                     int(np.count_nonzero(model.coef_))))
        print(f"  {label:22s} {seconds:8.2f} s  gap {rows[-1][2]:.1e}  {note}", file=sys.stderr)
    return rows


def _gap(X, y, model, C, rho, F_star):
    value = penalised_value(X, y, model.coef_, np.atleast_1d(model.intercept_)[0], C, rho)
    return (value - F_star) / F_star


def print_race(title, rows):
    """The race as a table; ratios against the first row (descend)."""
    ours = rows[0][1]
    print(f"\n## Time to relative gap {TARGET_GAP:g}: {title}\n")
    print("| method | seconds | gap | non-zeros | descend ÷ method | run |")
    print("|---|---|---|---|---|---|")
    for label, seconds, gap, note, nonzero in rows:
        reached = "" if gap <= TARGET_GAP else " (did not reach the gap)"
        print(f"| {label} | {seconds:.2f} | {gap:.1e} | {nonzero} | "
              f"**{ours / seconds:.3f}**{reached} | {note or 'defaults'} |")


#: scikit-learn's LogisticRegressionCV runs raced per penalty: (solver, its
#: settings, fit_intercept). lbfgs and newton-cholesky with their defaults;
#: saga at tol 1e-4 and max_iter 10,000, liblinear at max_iter 100,000 (their
#: default max_iter stops far from the optima on unscaled data: liblinear's
#: 100 chose C = 1.62 where its converged runs choose descend's 0.616);
#: liblinear penalises its intercept, so it races without one, against
#: descend without one.
SK_CV_SOLVERS = {"l2": (("lbfgs", {}, True), ("newton-cholesky", {}, True)),
                 "l1": (("saga", {"tol": 1e-4, "max_iter": 10_000}, True),
                        ("liblinear", {"max_iter": 100_000}, False))}


def cv_race(X, y, penalty):
    """descend's LogisticRegressionCV and each scikit-learn run of
    ``SK_CV_SOLVERS`` on the same grid, folds and scoring: a list of
    (solver, fit_intercept, descend seconds, descend C, sklearn seconds, sklearn C)."""
    ours = {}
    rows = []
    for solver, settings, fit_intercept in SK_CV_SOLVERS[penalty]:
        if fit_intercept not in ours:
            model, seconds = timed(lambda: descend.LogisticRegressionCV(
                Cs=20, cv=5, penalty=penalty, scoring="neg_log_loss",
                fit_intercept=fit_intercept), X, y)
            ours[fit_intercept] = (seconds, float(model.C_[0]))
            print(f"  CV {penalty} (intercept {fit_intercept}): descend {seconds:.1f} s "
                  f"C {model.C_[0]:.4g}", file=sys.stderr)
        model, seconds = timed(lambda: SkLogisticRegressionCV(
            Cs=20, cv=5, l1_ratios=[0.0 if penalty == "l2" else 1.0], solver=solver,
            scoring="neg_log_loss", use_legacy_attributes=True, fit_intercept=fit_intercept,
            **settings), X, y)
        print(f"  CV {penalty}: sklearn {solver} {seconds:.1f} s C {model.C_[0]:.4g}",
              file=sys.stderr)
        rows.append((solver, fit_intercept, *ours[fit_intercept], seconds, float(model.C_[0])))
    return rows


def print_cv_table(results):
    """One row per scikit-learn run, then per penalty the ratio that counts:
    against the fastest run that chose descend's C (a run that stops short
    of its optima can choose another)."""
    print("| penalty | intercept | descend | scikit-learn | descend ÷ sklearn "
          "| C chosen (descend, sklearn) |")
    print("|---|---|---|---|---|---|")
    same = {}
    for penalty, rows in results.items():
        for solver, fit_intercept, t_ours, c_ours, seconds, c_theirs in rows:
            agree = bool(np.isclose(c_ours, c_theirs, rtol=1e-12))
            same.setdefault(penalty, []).append((t_ours / seconds, agree))
            print(f"| {penalty} | {'yes' if fit_intercept else 'no'} | {t_ours:.1f} s | "
                  f"{seconds:.1f} s ({solver}) | **{t_ours / seconds:.3f}** | "
                  f"{c_ours:.4g}, {c_theirs:.4g} ({'same' if agree else 'differ'}) |")
    print()
    for penalty, ratios in same.items():
        agreeing = [ratio for ratio, agree in ratios if agree]
        verdict = (f"**{max(agreeing):.3f}** against the fastest scikit-learn run choosing "
                   "the same C" if agreeing else "no scikit-learn run chose descend's C")
        print(f"* {penalty}: descend ÷ scikit-learn, largest ratio "
              f"{max(r for r, _ in ratios):.3f}; {verdict}")


def main():
    X, y = scaled_problem(ROWS, FEATURES)
    C = c_for_share(X, y)
    title = f"(a) L1, {ROWS:,} × {FEATURES}, scales 0.2–5 with offsets, C = {C:.3g}"
    print_race(title, race(X, y, C, 1.0, ("saga",)))
    # liblinear penalises its intercept: the same objective needs no intercept
    print_race(title + ", no intercept", race(X, y, C, 1.0, ("liblinear",), False))
    C_en = C * 2
    print_race(f"(a) elastic net ρ = 0.5, same data, C = {C_en:.3g}",
               race(X, y, C_en, 0.5, ("saga",)))
    del X, y
    X, y = wide_problem(WIDE_ROWS, WIDE_FEATURES)
    C = c_for_share(X, y)
    title = f"(b) L1, wide {WIDE_ROWS:,} × {WIDE_FEATURES:,}, correlated neighbours, C = {C:.3g}"
    print_race(title, race(X, y, C, 1.0, ("saga",)))
    print_race(title + ", no intercept", race(X, y, C, 1.0, ("liblinear",), False))
    del X, y
    X, y = scaled_problem(CV_ROWS, FEATURES, seed=3)
    print(f"\n## LogisticRegressionCV, 20 Cs × 5 folds, {CV_ROWS:,} × {FEATURES} "
          "(scaled data), scoring neg_log_loss\n")
    print_cv_table({penalty: cv_race(X, y, penalty) for penalty in ("l2", "l1")})


if __name__ == "__main__":
    main()
