"""How well probabilities fit 0/1 labels: the numbers evaluate and train report."""
import numpy as np
from sklearn import metrics


def classification_metrics(y, proba):
    """Log-loss, accuracy, precision, recall, ROC AUC and the confusion matrix.

    The confusion matrix is counted once (``np.bincount``) and accuracy,
    precision and recall read from it, as scikit-learn defines them (a
    precision or recall with nothing to divide is 0).
    """
    y = np.asarray(y).astype(np.int64)
    pred = (proba > 0.5).astype(np.int64)
    (tn, fp), (fn, tp) = confusion = np.bincount(2 * y + pred, minlength=4).reshape(2, 2)
    both = tn + fp > 0 and fn + tp > 0
    return {
        "rows": int(len(y)),
        "log_loss": float(metrics.log_loss(y, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": float((tn + tp) / len(y)),
        "precision": float(tp / (tp + fp)) if tp + fp else 0.0,
        "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
        "roc_auc": float(metrics.roc_auc_score(y, proba)) if both else float("nan"),
        "confusion_matrix": confusion.tolist(),
    }
