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
import pandas as pd

from descend.data.preprocess import Preprocessor
from descend.data.tables import require_column
from descend.engine.numerics import sigmoid
from descend.model.labels import encode_target
from descend.model.metrics import classification_metrics


class Scores(NamedTuple):
    """A model applied to a table with labels: X (n_rows, n_features_out),
    y (0/1), a = σ(Xw + b), and the metrics of a against y."""

    X: np.ndarray
    y: np.ndarray
    proba: np.ndarray
    metrics: dict


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
            proba[ok] = self.probabilities(self.preprocessor.transform(frame[ok], path))
        labels = np.where(proba > 0.5, self.classes[1], self.classes[0]).astype(object)
        labels[~ok] = None
        return pd.DataFrame({"predicted": labels, f"probability_{self.positive}": proba})

    def probabilities(self, X):
        """a = σ(X w + b) for the preprocessed matrix X, shape (n_rows,)."""
        return sigmoid(self.decision(X))

    def score(self, frame, target=None, path=""):
        """The model on a table with labels in ``target`` (default: the
        column it was trained on): X, y, a and the metrics, as :class:`Scores`."""
        target = target or self.target
        require_column(frame, target, path)
        y = encode_target(frame[target], self.classes, path)
        X = self.preprocessor.transform(frame, path)
        proba = self.probabilities(X)
        return Scores(X, y, proba, classification_metrics(y, proba))
