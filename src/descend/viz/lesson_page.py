"""``descend lesson``: one self-contained page to step through training.

The page holds the run's real iterates θₖ and losses J(θₖ) (recorded by
:class:`~descend.viz.descent_picture.PathRecorder`), the preprocessed rows it
trained on, and three matplotlib pictures (loss curve, descent path, and the
decision boundary for two numeric features) as inline SVG. Its script
(:mod:`descend.viz.lesson_script`) moves the markers, redraws the boundary
and computes the lesson's numbers of the chosen row at θₖ; its "step"
button applies the lesson's update w ← w − α·x(a − y), b ← b − α(a − y) to
that row, the same numbers :func:`descend.step` gives. Nothing is fetched.
"""
import html
import json
import re
from io import BytesIO

import numpy as np

from descend.viz.lesson_script import SCRIPT
from descend.viz.report import CSS, _ICON

#: Rows of the table the page carries (the row chooser's range).
MAX_ROWS = 1000
#: Features drawn in the page's graph (largest final |wᵢ| first).
MAX_DRAWN = 8


def svg_with_map(fig, ax, ylog=False):
    """(the figure as SVG that scales to its container, the affine map from
    ax's data coordinates to the SVG's: {"ox", "sx", "oy", "sy", "ylog"})."""
    from descend.viz.plots import plt
    fig.canvas.draw()
    to_fig = ax.transData + fig.transFigure.inverted()
    width, height = fig.get_size_inches() * 72
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    (fx0, fy0), (fx1, fy1) = to_fig.transform([(x0, y0), (x1, y1)])
    t0, t1 = (np.log10(y0), np.log10(y1)) if ylog else (y0, y1)
    sx = (fx1 - fx0) * width / (x1 - x0)
    sy = -(fy1 - fy0) * height / (t1 - t0)
    mapping = {"ox": fx0 * width - sx * x0, "sx": sx, "oy": (1 - fy0) * height - sy * t0,
               "sy": sy, "ylog": bool(ylog)}
    buffer = BytesIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue().decode("utf-8")
    text = text[text.index("<svg"):]
    text = re.sub(r'<svg([^>]*?) width="[\d.]+pt" height="[\d.]+pt"', r'<svg\1 width="100%"',
                  text, count=1)
    return text, mapping


def _loss_plot(losses):
    from descend.viz.plots import plt
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    finite = losses[np.isfinite(losses)]
    ylog = bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 30)
    ax.plot(np.arange(len(losses)), losses, color="#1f77b4")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlabel("iteration k")
    ax.set_ylabel("J(θₖ) (mean log-loss)")
    ax.set_title("Training loss", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return svg_with_map(fig, ax, ylog)


def _descent_plot(path):
    from descend.viz.descent_picture import draw_descent, plane_for
    from descend.viz.plots import plt
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    draw_descent(ax, path)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    svg, mapping = svg_with_map(fig, ax)
    plane = plane_for(path)
    return svg, {**mapping, "centre": plane.centre.tolist(), "basis": plane.basis.tolist()}


def _boundary_plot(model, table, y):
    """The two numeric features in the file's units, and how to draw
    w₁x₁′ + w₂x₂′ + b = 0 there (x′ = (x − mean)/scale); None otherwise."""
    from descend.data.columns import as_numbers
    from descend.viz.plots import boundary_figure
    pre = model.preprocessor
    if len(pre.numeric["columns"]) != 2 or pre.categorical["columns"]:
        return "", None
    cols = pre.numeric["columns"]
    raw = np.column_stack([as_numbers(table.column(c)) for c in cols])
    fig = boundary_figure(raw, y, [], names=cols, title="Decision boundary at θₖ",
                          labels=[f"{c} (y = {i})" for i, c in enumerate(model.classes)])
    ax = fig.axes[0]
    ax.set_xlim(ax.get_xlim())
    fig.tight_layout()
    svg, mapping = svg_with_map(fig, ax)
    return svg, {**mapping, "mean": list(pre.numeric["mean"]), "scale": list(pre.numeric["scale"]),
                 "xlim": list(ax.get_xlim()), "ylim": list(ax.get_ylim())}


def page_data(run, X, y, names, alpha, row, boundary):
    """What the script needs, as plain JSON numbers (repr: exact float64)."""
    rows = min(len(y), MAX_ROWS)
    final = np.abs(run.points[-1][:X.shape[1]])
    shown = sorted(np.argsort(-final, kind="stable")[:MAX_DRAWN].tolist())
    return {"alpha": float(alpha), "names": list(names), "shown": shown,
            "iterates": run.points[:len(run.losses)].tolist(), "losses": run.losses.tolist(),
            "X": np.asarray(X[:rows], dtype=np.float64).tolist(),
            "y": np.asarray(y[:rows], dtype=np.float64).tolist(), "row": int(row),
            "boundary": boundary}


def _field(name, text=""):
    return f'<tspan data-field="{name}">{text}</tspan>'


def graph_svg(names, shown, n_features):
    """The lesson's graph for the page: a box per drawn feature (xᵢ, wᵢ, dwᵢ),
    b, then z, a and L; the script fills in every number."""
    step, top = 62, 14
    height = top + step * (len(shown) + 1) + 10
    mid = top + step * (len(shown) + 1) / 2 - 28
    parts = [f'<svg class="lesson-graph" viewBox="0 0 976 {height:.0f}" width="100%" '
             'xmlns="http://www.w3.org/2000/svg" font-family="Helvetica,Arial,sans-serif" '
             'font-size="15">']
    boxes = [(f"x{i + 1}" + (f" ({names[i]})" if names[i] != f"x{i + 1}" else ""),
              f"x{i}", f"w{i + 1}", f"w{i}", f"dw{i + 1}", f"dw{i}") for i in shown]
    for j, (label, xf, wl, wf, dl, df) in enumerate(boxes + [(None,) * 6]):
        y0 = top + j * step
        parts.append(f'<rect x="6" y="{y0}" width="330" height="52" rx="4" fill="#fff4e5" '
                     'stroke="#555"/>')
        first = (f"{html.escape(label)} = {_field(xf)}" if label is not None
                 else f"b = {_field('b')}")
        second = (f"{wl} = {_field(wf)}   {dl} = {_field(df)}" if label is not None
                  else f"db = {_field('db')}")
        parts.append(f'<text x="14" y="{y0 + 21}">{first}</text>'
                     f'<text x="14" y="{y0 + 43}">{second}</text>'
                     f'<line x1="336" y1="{y0 + 26}" x2="392" y2="{mid + 28}" stroke="#777"/>')
    if len(shown) < n_features:
        parts.append(f'<text x="14" y="{height - 2}" font-size="12">… and '
                     f'{n_features - len(shown)} more features (in the table below)</text>')
    for x, lines in ((392, ("z = wᵀx + b", f"= {_field('z')}", f"dz = a − y = {_field('dz')}")),
                     (600, ("a = σ(z)", f"= {_field('a')}", f"da = {_field('da')}")),
                     (790, ("L(a, y)", f"= {_field('loss')}", f"y = {_field('y')}"))):
        parts.append(f'<rect x="{x}" y="{mid - 14}" width="176" height="84" rx="4" '
                     f'fill="{"#e8f7e8" if x == 790 else "white"}" stroke="#555"/>')
        parts += [f'<text x="{x + 8}" y="{mid + 8 + 24 * i}">{t}</text>' for i, t in enumerate(lines)]
    parts.append(f'<line x1="568" y1="{mid + 28}" x2="600" y2="{mid + 28}" stroke="#777"/>'
                 f'<line x1="776" y1="{mid + 28}" x2="790" y2="{mid + 28}" stroke="#777"/></svg>')
    return "".join(parts)


def numbers_table(names, n):
    """Every number of the lesson at the current θ: the script fills them in."""
    rows = [("iteration k", "k"), ("J(θₖ), the run's loss", "J"), ("row", "row"), ("y", "y")]
    rows += [(f"x{i + 1} ({names[i]})", f"x{i}") for i in range(n)]
    rows += [(f"w{i + 1}", f"w{i}") for i in range(n)] + [("b", "b")]
    rows += [("z = wᵀx + b", "z"), ("a = σ(z)", "a"), ("L(a, y)", "loss"),
             ("da = −y/a + (1−y)/(1−a)", "da"), ("dz = a − y", "dz"),
             ("dz_chain = da·a(1 − a)", "dz_chain")]
    rows += [(f"dw{i + 1} = x{i + 1}·dz", f"dw{i}") for i in range(n)] + [("db = dz", "db")]
    rows += [(f"w{i + 1} − α·dw{i + 1}", f"w_new{i}") for i in range(n)]
    rows += [("b − α·db", "b_new")]
    body = "".join(f"<tr><th>{html.escape(label)}</th><td data-field='{field}'></td></tr>"
                   for label, field in rows)
    return f"<table class=numbers>{body}</table>"


PAGE_CSS = CSS + """
.controls{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;gap:10px;align-items:center}
.controls input[type=range]{flex:1 1 240px}button{font-size:1em;padding:4px 12px}
.numbers th{text-align:left;font-weight:normal}.numbers td{font-family:ui-monospace,monospace}
.lesson-graph{min-width:620px;height:auto}
"""


def build_lesson_page(title, run, X, y, names, alpha, row, model=None, table=None):
    """The whole page as one HTML string (see the module docstring)."""
    loss_svg, loss_map = _loss_plot(run.losses)
    descent_svg, descent_map = _descent_plot(run)
    boundary_svg, boundary_map = _boundary_plot(model, table, y) if model is not None else ("", None)
    data = page_data(run, X, y, names, alpha, row, boundary_map)
    data.update(loss_plot=loss_map, descent_plot=descent_map)
    payload = json.dumps(data, allow_nan=True).replace("<", "\\u003c")
    n, K = X.shape[1], len(run.losses)
    figures = [f"<figure id=loss-plot>{loss_svg}</figure>",
               f"<figure id=descent-plot>{descent_svg}</figure>"]
    if boundary_svg:
        figures.append(f"<figure id=boundary-plot>{boundary_svg}</figure>")
    intro = (f"<p>The lesson's update, gradient descent with α = {alpha:g} on all "
             f"{len(y)} rows (J is their mean log-loss), ran {K} iterations; the slider "
             "walks through them. For the chosen row the graph and the table show every "
             "number of one lesson step at the current w and b; <b>step</b> applies it "
             "(w ← w − α·dw, b ← b − α·db, computed here in the page, the numbers "
             "descend.step gives). The model standardises each number: x′ = (x − mean)/"
             "scale; the graph uses x′.</p>")
    controls = (f"<section class=controls><label for=k>iteration k</label><input type=range "
                f"id=k min=0 max={K - 1} value=0 step=1><output id=k-out>0</output>"
                f"<label>row <input type=number id=row min=0 max={len(data['y']) - 1} "
                f"value={row} style='width:5em'></label><button id=step>step</button>"
                "<button id=reset>back to θₖ</button><span id=status></span></section>")
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style>"
            f"<link rel=icon href='data:image/png;base64,{_icon()}'></head><body><main>"
            f"<h1>{html.escape(title)}</h1>{intro}{controls}"
            f"<section><h2>The graph of the chosen row</h2>"
            f"{graph_svg(names, data['shown'], n)}</section>"
            f"<div class=grid>{''.join(figures)}</div>"
            f"<section><h2>Every number</h2>{numbers_table(names, n)}</section>"
            f"<script type=application/json id=lesson-data>{payload}</script>"
            f"<script>{SCRIPT}</script></main></body></html>")


def _icon():
    import base64
    return base64.b64encode(_ICON).decode()


def lesson_page_for_table(data_path, target, positive, row, alpha, iterations, text_format=None):
    """Train the lesson's gradient descent on a table, recording every iterate,
    and return the page (see :func:`build_lesson_page`)."""
    from pathlib import Path

    from descend.data.source import open_source
    from descend.lesson.one_step import check_row
    from descend.model.training import TrainOptions, train_table
    from descend.viz.descent_picture import PathRecorder, descent_path
    table = open_source(data_path, text_format=text_format).read()
    options = TrainOptions(target=target, positive=positive, estimator={
        "solver": "gd", "learning_rate": alpha, "max_iter": iterations, "tol": 0.0,
        "C": np.inf})
    recorder = PathRecorder()
    model, clf, X, y = train_table(table, options, callback=recorder, path=str(data_path))
    check_row(row, len(y))
    if row >= MAX_ROWS:
        from descend.exceptions import UsageError
        raise UsageError(f"{{row}} {row}: the page carries the first {MAX_ROWS} rows of the "
                         f"table; choose a row below {MAX_ROWS}", row=None)
    names = model.preprocessor.feature_names
    run = descent_path((recorder, clf), X, y, names)
    same_rows = len(y) == table.num_rows
    return build_lesson_page(f"descend lesson — {Path(data_path).name}", run, X, y, names,
                             alpha, row, model if same_rows else None, table)
