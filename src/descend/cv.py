"""``descend.LogisticRegressionCV``: C (and ρ) chosen by cross-validation.

Each fold's training rows get one :class:`~descend.path.PenaltyPath` per
l1_ratio (the fits from the largest penalty down, warm-started, screened for
L1); each point of the path is scored on the fold's held-out rows; the
(C, ρ) of the best mean score is refitted on every row. The attributes and
the choice are scikit-learn's ``LogisticRegressionCV``'s.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.metrics import get_scorer
from sklearn.model_selection import check_cv

from descend.engine.threads import default_threads
from descend.estimator import LogisticRegression, validate_input
from descend.exceptions import UsageError
from descend.path import PenaltyPath

#: scikit-learn's grid for an integer ``Cs``: Cs values from 1e-4 to 1e4.
C_GRID_DECADES = (-4, 4)


class LogisticRegressionCV(LogisticRegression):
    """Logistic regression with C (and the elastic net's ρ) chosen by cross-validation.

    The objective is :class:`~descend.LogisticRegression`'s. For each fold
    and each ρ the whole path over ``Cs`` is solved from the smallest C (the
    largest penalty) up, each fit warm-started from the last; with an L1
    part every fit below C₀ (where the first weight leaves zero, from the
    gradient at w = 0) is the intercept alone, and a strong rule screens
    features, checked by the KKT conditions after each fit.

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        The grid of C; an int asks for that many values log-spaced in
        [1e-4, 1e4], as scikit-learn.
    l1_ratios : array-like of float in [0, 1] or None, default=None
        ρ values tried with ``penalty="elasticnet"`` (required there, refused
        otherwise).
    cv : int or cross-validation splitter, default=5
        An int is stratified k-fold without shuffling, as scikit-learn.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or callable; None is accuracy.
    penalty : {"l2", "l1", "elasticnet"}, default="l2"
    refit : bool, default=True
        Refit on every row at the best (C, ρ); else average the folds' best
        coefficients.
    n_jobs : int or None, default=None
        Paths solved at once (threads), one per fold and ρ.
    fit_intercept, solver, preconditioner, max_iter, tol, class_weight, random_state, verbose
        As for :class:`~descend.LogisticRegression`.

    Attributes
    ----------
    Cs_ : ndarray of shape (n_cs,)
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        ``[None]`` unless the penalty is "elasticnet".
    C_ : ndarray of shape (1,) or (K,)
        The chosen C (repeated per class for K ≥ 3).
    l1_ratio_ : ndarray of shape (1,) or (K,)
    scores_ : dict
        class → scores of shape (n_folds, n_cs), or (n_folds, n_cs, n_l1_ratios)
        for the elastic net; the same for every class (the positive one alone for two).
    coefs_paths_ : dict
        class → coefficients [w, b] of shape (n_folds, n_cs, n_features + 1)
        (n_l1_ratios before the last axis for the elastic net).
    n_iter_ : ndarray of shape (1, n_folds, n_cs) (or with n_l1_ratios)
    coef_, intercept_, classes_, n_features_in_
        As for :class:`~descend.LogisticRegression`.
    """

    def __init__(self, *, Cs=10, l1_ratios=None, cv=5, scoring=None, penalty="l2",
                 fit_intercept=True, solver="auto", preconditioner="auto", max_iter=1000,
                 tol=1e-10, class_weight=None, n_jobs=None, refit=True, random_state=None,
                 verbose=0):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.preconditioner = preconditioner
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.refit = refit
        self.random_state = random_state
        self.verbose = verbose

    # the base estimator's settings that this class does not offer
    C, l1_ratio, learning_rate, batch_size, warm_start, callback = \
        1.0, None, "auto", None, False, None

    def _grid(self):
        """(Cs, l1_ratios) checked; ρ None means the penalty's own."""
        if isinstance(self.Cs, (int, np.integer)) and not isinstance(self.Cs, bool):
            if self.Cs < 1:
                raise UsageError(f"{{Cs}} must be a positive whole number or a list of C, "
                                 f"got {self.Cs!r}", Cs=None)
            Cs = np.logspace(*C_GRID_DECADES, self.Cs)
        else:
            Cs = np.asarray(self.Cs, dtype=float).ravel()
            if len(Cs) == 0 or not np.all((Cs > 0) & np.isfinite(Cs)):
                raise UsageError("{Cs} must hold positive finite numbers", Cs=None)
        if self.penalty == "elasticnet":
            ratios = np.asarray(self.l1_ratios if self.l1_ratios is not None else [], float)
            if ratios.ndim != 1 or len(ratios) == 0 or np.any((ratios < 0) | (ratios > 1)):
                raise UsageError("{l1_ratios} must be a list of numbers in [0, 1] with "
                                 "penalty 'elasticnet', e.g. [0.1, 0.5, 0.9]", l1_ratios=None)
            return Cs, list(ratios)
        if self.l1_ratios is not None:
            raise UsageError(f"{{l1_ratios}} is only used with penalty 'elasticnet', not "
                             f"{self.penalty!r}", l1_ratios=None)
        if self.penalty not in ("l2", "l1"):
            raise UsageError(f"{{penalty}} must be 'l2', 'l1' or 'elasticnet', got "
                             f"{self.penalty!r}", penalty=None)
        return Cs, [None]

    def _base(self, l1_ratio=None, threads=None):
        """A LogisticRegression with these settings (C set per fit)."""
        return LogisticRegression(
            penalty=self.penalty, l1_ratio=l1_ratio, fit_intercept=self.fit_intercept,
            solver=self.solver, preconditioner=self.preconditioner, max_iter=self.max_iter,
            tol=self.tol, class_weight=self.class_weight, random_state=self.random_state,
            verbose=max(0, int(self.verbose) - 1), n_jobs=threads)

    def fit(self, X, y, sample_weight=None):
        """Solve every fold's path, choose (C, ρ), refit; returns self."""
        Cs, ratios = self._grid()
        self._base(ratios[0])._check_params()
        # the estimator's own validation: a DataFrame with category columns
        # becomes its codes (descend.frame_input), never one-hot
        X, y = validate_input(self, X, y, dtype=[np.float64, np.float32], order="C",
                              accept_sparse="csr", reset=True)
        self.classes_ = self._check_classes(np.unique(y))
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y))
        workers = _fold_workers(self.n_jobs)
        jobs = [(train, test, rho) for train, test in folds for rho in ratios]

        def path_of(job):
            train, test, rho = job
            return self._fold_path(X, y, sample_weight, train, test, rho, Cs,
                                   1 if workers > 1 else None)
        # threads of their own, not the kernels' pool, which each fold's fits use
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="descend-cv") as folds_pool:
            results = list(folds_pool.map(path_of, jobs))
        # (n_folds, n_l1, n_cs, ...) → scikit-learn's (n_folds, n_cs, n_l1, ...)
        shape = (len(folds), len(ratios), len(Cs))
        paths = np.swapaxes(np.reshape([r[0] for r in results], shape + (-1,)), 1, 2)
        scores = np.swapaxes(np.reshape([r[1] for r in results], shape), 1, 2)
        n_iter = np.swapaxes(np.reshape([r[2] for r in results], shape), 1, 2)
        self.Cs_, self.l1_ratios_ = Cs, np.asarray(ratios, dtype=object if ratios == [None]
                                                    else float)
        self._choose(X, y, sample_weight, paths, scores, ratios)
        self._store_paths(paths, scores, n_iter, elastic=self.penalty == "elasticnet")
        return self

    def _fold_path(self, X, y, sample_weight, train, test, rho, Cs, threads):
        """One fold's path at ρ: θ per C, its held-out score per C, n_iter per C."""
        weights = None if sample_weight is None else np.asarray(sample_weight)[train]
        path = PenaltyPath(self._base(rho, threads), X[train], y[train], weights)
        thetas, n_iter = path.solve(Cs)
        scorer = self._scorer()
        scores = [scorer(self._model_at(theta, X.shape[1]), X[test], y[test])
                  for theta in thetas]
        return thetas, scores, n_iter

    def _scorer(self):
        if self.scoring is None:
            return lambda model, X, y: model.score(X, y)
        return get_scorer(self.scoring)

    def _model_at(self, theta, n_features):
        """A fitted LogisticRegression holding θ (laid out (K, n + 1))."""
        model = self._base()
        model.classes_, model.n_features_in_ = self.classes_, n_features
        T = np.asarray(theta).reshape(-1, n_features + int(self.fit_intercept))
        model.coef_ = T[:, :n_features]
        model.intercept_ = T[:, -1] if self.fit_intercept else np.zeros(len(T))
        return model

    def _choose(self, X, y, sample_weight, paths, scores, ratios):
        """(C_, l1_ratio_) of the best summed score (the first of ties, as
        scikit-learn), then the refit or the folds' average."""
        n = X.shape[1]
        K = len(self.classes_)
        if self.refit:
            total = scores.sum(axis=0)  # (n_cs, n_l1)
            i, j = np.unravel_index(np.argmax(total), total.shape)
            C, rho = self.Cs_[i], ratios[j]
            start = paths[:, i, j].mean(axis=0)
            final = self._base(rho, self.n_jobs).set_params(C=C, warm_start=True)
            warm = self._model_at(start, n)
            final.coef_, final.intercept_ = warm.coef_, warm.intercept_
            final.fit(X, y, sample_weight=sample_weight)
            coef, intercept, self.n_iter_final_ = final.coef_, final.intercept_, final.n_iter_
            self.history_ = final.history_
        else:
            best = [np.unravel_index(np.argmax(s), s.shape) for s in scores]
            theta = np.mean([paths[f, i, j] for f, (i, j) in enumerate(best)], axis=0)
            warm = self._model_at(theta, n)
            coef, intercept = warm.coef_.astype(X.dtype), warm.intercept_.astype(X.dtype)
            C = float(np.mean([self.Cs_[i] for i, _ in best]))
            rho = None if ratios == [None] else float(np.mean([ratios[j] for _, j in best]))
            self.history_, self.n_iter_final_ = [], 0
        repeat = K if K > 2 else 1
        self.C_ = np.full(repeat, C)
        self.l1_ratio_ = np.full(repeat, {None: {"l1": 1.0}.get(self.penalty, 0.0)}.get(rho, rho))
        self.coef_, self.intercept_ = coef, intercept
        self.converged_ = True if not self.refit else final.converged_

    def _store_paths(self, paths, scores, n_iter, elastic):
        """scikit-learn's dicts, keyed by class (the positive class alone for two)."""
        K = len(self.classes_)
        rows = K if K > 2 else 1
        keys = self.classes_ if K > 2 else self.classes_[1:]
        squeeze = (lambda a: a) if elastic else (lambda a: a[:, :, 0])
        per_class = paths.reshape(paths.shape[:3] + (rows, -1))
        self.coefs_paths_ = {key: squeeze(per_class[..., k, :]) for k, key in enumerate(keys)}
        self.scores_ = {key: squeeze(scores) for key in keys}
        self.n_iter_ = squeeze(n_iter)[None]


def _fold_workers(n_jobs):
    """Threads for the folds' paths: None or 1 → one; −1 → every core this
    process may use; −k → all but k − 1 of them (scikit-learn's convention)."""
    if n_jobs is None or n_jobs == 0:
        return 1
    return n_jobs if n_jobs > 0 else max(1, default_threads() + 1 + n_jobs)
