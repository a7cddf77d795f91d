"""A model trained on a table: preprocessing, coefficients, labels, history.

This is what the command line trains, saves, loads and applies; it wraps
:class:`~descend.LogisticRegression` fitted on the preprocessed matrix.
"""
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from descend.data.preprocess import Preprocessor, missing_values_error
from descend.engine.numerics import sigmoid
from descend.estimator import LogisticRegression
from descend.exceptions import DataError, UsageError


def label_strings(values):
    """Target values as the strings a model stores and compares ("yes", "1", "True")."""
    return pd.Series(values).map(lambda v: str(v) if not pd.isna(v) else None)


def _sort_key(label):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def choose_classes(target, positive=None, path=""):
    """[negative, positive] labels of a target column with exactly two values."""
    labels = label_strings(target)
    if labels.isna().any():
        raise DataError(f"{path}: the target column has {int(labels.isna().sum())} missing "
                        "values; fill them or drop those rows")
    values = sorted(labels.unique(), key=_sort_key)
    if len(values) != 2:
        shown = ", ".join(repr(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise DataError(f"{path}: the target must have exactly two values, it has "
                        f"{len(values)} ({shown}); pick a yes/no column or map it to two values")
    if positive is None:
        return values
    if str(positive) not in values:
        raise UsageError(f"--positive {positive!r} is not a value of the target; "
                         f"use one of {values}")
    return [v for v in values if v != str(positive)] + [str(positive)]


@dataclass
class TableModel:
    """Everything needed to apply a trained model to a new table."""

    target: str
    classes: list            # [negative, positive], as strings
    preprocessor: Preprocessor
    coef: np.ndarray         # shape (n_features_out,)
    intercept: float
    params: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    @property
    def positive(self):
        return self.classes[1]

    def decision(self, X):
        """z = X w + b for the preprocessed matrix X."""
        return X @ self.coef + self.intercept

    def scorable(self, frame):
        """Rows the model can score: all, or those without missing feature
        values when it was trained without an imputer."""
        if self.preprocessor.numeric["fill"] is not None or not self.preprocessor.columns:
            return np.ones(len(frame), dtype=bool)
        present = [c for c in self.preprocessor.columns if c in frame.columns]
        return ~frame[present].isna().any(axis=1).to_numpy()

    def predict_frame(self, frame, path=""):
        """Each row's predicted label and probability of the positive class.

        Rows with missing values that the model cannot fill get no prediction
        (empty cells); the caller reports how many.
        """
        ok = self.scorable(frame)
        proba = np.full(len(frame), np.nan)
        if ok.any():
            proba[ok] = sigmoid(self.decision(self.preprocessor.transform(frame[ok], path)))
        labels = np.where(proba > 0.5, self.classes[1], self.classes[0]).astype(object)
        labels[~ok] = None
        return pd.DataFrame({"predicted": labels, f"probability_{self.positive}": proba})

    def labels_and_probabilities(self, frame, path=""):
        """(y as 0/1, a = σ(z)) for a table that has the target column."""
        y = encode_target(frame[self.target], self.classes, path)
        return y, sigmoid(self.decision(self.preprocessor.transform(frame, path)))

    def evaluate_frame(self, frame, path=""):
        """Metrics of the model on a table that has the target column."""
        return classification_metrics(*self.labels_and_probabilities(frame, path))


def encode_target(column, classes, path=""):
    """1 where the label is the positive class, 0 for the negative; others are errors."""
    labels = label_strings(column)
    unknown = sorted(set(labels.dropna()) - set(classes))
    if unknown or labels.isna().any():
        what = f"labels {unknown[:5]}" if unknown else "missing labels"
        raise DataError(f"{path}: the target column has {what} the model does not know; "
                        f"it was trained on {classes}")
    return (labels == classes[1]).to_numpy(dtype=np.float64)


def classification_metrics(y, proba):
    """Log-loss, accuracy, precision, recall, ROC AUC and the confusion matrix."""
    pred = (proba > 0.5).astype(float)
    both = len(np.unique(y)) == 2
    return {
        "rows": int(len(y)),
        "log_loss": float(metrics.log_loss(y, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": float(metrics.accuracy_score(y, pred)),
        "precision": float(metrics.precision_score(y, pred, zero_division=0)),
        "recall": float(metrics.recall_score(y, pred, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(y, proba)) if both else float("nan"),
        "confusion_matrix": metrics.confusion_matrix(y, pred, labels=[0, 1]).tolist(),
    }


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


def select_features(frame, options, path=""):
    """The feature columns: --features, else all but the target and --drop."""
    from descend.data.tables import require_column
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
            raise DataError(f"{path}: every row has a missing value; use --impute instead")
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
              "train": classification_metrics(y, sigmoid(X @ model.coef + model.intercept))}
    if valid is not None:
        report["validation"] = model.evaluate_frame(valid, path)
    report["seconds"] = time.perf_counter() - started
    model.summary = report
    return model, clf, X, y


def _split(frame, options, classes):
    if not options.validation:
        return frame, None
    if not 0 < options.validation < 1:
        raise UsageError("--validation must be a fraction between 0 and 1, e.g. 0.2")
    labels = label_strings(frame[options.target])
    try:
        return train_test_split(frame, test_size=options.validation,
                                random_state=options.seed, stratify=labels)
    except ValueError as exc:
        raise DataError(f"cannot hold out {options.validation:g} of {len(frame)} rows "
                        f"({exc}); use a larger file or a different --validation") from None
