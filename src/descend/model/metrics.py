"""How well probabilities fit 0/1 labels: the numbers evaluate and train report."""
import numpy as np
from sklearn import metrics


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
