"""The HTML report: one self-contained page, no network, readable on a phone.

Figures are inline SVG (matplotlib, Graphviz); the CSS is in the page.
"""
import base64
import html

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from descend.data.columns import as_numbers
from descend.lesson.one_step import check_row
from descend.lesson.one_step import step as lesson_step
from descend.lesson.text import lesson_text
from descend.lesson.units import row_sources
from descend.model.modelfile import load_model_and_table
from descend.viz import graphdraw, plots

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;
 color:#222;background:#fafafa;line-height:1.45}
main{max-width:980px;margin:auto;padding:12px}
h1{font-size:1.5em;margin:.4em 0;overflow-wrap:anywhere}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em}
section{background:#fff;border:1px solid #e4e4e4;border-radius:6px;padding:10px 14px;margin:12px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:12px}
.grid>*{min-width:0}section{overflow-x:auto}
figure{margin:0}figure svg,figure img{width:100%;max-width:760px;height:auto}
table{border-collapse:collapse;font-size:.9em;overflow-x:auto;display:block;max-width:100%}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f3f3f3}
.graph svg{min-width:600px}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:.85em}
"""


def _svg(fig):
    data = plots.figure_bytes(fig, "svg").decode("utf-8")
    return data[data.index("<svg"):]


def _table(rows, header):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _data_summary(table, target, classes, y):
    """Each column's summary: numbers (mean, std, min, max) and text (levels,
    most frequent), with missing counts, from Arrow's kernels."""
    numeric, text = [], []
    for name in table.column_names[:60]:
        if name == target:
            continue
        column = table.column(name)
        missing = int(pc.sum(pc.is_null(column, nan_is_null=True)).as_py() or 0)
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            numeric.append((name, *(_number(pc.call_function(f, [column]))
                                    for f in ("mean", "stddev", "min", "max")), missing))
        else:
            text.append((name, *_levels(column), missing))
    if len(classes) > 2:
        from descend.viz.report_classes import class_counts
        counts = class_counts(classes, y)
    else:
        counts = f"{int((y == 0).sum())} × {html.escape(classes[0])}, " \
                 f"{int((y == 1).sum())} × {html.escape(classes[1])}"
    return (f"<p>{table.num_rows} rows, {table.num_columns} columns; target "
            f"<b>{html.escape(target)}</b>: {counts}.</p>"
            + (_table(numeric, ["column", "mean", "std", "min", "max", "missing"])
               if numeric else "")
            + (_table(text, ["column", "levels", "most frequent", "count", "missing"])
               if text else ""))


def _number(scalar):
    value = scalar.as_py()
    return "" if value is None else f"{value:.4g}"


def _levels(column):
    """(number of levels, the most frequent, its count) of a text column."""
    counts = pc.value_counts(pc.drop_null(column.cast(pa.string())))
    if len(counts) == 0:
        return 0, "", 0
    top = int(pc.index(counts.field("counts"), pc.max(counts.field("counts"))).as_py())
    return len(counts), counts.field("values")[top].as_py(), counts.field("counts")[top].as_py()


def _graph_html(example, names, sources=None):
    if graphdraw.has_dot():
        short = [s.short for s in sources] if sources else None
        svg = graphdraw.render(example, "svg", names, sources=short).decode("utf-8")
        return f"<figure class=graph>{svg[svg.index('<svg'):]}</figure>"
    return (f"<p>{html.escape(graphdraw.INSTALL_HINT)}.</p>"
            f"<pre>{html.escape(graphdraw.to_text(example, names))}</pre>")


def _boundary_html(model, table, y):
    pre = model.preprocessor
    if len(pre.numeric["columns"]) != 2 or pre.categorical["columns"]:
        return ""
    cols = pre.numeric["columns"]
    mean, scale = np.asarray(pre.numeric["mean"]), np.asarray(pre.numeric["scale"])
    # Back to the data's own units: w·(x − μ)/σ + b = 0.
    w = model.coef / scale
    b = model.intercept - w @ mean
    raw = np.column_stack([as_numbers(table.column(c)) for c in cols])
    fig = plots.boundary_figure(raw, y, [(w, b, "w₁x₁ + w₂x₂ + b = 0")], names=cols,
                                labels=[f"{c} (y = {i})" for i, c in enumerate(model.classes)])
    return f"<section><h2>Decision boundary</h2><figure>{_svg(fig)}</figure></section>"


def _descent_html(model, X, y):
    """The model's settings run on these rows, drawn over J's contours."""
    from descend.viz.descent_picture import descent_figure
    from descend.viz.model_descent import model_descent_path
    run = model_descent_path(model, X, y)
    return ("<section><h2>Gradient descent on J</h2><p>The model's update rule and learning "
            f"rate run again on these {len(y)} rows in w and b's own units: the path of the "
            f"{len(run.losses)} iterates over J's contour lines, and J per iteration.</p>"
            f"<figure>{_svg(descent_figure(run))}</figure></section>")


def build_report(model_path, data_path, target, row, alpha, text_format=None, top=10):
    """The report page as one HTML string."""
    model, table = load_model_and_table(model_path, data_path, text_format)
    scored = model.score(table, target, str(data_path))
    X, y, proba, scores = scored
    target = target or model.target
    check_row(row, table.num_rows)
    loss = _svg(plots.loss_curve(model.history)) if model.history else "<p>No history saved.</p>"
    if model.multiclass:
        from descend.viz.report_classes import class_sections
        sections = [
            f"<section><h2>Data</h2>{_data_summary(table, target, model.classes, y)}</section>",
            *class_sections(model, table, scored, row, alpha, _svg, _table)]
        sections.insert(2, f"<section><h2>Training loss</h2><figure>{loss}</figure></section>")
        return _page(model_path, data_path, sections)
    names = model.preprocessor.feature_names
    example = lesson_step(X[row], int(y[row]), model.coef, model.intercept, alpha)
    sources = row_sources(model.preprocessor, table.slice(row, 1))
    metrics_rows = [(k, f"{scores[k]:.4f}") for k in
                    ("log_loss", "accuracy", "precision", "recall", "roc_auc")]
    sections = [
        f"<section><h2>Data</h2>{_data_summary(table, target, model.classes, y)}</section>",
        "<section><h2>Quality</h2><div class=grid>"
        f"<div>{_table(metrics_rows, ['metric', 'value'])}</div>"
        f"<figure>{_svg(plots.confusion_figure(scores['confusion_matrix'], model.classes))}</figure>"
        f"<figure>{_svg(plots.roc_figure(y, proba, scores['roc_auc']))}</figure></div></section>",
        f"<section><h2>Training loss</h2><figure>{loss}</figure></section>",
        f"<section><h2>Coefficients</h2><figure>"
        f"{_svg(plots.coefficient_figure(names, model.coef))}</figure></section>",
        _boundary_html(model, table, y),
        _descent_html(model, X, y),
        f"<section><h2>The lesson on row {row}</h2>{_graph_html(example, names, sources)}"
        f"<pre>{html.escape(lesson_text(example, names, top=top, sources=sources))}</pre>"
        "</section>",
    ]
    return _page(model_path, data_path, sections)


def _page(model_path, data_path, sections):
    """The whole page around its sections."""
    from pathlib import Path
    title = f"descend report — {html.escape(Path(model_path).name)} on " \
            f"{html.escape(Path(data_path).name)}"
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{title}</title><style>{CSS}</style>"
            f"<link rel=icon href='data:image/png;base64,{base64.b64encode(_ICON).decode()}'>"
            f"</head><body><main><h1>{title}</h1>{''.join(sections)}</main></body></html>")


# A 1×1 transparent PNG, so the browser does not ask the network for /favicon.ico.
_ICON = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
