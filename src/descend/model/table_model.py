"""A model trained on a table: preprocessing, coefficients, labels, history.

This is what the command line trains, saves, loads and applies; it wraps
the coefficients of :class:`~descend.LogisticRegression` fitted on the
preprocessed matrix. Every command that applies a model to a table
(predict, evaluate, report, explain) goes through :meth:`TableModel.score`
or :meth:`TableModel.predict_frame`.
"""
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from descend.data import columns as kinds
from descend.data.preprocess import Preprocessor, as_arrow
from descend.data.tables import require_column
from descend.engine.numerics import sigmoid
from descend.engine.softmax import softmax
from descend.exceptions import DataError
from descend.model.labels import encode_target
from descend.model.metrics import classification_metrics, multiclass_metrics


class Scores(NamedTuple):
    """A model applied to a table with labels: X (n_rows, n_features_out),
    y (0/1), a = σ(Xw + b), and the metrics of a against y; for K classes
    y the class indices and a = softmax(XWᵀ + b), shape (n_rows, K)."""

    X: np.ndarray
    y: np.ndarray
    proba: np.ndarray
    metrics: dict


@dataclass
class TableModel:
    """Everything needed to apply a trained model to a new table."""

    target: str
    classes: list            # [negative, positive], or K ≥ 3 sorted labels, as strings
    preprocessor: Preprocessor
    coef: np.ndarray         # shape (n_features_out,), or (K, n_features_out)
    intercept: float         # or shape (K,) for K ≥ 3 classes
    params: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    #: What training warned about (not saved: the summary keeps their text).
    warnings: list = field(default_factory=list, repr=False)

    @property
    def positive(self):
        return self.classes[1]

    @property
    def multiclass(self):
        """K ≥ 3 classes: the softmax model."""
        return len(self.classes) > 2

    def metrics(self, y, proba):
        """The metrics of probabilities against labels, for two or K classes."""
        if self.multiclass:
            return multiclass_metrics(y, proba, self.classes)
        return classification_metrics(y, proba)

    def decision(self, X, path=""):
        """z = X w + b for the preprocessed matrix X, in float64; a
        :class:`DataError` where it is not finite (coefficients or values so
        large that the products overflow), never a probability made of an
        overflow.

        w is cast to X's dtype first: NumPy would otherwise copy a float32 X
        to float64 whole (a mapped X larger than memory included)."""
        w = self.coef.astype(X.dtype) if X.dtype.kind == "f" else self.coef
        with np.errstate(over="ignore", invalid="ignore"):
            z = (X @ w.T).astype(np.float64) + self.intercept
        bad = ~np.isfinite(z) if z.ndim == 1 else ~np.all(np.isfinite(z), axis=1)
        if bad.any():
            with np.errstate(over="ignore", invalid="ignore"):
                largest = float(np.max(np.abs(X[bad]))) if X.size else 0.0
            raise DataError(
                f"{path}: w·x + b overflows for {int(bad.sum())} of {len(z)} rows (coefficients "
                f"as large as {float(np.max(np.abs(self.coef), initial=0.0)):.3g}, values as "
                f"large as {largest:.3g} after preprocessing); the model file is damaged or "
                "the values are out of all proportion to the training data")
        return z

    def scorable(self, table):
        """Rows the model can score: all, or those without missing feature
        values when it was trained without an imputer."""
        ok = np.ones(table.num_rows, dtype=bool)
        if self.preprocessor.numeric["fill"] is not None:
            return ok
        for name in self.preprocessor.columns:
            if name in table.column_names:
                ok &= ~kinds.missing_mask(table.column(name))
        return ok

    def predict_table(self, data, path=""):
        """Each row's predicted label and probability of the positive class,
        as an Arrow table of two columns (``predicted``, ``probability_…``).

        Rows with missing values that the model cannot fill get no prediction
        (nulls); the caller reports how many.
        """
        table = as_arrow(data)
        ok = self.scorable(table)
        if self.multiclass:
            return self._predict_classes(table, ok, path)
        proba = np.full(table.num_rows, np.nan)
        if ok.any():
            part = table if ok.all() else table.filter(pa.array(ok))
            proba[ok] = self.probabilities(self.preprocessor.transform(part, path), path)
        labels = pc.if_else(pa.array(proba > 0.5), self.classes[1], self.classes[0])
        labels = pc.if_else(pa.array(ok), labels, pa.scalar(None, pa.string()))
        return pa.table({"predicted": labels,
                         f"probability_{self.positive}": pa.array(proba, from_pandas=True)})

    def _predict_classes(self, table, ok, path):
        """K classes: ``predicted`` (the most probable) and ``probability_<class>``
        for each class, in the order of ``classes``."""
        proba = np.full((table.num_rows, len(self.classes)), np.nan)
        if ok.any():
            part = table if ok.all() else table.filter(pa.array(ok))
            proba[ok] = self.probabilities(self.preprocessor.transform(part, path), path)
        best = np.argmax(np.where(ok[:, None], proba, 0.0), axis=1)
        labels = pa.array(np.array(self.classes, dtype=object)[best], pa.string())
        labels = pc.if_else(pa.array(ok), labels, pa.scalar(None, pa.string()))
        columns = {"predicted": labels}
        for k, name in enumerate(self.classes):
            columns[f"probability_{name}"] = pa.array(proba[:, k], from_pandas=True)
        return pa.table(columns)

    def predict_frame(self, frame, path=""):
        """:meth:`predict_table` as a pandas DataFrame."""
        return self.predict_table(frame, path).to_pandas()

    def probabilities(self, X, path=""):
        """a = σ(X w + b) for the preprocessed matrix X, shape (n_rows,); for
        K classes softmax(X Wᵀ + b), shape (n_rows, K)."""
        z = self.decision(X, path)
        return softmax(z) if z.ndim == 2 else sigmoid(z)

    def score_rows(self, rows, target=None, path=""):
        """:meth:`score` over rows read block by block
        (:class:`~descend.data.design.TableRows` or ``StreamRows``): X is not kept."""
        target = target or self.target
        require_column(rows.schema.names, target, path)
        self.preprocessor.require_columns(rows.schema.names, path)
        parts = rows.scan(lambda: _Collect(self, target, path), [*self.preprocessor.columns,
                                                                  target])
        if not parts.y:
            raise DataError(f"{path}: only a header, no data rows")
        y, proba = np.concatenate(parts.y), np.concatenate(parts.proba)
        return Scores(None, y, proba, self.metrics(y, proba))

    def score(self, frame, target=None, path=""):
        """The model on a table with labels in ``target`` (default: the
        column it was trained on): X, y, a and the metrics, as :class:`Scores`."""
        table = as_arrow(frame)
        target = target or self.target
        require_column(table, target, path)
        X, y, proba = self.labelled_rows(table, target, path)
        return Scores(X, y, proba, self.metrics(y, proba))

    def labelled_rows(self, table, target, path=""):
        """(X, y as 0/1 or class indices, the probabilities) of a table or
        block that has the target."""
        y = encode_target(table.column(target), self.classes, path)
        X = self.preprocessor.transform(table, path)
        return X, y, self.probabilities(X, path)


class _Collect:
    """Labels and probabilities of each block, for :meth:`TableModel.score_rows`."""

    def __init__(self, model, target, path):
        self.model, self.target, self.path = model, target, path
        self.y, self.proba = [], []

    def __call__(self, batch):
        _, y, proba = self.model.labelled_rows(batch, self.target, self.path)
        self.y.append(y)
        self.proba.append(proba)
