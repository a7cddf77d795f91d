"""How well probabilities fit the labels (0/1, or K classes): the numbers
evaluate and train report."""
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


def multiclass_metrics(y, proba, classes):
    """The K-class metrics, scikit-learn's: log-loss, accuracy, per-class and
    macro/weighted precision, recall and F1, one-vs-rest ROC AUC, the K × K
    confusion matrix (rows: true class, columns: predicted).

    Parameters
    ----------
    y : ndarray of shape (m,), class indices in [0, K)
    proba : ndarray of shape (m, K), rows summing to 1
    classes : list of K labels (names for the per-class entries)
    """
    y = np.asarray(y).astype(np.int64)
    K = len(classes)
    labels = np.arange(K)
    pred = np.argmax(proba, axis=1)
    confusion = np.bincount(K * y + pred, minlength=K * K).reshape(K, K)
    p, r, f, support = metrics.precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0)
    averages = {avg: metrics.precision_recall_fscore_support(
        y, pred, labels=labels, average=avg, zero_division=0)[:3] for avg in ("macro", "weighted")}
    present = np.unique(y)
    auc = [float(metrics.roc_auc_score(y == k, proba[:, k])) if k in present and
           len(present) > 1 else float("nan") for k in labels]
    return {
        "rows": int(len(y)),
        # −mean log a_y, a_y clipped at 1e-15 as the binary log-loss is
        "log_loss": float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)))),
        "accuracy": float(np.trace(confusion) / len(y)),
        "per_class": [{"class": str(c), "precision": float(p[k]), "recall": float(r[k]),
                       "f1": float(f[k]), "support": int(support[k]), "roc_auc": auc[k]}
                      for k, c in enumerate(classes)],
        **{f"{avg}_{name}": float(value) for avg, values in averages.items()
           for name, value in zip(("precision", "recall", "f1"), values)},
        # one-vs-rest, macro over the classes present in y (scikit-learn's ovr AUC)
        "roc_auc": float(np.nanmean(auc)) if len(present) > 1 else float("nan"),
        "confusion_matrix": confusion.tolist(),
    }
