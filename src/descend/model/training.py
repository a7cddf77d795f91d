"""Training a :class:`TableModel` on a table: columns, missing values, the
hold-out, preprocessing, then :class:`~descend.LogisticRegression`."""
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from descend.data.design import (
    TableRows,
    build_design_matrix,
    collect_statistics,
    read_labels_and_gaps,
    read_labels_gaps_and_statistics,
)
from descend.data.preprocess import (
    ENCODINGS,
    IMPUTE_STRATEGIES,
    Preprocessor,
    as_arrow,
    missing_values_error,
)
from descend.data.tables import select_features
from descend.exceptions import DataError, DescendWarning, UsageError
from descend.model.labels import choose_classes, encode_target, missing_labels_error
from descend.model.selection import check_classifier_options, make_classifier, selection_report
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
    dtype: str = None
    categorical: str = "auto"   # one-hot columns written, or kept as codes

    def __post_init__(self):
        """Check every option before any data is read."""
        _check_option_types(self)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise UsageError(f"{{seed}} must be a whole number ≥ 0, got {self.seed!r}",
                             seed=None)
        for option in ("features", "drop"):
            names = getattr(self, option) or []
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise UsageError(f"{{{option}}} names {twice} more than once", **{option: None})
        check_classifier_options(self.estimator)
        if self.validation is not None and not 0 < self.validation < 1:
            raise UsageError("{validation} must be a fraction between 0 and 1, e.g. 0.2",
                             validation=None)
        if self.impute is not None and self.impute not in IMPUTE_STRATEGIES:
            raise UsageError(f"unknown {{impute}} strategy {self.impute!r}",
                             impute=IMPUTE_STRATEGIES)
        if self.categorical not in ENCODINGS:
            raise UsageError(f"{{categorical}} must be one of {ENCODINGS}, got "
                             f"{self.categorical!r}"[:300], categorical=None)


def _is_text_list(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


#: The type each option of :class:`TrainOptions` must have (None allowed where noted).
_OPTION_TYPES = {
    "target": (lambda v: isinstance(v, str), "a column name"),
    "features": (lambda v: v is None or _is_text_list(v), "a list of column names"),
    "drop": (lambda v: v is None or _is_text_list(v), "a list of column names"),
    "positive": (lambda v: v is None or isinstance(v, str), "a label"),
    "drop_missing": (lambda v: isinstance(v, bool), "True or False"),
    "impute": (lambda v: v is None or isinstance(v, str), "a strategy name"),
    "validation": (lambda v: v is None or (isinstance(v, (int, float))
                                           and not isinstance(v, bool)), "a fraction"),
    "estimator": (lambda v: isinstance(v, dict), "a dict of estimator parameters"),
    "dtype": (lambda v: v in (None, "float32", "float64"), "float32, float64 or None"),
    "categorical": (lambda v: isinstance(v, str), "auto, onehot or codes"),
}


def _check_option_types(options):
    """A UsageError for an option of the wrong type (options read back from a
    file, or given from Python)."""
    for name, (ok, what) in _OPTION_TYPES.items():
        value = getattr(options, name)
        if not ok(value):
            raise UsageError(f"{{{name}}} must be {what}, got {value!r}"[:300], **{name: None})


class Prepared:
    """A table turned into training (and held-out) rows of X, with what it took."""

    def __init__(self, X, y, n_train, preprocessor, classes, columns, dropped):
        self.X, self.y, self.n_train = X, y, n_train
        self.preprocessor, self.classes, self.columns = preprocessor, classes, columns
        self.dropped = dropped

    @property
    def train(self):
        return self.X[:self.n_train], self.y[:self.n_train]

    @property
    def validation(self):
        if self.n_train == len(self.y):
            return None
        return self.X[self.n_train:], self.y[self.n_train:]


def prepare(rows, options, path="", allocate=None):
    """The passes over ``rows``: labels and gaps, the statistics of the
    training rows, then X with the training rows first; without a hold-out
    to draw from the labels the first two are one pass. ``allocate(n_rows,
    n_features)`` may supply X's zeroed storage (a memory map) and its dtype;
    else X is ``options.dtype`` (float64 by default) in memory."""
    columns = select_features(rows.schema.names, options, path)
    if options.validation:
        keep, classes, y_all, dropped, _ = _labelled_rows(rows, columns, options, path)
        order = _training_order(np.flatnonzero(keep), y_all, options)
        is_train = np.zeros(len(keep), dtype=bool)
        is_train[order[0]] = True
        stats = collect_statistics(rows, columns, is_train, options.impute, path)
        del is_train
    else:
        keep, classes, y_all, dropped, stats = _labelled_rows(rows, columns, options, path,
                                                              with_statistics=True)
        order = None
    preprocessor = Preprocessor.from_statistics(stats, options.impute, path, options.categorical)
    _warn_about_identifiers(preprocessor, stats.rows, path)
    positions, y, n_train = _layout(keep, y_all, order)
    del keep, y_all, order  # a row's worth of each, on millions of rows
    dtype = np.dtype(options.dtype or np.float64)
    out = None if allocate is None else preprocessor.allocate(len(y), dtype, allocate)
    dtype = dtype if out is None else out.dtype
    X = build_design_matrix(rows, preprocessor, positions, len(y), dtype, out, path)
    return Prepared(X, y, n_train, preprocessor, classes, columns, dropped)


def _labelled_rows(rows, columns, options, path, with_statistics=False):
    """Pass 1: the rows to keep, the two classes, the kept rows' 0/1 labels
    and what was dropped (the labels' text is let go here); with
    ``with_statistics``, also the statistics of the kept rows (else None)."""
    if with_statistics:
        *first, stats = read_labels_gaps_and_statistics(rows, options.target, columns,
                                                         options.impute, path)
    else:
        first, stats = read_labels_and_gaps(rows, options.target, columns), None
    labels, gaps, missing = first
    keep, dropped = _rows_to_keep(labels, gaps, missing, options, path)
    kept = labels if keep.all() else labels.filter(keep)
    classes = choose_classes(kept, options.positive, path)
    return keep, classes, encode_target(kept, classes, path), dropped, stats


def _layout(keep, y_kept, order=None):
    """(position in X of each row, or −1 to leave it out; y in X's row
    order; training rows) for the kept rows, the training rows of ``order``
    first; without ``order`` the kept rows train in file order, and when
    every row is kept the positions are None: row i of X is row i."""
    if order is None:
        if keep.all():
            return None, y_kept, len(y_kept)
        order = np.flatnonzero(keep), np.empty(0, dtype=np.int64)
    positions = np.full(len(keep), -1, dtype=np.int64)
    ranked = np.concatenate(order)
    positions[ranked] = np.arange(len(ranked))
    y = np.empty(len(ranked))
    y[positions[np.flatnonzero(keep)]] = y_kept
    return positions, y, len(order[0])


#: A text column with more levels than this share of the rows (and at least
#: ``IDENTIFIER_LEVELS``) is an identifier or numbers read as text, not a category.
IDENTIFIER_SHARE = 0.5
IDENTIFIER_LEVELS = 50


def _warn_about_identifiers(preprocessor, rows, path):
    for name, levels in zip(preprocessor.categorical["columns"],
                            preprocessor.categorical["categories"]):
        if len(levels) >= max(IDENTIFIER_LEVELS, IDENTIFIER_SHARE * rows):
            warnings.warn(DescendWarning(
                f"{path}: column {name!r} has {len(levels)} different values in {rows} rows "
                f"(an identifier, or numbers read as text?) and became {len(levels)} "
                "features; leave it out with {drop}", drop=name))


def _rows_to_keep(labels, gaps, missing, options, path):
    """Rows with a label and, unless imputed, every feature; the others are
    dropped with ``drop_missing`` or refused."""
    no_label = labels.is_null().to_numpy(zero_copy_only=False)
    if no_label.any() and not options.drop_missing:
        raise missing_labels_error(int(no_label.sum()), path)
    drop = no_label.copy()
    if missing and not options.impute:
        if not options.drop_missing:
            raise missing_values_error(missing, path)
        drop |= gaps
    if drop.all():
        raise DataError(f"{path}: every row has a missing value; use {{impute}} instead",
                        impute=IMPUTE_STRATEGIES)
    dropped = {"missing_target": int(no_label.sum()),
               "missing_features": int((drop & ~no_label).sum())}
    return ~drop, dropped


def _training_order(kept_rows, y, options):
    """(training rows, held-out rows) as row numbers; the hold-out is
    scikit-learn's stratified split of the kept rows."""
    if not options.validation:
        return kept_rows, np.empty(0, dtype=np.int64)
    try:
        train, valid = train_test_split(kept_rows, test_size=options.validation,
                                        random_state=options.seed, stratify=y)
    except ValueError as exc:
        raise DataError(f"cannot hold out {options.validation:g} of {len(kept_rows)} rows "
                        f"({exc}); use a larger file or a different {{validation}}",
                        validation=None) from None
    return train, valid


def fit_prepared(prepared, options, callback=None, solver_state=None):
    """Fit the estimator on the training rows; the :class:`TableModel` and the estimator."""
    X, y = prepared.train
    clf = make_classifier(options.estimator, callback=callback)
    if hasattr(clf, "Cs"):  # C by cross-validation: many fits, none resumable
        clf.fit(X, y)
    else:
        clf.fit(X, y, solver_state=solver_state, eval_set=prepared.validation)
    two = len(prepared.classes) == 2
    # two classes: w (n,) and b; K classes: W (K, n) and b (K,)
    model = TableModel(target=options.target, classes=prepared.classes,
                       preprocessor=prepared.preprocessor,
                       coef=(clf.coef_.ravel() if two else clf.coef_).astype(np.float64),
                       intercept=float(clf.intercept_[0]) if two else
                       clf.intercept_.astype(np.float64), params=clf.get_params(),
                       history=clf.history_)
    model.params.pop("callback", None)
    return model, clf


def summarise(model, clf, prepared, seconds, train_metrics=None):
    """The report ``descend train`` prints and the model file keeps
    (``train_metrics``: those of the training rows, when computed elsewhere)."""
    X, y = prepared.train
    report = {"rows": int(len(y)), "dropped_missing": sum(prepared.dropped.values()),
              "dropped": prepared.dropped,
              "features_in": len(prepared.columns), "features_out": int(X.shape[1]),
              **({"positive": prepared.classes[1], "negative": prepared.classes[0]}
                 if len(prepared.classes) == 2 else {"classes": list(prepared.classes)}),
              "iterations": int(getattr(clf, "n_iter_final_", clf.n_iter_)),
              "converged": bool(clf.converged_),
              "nonzero": int(np.count_nonzero(clf.coef_)), "coefficients": int(clf.coef_.size),
              "warnings": [str(w) for w in model.warnings],
              "train": train_metrics or model.metrics(y, model.probabilities(X)),
              "seconds": sum(seconds.values()), "timings": seconds}
    if hasattr(clf, "Cs_"):
        report["cv"], model.path_coefs = selection_report(clf)
    if prepared.validation is not None:
        Xv, yv = prepared.validation
        report["validation"] = model.metrics(yv, model.probabilities(Xv))
    model.summary = report


def train_rows(rows, options, callback=None, path="", solver_state=None, allocate=None,
               read_seconds=0.0):
    """Prepare ``rows`` and fit; returns the :class:`TableModel` (its
    ``summary`` holds the report), the fitted estimator and the prepared data."""
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("always", DescendWarning)
        prepared = prepare(rows, options, path, allocate)
        rows.release()
        prepared_at = time.perf_counter()
        model, clf = fit_prepared(prepared, options, callback, solver_state)
    model.warnings = [w.message for w in caught
                      if issubclass(w.category, (ConvergenceWarning, DescendWarning))]
    seconds = {"read": read_seconds, "prepare": prepared_at - started,
               "fit": time.perf_counter() - prepared_at}
    summarise(model, clf, prepared, seconds)
    return model, clf, prepared


def train_table(data, options, callback=None, path="", solver_state=None):
    """Fit preprocessing and the estimator on a whole table (pandas or Arrow).

    Returns the :class:`TableModel` (its ``summary`` holds the report), the
    fitted estimator, and the training matrix X and labels y it saw.
    """
    model, clf, prepared = train_rows(TableRows(as_arrow(data), path), options, callback,
                                      path, solver_state)
    return (model, clf, *prepared.train)
