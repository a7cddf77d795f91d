"""The report's sections for a model of K ≥ 3 classes.

The same page as two classes (:mod:`descend.viz.report`), with what changes
for K classes: class counts, the K-class metrics, the K × K confusion matrix
as a heat map, W as a heat map, the decision regions of two numeric
features, and the K-class lesson table of one row.
"""
import html

import numpy as np

from descend.data.columns import as_numbers
from descend.lesson.one_step import step as lesson_step
from descend.lesson.softmax_text import softmax_lesson_text
from descend.viz import plots


def class_counts(classes, y):
    """"12 × a, 30 × b, …" for the data summary."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(classes))
    return ", ".join(f"{int(n)} × {html.escape(str(c))}" for c, n in zip(classes, counts))


def quality_html(scores, classes, svg, table):
    """Metrics (overall and per class) and the confusion heat map."""
    overall = [(k, f"{scores[k]:.4f}") for k in
               ("log_loss", "accuracy", "macro_precision", "macro_recall", "macro_f1",
                "weighted_f1", "roc_auc")]
    per_class = [(c["class"], f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}",
                  c["support"], f"{c['roc_auc']:.4f}") for c in scores["per_class"]]
    return ("<section><h2>Quality</h2><div class=grid>"
            f"<div>{table(overall, ['metric', 'value'])}</div>"
            f"<figure>{svg(plots.confusion_figure(scores['confusion_matrix'], classes))}"
            "</figure></div>"
            f"{table(per_class, ['class', 'precision', 'recall', 'F1', 'support', 'ROC AUC (ovr)'])}"
            "</section>")


def regions_html(model, table, y, svg):
    """Decision regions when the model has exactly two numeric features."""
    pre = model.preprocessor
    if len(pre.numeric["columns"]) != 2 or pre.categorical["columns"]:
        return ""
    cols = pre.numeric["columns"]
    mean, scale = np.asarray(pre.numeric["mean"]), np.asarray(pre.numeric["scale"])
    W = model.coef / scale  # back to the data's own units
    b = model.intercept - W @ mean
    raw = np.column_stack([as_numbers(table.column(c)) for c in cols])
    fig = plots.region_figure(raw, np.asarray(y, dtype=np.int64), W, b, cols, model.classes)
    return f"<section><h2>Decision regions</h2><figure>{svg(fig)}</figure></section>"


def class_sections(model, table, scored, row, alpha, svg, table_html):
    """Every section but the data summary and the loss (shared with two classes)."""
    X, y, _, scores = scored
    names = model.preprocessor.feature_names
    example = lesson_step(X[row], int(y[row]), model.coef, model.intercept, alpha)
    lesson = softmax_lesson_text(example, names, model.classes, top=10)
    return [
        quality_html(scores, model.classes, svg, table_html),
        "<section><h2>Coefficients</h2><figure>"
        f"{svg(plots.coefficient_matrix_figure(names, model.classes, model.coef))}"
        "</figure></section>",
        regions_html(model, table, y, svg),
        f"<section><h2>The lesson on row {row}</h2><pre>{html.escape(lesson)}</pre></section>",
    ]
