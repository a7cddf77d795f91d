"""How well probabilities fit 0/1 labels: the numbers evaluate and train report.

Each is scikit-learn's definition (tested equal), computed with one sort per
class instead of scikit-learn's general checks and curves: on millions of rows
its ``roc_auc_score`` and ``log_loss`` took longer than the fit.
"""
import numpy as np

#: Probabilities are clipped to [ε, 1 − ε] for the log-loss, as scikit-learn did.
PROBABILITY_CLIP = 1e-15


def classification_metrics(y, proba):
    """Log-loss, accuracy, precision, recall, ROC AUC and the confusion matrix.

    The confusion matrix is counted once (``np.bincount``) and accuracy,
    precision and recall read from it, as scikit-learn defines them (a
    precision or recall with nothing to divide is 0).
    """
    y = np.asarray(y).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    pred = (proba > 0.5).astype(np.int64)
    (tn, fp), (fn, tp) = confusion = np.bincount(2 * y + pred, minlength=4).reshape(2, 2)
    both = tn + fp > 0 and fn + tp > 0
    return {
        "rows": int(len(y)),
        "log_loss": log_loss(y, proba),
        "accuracy": float((tn + tp) / len(y)),
        "precision": float(tp / (tp + fp)) if tp + fp else 0.0,
        "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
        "roc_auc": roc_auc(y, proba) if both else float("nan"),
        "confusion_matrix": confusion.tolist(),
    }


def log_loss(y, proba):
    """−mean[y log a + (1 − y) log(1 − a)], with a clipped to [1e-15, 1 − 1e-15]."""
    a = np.clip(proba, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    return float(-np.mean(np.where(y == 1, np.log(a), np.log1p(-a))))


def roc_auc(y, score):
    """Area under the ROC curve: the share of (positive, negative) pairs in
    which the positive scores higher, a tie counting half (Mann–Whitney)."""
    positive, negative = np.sort(score[y == 1]), np.sort(score[y == 0])
    below = np.searchsorted(negative, positive, side="left")
    tied = np.searchsorted(negative, positive, side="right") - below
    pairs = float(len(positive)) * float(len(negative))
    return float((below.sum() + 0.5 * tied.sum()) / pairs)
