"""The estimator ``descend train`` fits: one C, or C chosen by cross-validation."""
import numpy as np

from descend.cv import LogisticRegressionCV
from descend.estimator import LogisticRegression
from descend.exceptions import UsageError

#: ``--C cv``: this many values of C, log-spaced from 1e-4 to 1e4.
CV_GRID = 20
#: ``--C cv --penalty elasticnet`` without ``--l1-ratio``: the ρ values tried.
CV_L1_RATIOS = (0.1, 0.5, 0.9)
#: ``--C cv`` scores each C by the held-out log-loss (ties are rarer than accuracy's).
CV_SCORING = "neg_log_loss"


def make_classifier(estimator, callback=None):
    """LogisticRegression from the options, or LogisticRegressionCV when C is "cv"."""
    if estimator.get("C") != "cv":
        return LogisticRegression(**estimator, callback=callback)
    options = dict(estimator)
    options.pop("C")
    folds, penalty, l1_ratio = options.pop("cv", 5), options.pop("penalty", "l2"), \
        options.pop("l1_ratio", None)
    if penalty is None:
        raise UsageError("{C} 'cv' chooses the strength of a penalty; use {penalty} l2, l1 or "
                         "elasticnet", C=None, penalty=None)
    for name, default in (("learning_rate", "auto"), ("batch_size", None)):
        if options.pop(name, default) != default:
            raise UsageError(f"{{{name}}} cannot be set with {{C}} 'cv' (each fit uses the "
                             "default solver settings)", **{name: None, "C": None})
    if penalty != "elasticnet" and l1_ratio is not None:
        raise UsageError("{l1_ratio} is only used with penalty 'elasticnet'", l1_ratio=None)
    ratios = None if penalty != "elasticnet" else (
        [l1_ratio] if l1_ratio is not None else list(CV_L1_RATIOS))
    return LogisticRegressionCV(Cs=CV_GRID, cv=folds, penalty=penalty, l1_ratios=ratios,
                                scoring=CV_SCORING, **options)


def check_classifier_options(estimator):
    """Every estimator option checked before any data is read."""
    clf = make_classifier(estimator)
    if isinstance(clf, LogisticRegressionCV):
        _, ratios = clf._grid()
        clf._base(ratios[0])._check_params()
    else:
        clf._check_params()


def selection_report(clf):
    """What cross-validation chose, for the summary and the path picture
    (and the mean path of the coefficients over the folds at the chosen ρ)."""
    scores = next(iter(clf.scores_.values()))
    paths = np.stack(list(clf.coefs_paths_.values()))  # (rows, folds, Cs, [ρ,] n + 1)
    if scores.ndim == 3:  # elastic net: the chosen ρ's slice
        j = int(np.flatnonzero(np.asarray(clf.l1_ratios_, float) == clf.l1_ratio_[0])[0])
        scores, paths = scores[:, :, j], paths[:, :, :, j]
    n = clf.coef_.shape[1]
    coefs = paths[..., :n].mean(axis=1)  # (rows, Cs, n)
    report = {"C": float(clf.C_[0]), "l1_ratio": float(clf.l1_ratio_[0]),
              "folds": int(scores.shape[0]), "scoring": CV_SCORING,
              "Cs": [float(c) for c in clf.Cs_],
              "score_mean": [float(s) for s in scores.mean(axis=0)],
              "score_std": [float(s) for s in scores.std(axis=0)]}
    return report, np.moveaxis(coefs, 1, 0).reshape(len(clf.Cs_), -1)
