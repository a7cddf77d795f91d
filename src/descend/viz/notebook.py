"""How the lesson shows itself in Jupyter, with no extra call.

A :class:`~descend.lesson.one_step.LessonStep` displays as its computation
graph (SVG, every value and gradient) above the lesson's table; a fitted
:class:`~descend.LogisticRegression` as its loss curve and a summary of its
coefficients. Both are plain HTML with inline SVG: nothing is fetched.
"""
import html

import numpy as np

from descend.frame_input import coefficient_names

#: Coefficients listed in a fitted estimator's summary (largest |wᵢ| first).
MAX_COEFFICIENTS = 12


def _graph(step, names=None):
    from descend.viz.graphdraw import INSTALL_HINT, has_dot, render, to_text
    if has_dot():
        svg = render(step, "svg", names).decode("utf-8")
        return f"<div class='descend-graph'>{svg[svg.index('<svg'):]}</div>"
    return (f"<p>{html.escape(INSTALL_HINT)}.</p>"
            f"<pre>{html.escape(to_text(step, names))}</pre>")


def step_html(step, names=None):
    """The graph of one lesson step and its table, as HTML."""
    from descend.lesson.text import lesson_text
    return (f"<div class='descend-step'>{_graph(step, names)}"
            f"<pre>{html.escape(lesson_text(step, names))}</pre></div>")


def _svg_of(fig):
    from descend.viz.plots import figure_bytes
    data = figure_bytes(fig, "svg").decode("utf-8")
    return data[data.index("<svg"):]


def coefficient_rows(clf):
    """(name, wᵢ) of the largest |wᵢ| first, then ("b", intercept)."""
    coef = clf.coef_.ravel()
    names = coefficient_names(clf)
    names = [f"x{i + 1}" for i in range(len(coef))] if names is None else list(names)
    order = np.argsort(-np.abs(coef), kind="stable")[:MAX_COEFFICIENTS]
    rows = [(f"w{i + 1} ({names[i]})" if names[i] != f"x{i + 1}" else f"w{i + 1}",
             float(coef[i])) for i in order]
    return rows + [("b", float(clf.intercept_[0]))]


def estimator_html(clf):
    """A fitted estimator: iterations, final J, its loss curve and coefficients."""
    from descend.viz.plots import loss_curve
    history = getattr(clf, "history_", [])
    state = "converged" if clf.converged_ else "stopped at max_iter"
    final = f", J = {history[-1]['loss']:.6g}" if history else ""
    n = clf.coef_.size
    more = f" (the largest {MAX_COEFFICIENTS} of {n})" if n > MAX_COEFFICIENTS else ""
    cells = "".join(f"<tr><td>{html.escape(name)}</td><td>{value:.6g}</td></tr>"
                    for name, value in coefficient_rows(clf))
    curve = _svg_of(loss_curve(history)) if history else "<p>No history.</p>"
    return (f"<div class='descend-estimator'><p><b>{html.escape(type(clf).__name__)}</b>: "
            f"solver {html.escape(str(clf.solver))}, {clf.n_iter_} iterations, {state}{final}."
            f"</p><div style='display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start'>"
            f"<div style='flex:1 1 360px;max-width:560px'>{curve}</div>"
            f"<table><tr><th>parameter{more}</th><th>value</th></tr>{cells}</table>"
            "</div></div>")


def estimator_bundle(clf, bundle):
    """Jupyter's mime bundle of an estimator: scikit-learn's for an unfitted
    one, the loss curve and coefficients once it is fitted."""
    if hasattr(clf, "coef_") and hasattr(clf, "n_iter_"):
        bundle = {**bundle, "text/html": estimator_html(clf)}
    return bundle
