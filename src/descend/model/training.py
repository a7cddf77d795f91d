"""Training a :class:`TableModel` on a table: columns, missing values, the
hold-out, preprocessing, then :class:`~descend.LogisticRegression`."""
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from descend.data.preprocess import (
    IMPUTE_STRATEGIES,
    Preprocessor,
    missing_values_error,
)
from descend.data.tables import require_column
from descend.estimator import LogisticRegression
from descend.exceptions import DataError, UsageError
from descend.model.labels import choose_classes, encode_target, label_strings
from descend.model.metrics import classification_metrics
from descend.model.table_model import TableModel


@dataclass
class TrainOptions:
    """What ``descend train`` was asked for (maps onto the estimator)."""

    target: str
    features: list = None
    drop: list = None
    positive: str = None
    drop_missing: bool = False
    impute: str = None
    validation: float = None
    seed: int = 0
    estimator: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.validation is not None and not 0 < self.validation < 1:
            raise UsageError("{validation} must be a fraction between 0 and 1, e.g. 0.2",
                             validation=None)
        if self.impute is not None and self.impute not in IMPUTE_STRATEGIES:
            raise UsageError(f"unknown {{impute}} strategy {self.impute!r}",
                             impute=IMPUTE_STRATEGIES)


def select_features(frame, options, path=""):
    """The feature columns: ``features``, else all but the target and ``drop``."""
    require_column(frame, options.target, path)
    for name in (options.features or []) + (options.drop or []):
        require_column(frame, name, path, what="column")
    if options.features:
        columns = [c for c in options.features if c != options.target]
    else:
        columns = [c for c in frame.columns if c != options.target]
    columns = [c for c in columns if c not in (options.drop or [])]
    if not columns:
        raise UsageError(f"{path}: no feature columns left; the file needs columns "
                         "besides the target")
    return columns


def handle_missing(frame, columns, options, path=""):
    """Drop rows with missing values, keep them for imputation, or refuse."""
    missing = frame[columns].isna().any(axis=1)
    if not missing.any() or options.impute:
        return frame, 0
    if options.drop_missing:
        kept = frame[~missing]
        if len(kept) == 0:
            raise DataError(f"{path}: every row has a missing value; use {{impute}} instead",
                            impute=IMPUTE_STRATEGIES)
        return kept, int(missing.sum())
    raise missing_values_error(frame[columns], path)


def train_table(frame, options, callback=None, path="", solver_state=None):
    """Fit preprocessing and the estimator on a table.

    Returns the :class:`TableModel` (its ``summary`` holds the report), the
    fitted estimator, and the training matrix X and labels y it saw.
    """
    started = time.perf_counter()
    columns = select_features(frame, options, path)
    classes = choose_classes(frame[options.target], options.positive, path)
    frame, dropped = handle_missing(frame, columns, options, path)
    train, valid = _split(frame, options, classes)
    preprocessor, X = Preprocessor.fit(train[columns], impute=options.impute, path=path)
    y = encode_target(train[options.target], classes, path)
    clf = LogisticRegression(**options.estimator, callback=callback)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(X, y, solver_state=solver_state)
    model = TableModel(target=options.target, classes=classes, preprocessor=preprocessor,
                       coef=clf.coef_.ravel().astype(np.float64),
                       intercept=float(clf.intercept_[0]), params=clf.get_params(),
                       history=clf.history_)
    model.params.pop("callback", None)
    report = {"rows": int(len(train)), "dropped_missing": dropped,
              "features_in": len(columns), "features_out": int(X.shape[1]),
              "positive": classes[1], "negative": classes[0],
              "iterations": int(clf.n_iter_), "converged": bool(clf.converged_),
              "warnings": [str(w.message) for w in caught],
              "train": classification_metrics(y, model.probabilities(X))}
    if valid is not None:
        report["validation"] = model.score(valid, path=path).metrics
    report["seconds"] = time.perf_counter() - started
    model.summary = report
    return model, clf, X, y


def _split(frame, options, classes):
    if not options.validation:
        return frame, None
    labels = label_strings(frame[options.target])
    try:
        return train_test_split(frame, test_size=options.validation,
                                random_state=options.seed, stratify=labels)
    except ValueError as exc:
        raise DataError(f"cannot hold out {options.validation:g} of {len(frame)} rows "
                        f"({exc}); use a larger file or a different {{validation}}",
                        validation=None) from None
