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

    The confusion matrix is counted once and accuracy, precision and
    recall read from it, as scikit-learn defines them (a
    precision or recall with nothing to divide is 0).
    """
    positive = np.asarray(y) == 1  # masks of one byte a row: millions of rows
    proba = np.asarray(proba, dtype=np.float64)
    predicted = proba > 0.5
    tp = np.count_nonzero(positive & predicted)
    fp, fn = np.count_nonzero(predicted) - tp, np.count_nonzero(positive) - tp
    tn = len(proba) - tp - fp - fn
    confusion = np.array([[tn, fp], [fn, tp]])
    both = tn + fp > 0 and fn + tp > 0
    return {
        "rows": int(len(proba)),
        "log_loss": log_loss(positive, proba),
        "accuracy": float((tn + tp) / len(proba)),
        "precision": float(tp / (tp + fp)) if tp + fp else 0.0,
        "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
        "roc_auc": roc_auc(positive, proba) if both else float("nan"),
        "confusion_matrix": confusion.tolist(),
    }


def log_loss(positive, proba):
    """−mean[y log a + (1 − y) log(1 − a)], with a clipped to [1e-15, 1 − 1e-15];
    ``positive`` is the mask y = 1."""
    a = np.clip(proba, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    total = np.log(a[positive]).sum() + np.log1p(-a[~positive]).sum()
    return float(-total / len(a))


def roc_auc(positive, score):
    """Area under the ROC curve: the share of (positive, negative) pairs in
    which the positive scores higher, a tie counting half (Mann–Whitney);
    ``positive`` is the mask y = 1."""
    positive, negative = np.sort(score[positive]), np.sort(score[~positive])
    below = np.searchsorted(negative, positive, side="left")
    tied = np.searchsorted(negative, positive, side="right") - below
    pairs = float(len(positive)) * float(len(negative))
    return float((below.sum() + 0.5 * tied.sum()) / pairs)
