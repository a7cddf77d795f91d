"""``descend explain`` and ``descend report``: the lesson on the user's data."""
import json
from pathlib import Path

import click
import numpy as np

from descend.cli.console import printable
from descend.cli.reading import text_format_from, text_format_options
from descend.exceptions import DataError, UsageError
from descend.lesson.defaults import DEFAULT_ALPHA, DEFAULT_B
from descend.lesson.text import lesson_text


def _check_alpha_and_row(alpha, row):
    """One rule for explain and report: a positive, finite --alpha and a --row
    of the file, refused (exit 2) before anything is read."""
    from descend.lesson.one_step import check_alpha, check_row
    check_alpha(alpha)
    check_row(row)


def _floats(text, option):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{option} must be comma-separated numbers, e.g. {option} 1.0,2.0") from None


def example_from_model(model_path, data_path, row, text_format=None):
    """x (preprocessed), y, w, b and feature names of row ``row`` of a table."""
    from descend.lesson.one_step import check_row
    from descend.model.modelfile import load_model_and_table
    model, frame = load_model_and_table(model_path, data_path, text_format)
    check_row(row, frame.num_rows)
    if model.target not in frame.column_names:
        raise DataError(f"{data_path}: no target column {model.target!r}; the lesson needs "
                        "the true label y of the example")
    from descend.lesson.units import row_sources
    scores = model.score(frame.slice(row, 1), path=str(data_path))
    sources = row_sources(model.preprocessor, frame.slice(row, 1))
    return scores.X[0], int(scores.y[0]), model.coef, model.intercept, \
        model.preprocessor.feature_names, model.classes, sources


def example_inline(x, y, w, b):
    if x is None or y is None or w is None:
        raise UsageError("give --model, --data and --row, or the example inline with "
                         "--x 1.0,2.0 --y 1 --w 0.5,-0.5 [--b 0.1]")
    xs, ws = _floats(x, "--x"), _floats(w, "--w")
    if len(xs) != len(ws):
        raise UsageError(f"--x has {len(xs)} values but --w has {len(ws)}; give one weight per feature")
    if y not in (0, 1):
        raise UsageError("--y must be 0 or 1")
    return np.array(xs), y, np.array(ws), b, None, None, None


def _print_json(result, proximal, names):
    """The step (and the threshold after it, with --l1) as JSON."""
    payload = result.to_json()
    if proximal is not None:
        payload["l1"] = {"lambda": proximal.l1, "threshold": proximal.threshold,
                         "w_new": proximal.w_new.tolist(), "b_new": proximal.b_new}
    if names:
        payload["feature_names"] = names
    click.echo(json.dumps(payload, indent=1, allow_nan=False))


@click.command()
@click.option("--model", "model_path", type=click.Path(readable=False, dir_okay=False, path_type=Path))
@click.option("--data", "data_path", type=click.Path(readable=False, dir_okay=False, path_type=Path))
@click.option("--row", type=int, default=0, show_default=True, help="Row of --data (from 0).")
@click.option("--x", help="Inline features, comma-separated.")
@click.option("--y", type=int, help="Inline label, 0 or 1.")
@click.option("--w", help="Inline weights, comma-separated.")
@click.option("--b", type=float, default=DEFAULT_B, show_default=True, help="Inline bias.")
@click.option("--alpha", type=float, default=DEFAULT_ALPHA, show_default=True,
              help="Learning rate of the update.")
@click.option("--l1", type=float, help="λ of an L1 penalty: show the threshold after the "
              "step, weight by weight (two classes).")
@click.option("--all", "show_all", is_flag=True, help="Every feature, not the largest 10 |dw|.")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON (a value "
              "that is not a finite number is null, and non_finite names it).")
@click.option("--graph", "graph_path", type=click.Path(readable=False, dir_okay=False, path_type=Path),
              help="Draw the computation graph (.svg, .png or .dot).")
@click.option("--descent", "descent_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the descent picture: J's contours and the solver's path over "
              "them, the model's settings run on --data (.png, .svg or .pdf).")
@text_format_options
def explain(model_path, data_path, row, x, y, w, b, alpha, l1, show_all, as_json, graph_path,
            descent_path, **reading):
    """The lesson on one example: forward pass, derivatives, update.

    \b
    Examples:
      descend explain --x 1.0,2.0 --y 1 --w 0.5,-0.5 --b 0.1 --alpha 0.1
      descend explain --x 1.0,2.0 --y 1 --w 0.5,0.01 --l1 0.5
      descend explain --model churn.json --data test.csv --row 3 --graph graph.svg
      descend explain --model churn.json --data test.csv --descent path.png
    """
    _check_explain_options(model_path, data_path, alpha, row, graph_path, descent_path)
    text_format = text_format_from(reading)
    if model_path or data_path:
        if not (model_path and data_path):
            raise UsageError("--model and --data go together (with --row)")
        xv, yv, wv, bv, names, classes, sources = example_from_model(
            model_path, data_path, row, text_format)
    else:
        xv, yv, wv, bv, names, classes, sources = example_inline(x, y, w, b)
    from descend.lesson.one_step import step as lesson_step
    if np.ndim(wv) == 2:
        if descent_path is not None:
            raise UsageError("--descent draws the two-class picture; this model has "
                             f"{len(classes)} classes: leave out --descent")
        return _explain_classes(lesson_step(xv, yv, wv, bv, alpha, l1), names, classes,
                                show_all, as_json, graph_path, sources)
    proximal = None if l1 is None else lesson_step(xv, yv, wv, bv, alpha, l1)
    result = lesson_step(xv, yv, wv, bv, alpha)
    if graph_path is not None:
        _write_graph(result, names, graph_path, sources)
    drawn = _write_descent(model_path, data_path, descent_path, text_format) \
        if descent_path is not None else None
    if drawn and as_json:
        click.echo(drawn, err=True)
    if as_json:
        return _print_json(result, proximal, names)
    names = [printable(n) for n in names] if names else names  # text from the data
    if sources:
        from descend.lesson.units import Source
        sources = [Source(printable(s.short), printable(s.long)) for s in sources]
    click.echo(lesson_text(result, names, top=None if show_all else 10, sources=sources))
    if proximal is not None:
        from descend.lesson.text import lesson_rows
        order = lesson_rows(result, names, top=None if show_all else 10)[1]
        from descend.lesson.threshold_step import threshold_text
        click.echo("\n" + threshold_text(proximal, order))
    if graph_path is not None:
        click.echo(f"\ngraph written to {graph_path}")
    if drawn:
        click.echo(drawn)


def _check_explain_options(model_path, data_path, alpha, row, graph_path, descent_path):
    """explain's option checks, and its outputs checked before anything is read."""
    if graph_path is not None and graph_path.suffix.lower() not in (".svg", ".png", ".dot"):
        raise UsageError(f"--graph {graph_path}: use a .svg, .png or .dot file")
    from descend.cli.commands import check_suffix
    check_suffix(descent_path, (".png", ".svg", ".pdf"), "--descent")
    if descent_path is not None and not (model_path and data_path):
        raise UsageError("--descent draws a model's run on a table: give --model and --data")
    _check_alpha_and_row(alpha, row)
    from descend.io.outputs import prepare_outputs
    prepare_outputs({"--model": model_path, "--data": data_path},
                    {"--graph": graph_path, "--descent": descent_path})


def _explain_classes(result, names, classes, show_all, as_json, graph_path, sources):
    """explain for a model of K classes: the K-class lesson table (and graph)."""
    classes = [printable(c) for c in classes]
    if graph_path is not None:
        _write_graph(result, names, graph_path, sources, classes)
    if as_json:
        payload = result.to_dict()
        payload.update(feature_names=names, classes=list(classes))
        click.echo(json.dumps(payload, indent=1, allow_nan=False))
        return
    from descend.lesson.softmax_text import softmax_lesson_text
    click.echo(softmax_lesson_text(result, [printable(n) for n in names], classes,
                                   None if show_all else 10))
    if not show_all and result.dW.size > 10:
        click.echo("(--all shows every entry of dW)")
    if graph_path is not None:
        click.echo(f"\ngraph written to {graph_path}")


def _write_descent(model_path, data_path, path, text_format):
    """The model's settings run afresh on the whole table, drawn over J's contours;
    returns the line that says so."""
    from descend.model.modelfile import load_model_and_table
    from descend.viz.descent_picture import descent_figure
    from descend.viz.model_descent import model_descent_path
    from descend.viz.plots import save_figure
    model, table = load_model_and_table(model_path, data_path, text_format)
    scores = model.score(table, path=str(data_path))
    run = model_descent_path(model, scores.X, scores.y)
    save_figure(descent_figure(run, f"{run.title}: {len(run.losses)} iterations on "
                               f"{printable(Path(data_path).name)}"), path)
    return (f"descent picture ({len(run.losses)} iterations, J from {run.losses[0]:.6g} "
            f"to {run.losses[-1]:.6g}) written to {path}")


def _write_graph(result, names, path, sources=None, classes=None):
    """The graph to path (.dot, .svg, .png), two-class or, given classes, K-class."""
    from descend.io.atomic import write_bytes, write_text
    from descend.viz import graphdraw, softmax_graphdraw
    drawing = graphdraw if classes is None else softmax_graphdraw
    per_class = {} if classes is None else {"classes": classes}
    if path.suffix.lower() == ".dot":
        write_text(path, drawing.to_dot(result, names, sources=_short(sources), **per_class).source)
        return
    if not graphdraw.has_dot():
        click.echo(f"descend: note: {graphdraw.INSTALL_HINT}; showing it as text instead:", err=True)
        click.echo(drawing.to_text(result, [printable(n) for n in names] if names else names,
                                   **per_class), err=True)
        return
    write_bytes(path, drawing.render(result, path.suffix[1:].lower(), names,
                                     sources=_short(sources), **per_class))


def _short(sources):
    return [s.short for s in sources] if sources else None


@click.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(readable=False, dir_okay=False, path_type=Path))
@click.argument("data_path", metavar="DATA", type=click.Path(readable=False, dir_okay=False, path_type=Path))
@click.option("--target", "-t", help="Column with the true labels (default: the model's).")
@click.option("--output", "-o", type=click.Path(readable=False, dir_okay=False, path_type=Path), required=True,
              help="HTML file to write.")
@click.option("--row", type=int, default=0, show_default=True, help="Example shown step by step.")
@click.option("--alpha", type=float, default=DEFAULT_ALPHA, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Every feature in the lesson's table, "
              "not the largest 10 |dw|.")
@text_format_options
def report(model_path, data_path, target, output, row, alpha, show_all, **reading):
    """One self-contained HTML page: data, loss, ROC, coefficients, the graph.

    \b
    Example:
      descend report churn.json test.csv --target churned -o report.html
    """
    if output.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--output {output}: use a file ending in .html")
    _check_alpha_and_row(alpha, row)
    from descend.io.atomic import write_text
    from descend.io.outputs import prepare_outputs
    prepare_outputs({"MODEL": model_path, "DATA": data_path}, {"--output": output})
    from descend.viz.report import build_report
    html = build_report(model_path, data_path, target, row, alpha, text_format_from(reading),
                        top=None if show_all else 10)
    write_text(output, html)
    click.echo(f"report written to {output}")


@click.command()
@click.argument("data_path", metavar="DATA", type=click.Path(path_type=Path))
@click.option("--target", "-t", required=True, help="Column holding the two labels.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="HTML file to write.")
@click.option("--positive", help="Label to treat as the positive class (y = 1).")
@click.option("--row", type=int, default=0, show_default=True,
              help="Row whose lesson the page shows first (from 0).")
@click.option("--alpha", type=float, default=DEFAULT_ALPHA, show_default=True,
              help="Learning rate of the lesson's update (training and the step button).")
@click.option("--iterations", type=click.IntRange(min=1, max=5000), default=100,
              show_default=True, help="Iterations of gradient descent the slider walks.")
@text_format_options
def lesson(data_path, target, output, positive, row, alpha, iterations, **reading):
    """One page to step through training: slider, graph, loss, path, step button.

    \b
    Example:
      descend lesson customers.csv --target churned -o lesson.html
    """
    if output.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--output {output}: use a file ending in .html")
    _check_alpha_and_row(alpha, row)
    from descend.io.atomic import write_text
    from descend.io.outputs import prepare_outputs
    prepare_outputs({"DATA": data_path}, {"--output": output})
    from descend.viz.lesson_page import lesson_page_for_table
    page = lesson_page_for_table(data_path, target, positive, row, alpha, iterations,
                                 text_format_from(reading))
    write_text(output, page)
    click.echo(f"lesson page ({iterations} iterations, α = {alpha:g}) written to {output}")
