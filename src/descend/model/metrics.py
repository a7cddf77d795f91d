"""How well probabilities fit the labels (0/1, or K classes): the numbers
evaluate and train report.

Each is scikit-learn's definition (tested equal). The binary ones are computed
with one sort per class instead of scikit-learn's general checks and curves:
on millions of rows its ``roc_auc_score`` and ``log_loss`` took longer than
the fit.
"""
import numpy as np

from descend.engine.threads import default_threads, pool

#: Probabilities are clipped to [ε, 1 − ε] for the log-loss, as scikit-learn did.
PROBABILITY_CLIP = 1e-15
#: From this many rows the ROC AUC's two sorts run on two threads.
PARALLEL_ROWS = 100_000


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
    # NumPy sorts and searches with the GIL released: the two halves at once
    threads = pool(2) if len(score) >= PARALLEL_ROWS and default_threads() > 1 else None
    run = map if threads is None else threads.map
    positive, negative = run(np.sort, (score[positive], score[~positive]))
    below, above = run(lambda side: np.searchsorted(negative, positive, side=side),
                       ("left", "right"))
    pairs = float(len(positive)) * float(len(negative))
    return float((below.sum() + 0.5 * (above - below).sum()) / pairs)


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
    from sklearn import metrics  # the K-class report only

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
        # −mean log a_y, a_y clipped as the binary log-loss is
        "log_loss": float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y],
                                                  PROBABILITY_CLIP, 1.0)))),
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
