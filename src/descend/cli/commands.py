"""What predict, evaluate and demo do, between parsing (main.py) and the library.

Each function reads its inputs, checks everything that can be checked before
writing, runs the library, then writes all of its files together
(:class:`~descend.io.atomic.AtomicBatch`).
"""
from pathlib import Path

import click
import numpy as np
import pyarrow as pa

from descend.cli import console
from descend.cli.console import Progress
from descend.data.design import BLOCK_ROWS, StreamRows
from descend.data.source import open_source
from descend.data.tables import table_format
from descend.data.writer import table_output
from descend.exceptions import DataError, UsageError
from descend.io.outputs import prepare_outputs
from descend.lesson.text import lesson_text
from descend.model.modelfile import load_model
from descend.model.training import TrainOptions, train_table


def check_suffix(path, allowed, option):
    """A UsageError unless ``path`` (when given) ends in one of ``allowed``."""
    if path is not None and Path(path).suffix.lower() not in allowed:
        raise UsageError(f"{option} {path}: use a file ending in {' or '.join(allowed)}")


def run_predict(model_path, data, output, text_format=None):
    if output is not None:
        table_format(output)
    prepare_outputs({"MODEL": model_path, "DATA": data}, {"--output": output})
    model = load_model(model_path)
    source = open_source(data, model.preprocessor.column_types(numbers_as_text=True),
                         others_as_text=True,
                         text_format=text_format)
    renamed = {}
    with table_output(output) as start_output:
        counts = source.scan(BLOCK_ROWS, lambda: _Predictions(model, str(data), start_output(),
                                                               renamed))
    if not counts.rows:
        raise DataError(f"{data}: only a header, no data rows")
    if renamed:
        click.echo(f"descend: note: {data} already has columns named "
                   f"{', '.join(map(repr, renamed))}; the predictions are in "
                   f"{', '.join(map(repr, renamed.values()))}", err=True)
    if counts.skipped:
        click.echo(f"descend: warning: {counts.skipped} rows have missing feature values and "
                   "no prediction (the model was trained without --impute)", err=True)
    if output is not None:
        click.echo(f"descend: {counts.rows} predictions written to {output}", err=True)


def unique_names(wanted, taken):
    """``wanted`` with ``_1``, ``_2``… added to the names already ``taken``."""
    taken, names = set(taken), []
    for name in wanted:
        new, k = name, 0
        while new in taken:
            k += 1
            new = f"{name}_{k}"
        taken.add(new)
        names.append(new)
    return names


class _Predictions:
    """Each block: its rows, then the predicted label and probability, written
    out under names the rows do not already use (those renamed go in ``renamed``)."""

    def __init__(self, model, path, writer, renamed):
        self.model, self.path, self.writer, self.renamed = model, path, writer, renamed
        self.rows = self.skipped = 0

    def __call__(self, batch):
        # a block spanning two record batches is already a table of their slices
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        predictions = self.model.predict_table(table, self.path)
        names = unique_names(predictions.column_names, table.column_names)
        self.renamed.update({old: new for old, new in zip(predictions.column_names, names)
                             if old != new})
        for name, column in zip(names, predictions.columns):
            table = table.append_column(name, column)
        self.writer.write(table)
        self.rows += batch.num_rows
        self.skipped += predictions.column(0).null_count


def run_evaluate(model_path, data, target, plot_path, text_format=None, scorer=None):
    """``descend evaluate``; ``scorer(model, column_types)`` may compute the
    :class:`Scores` elsewhere (``--dask``: on a cluster)."""
    check_suffix(plot_path, (".png", ".svg", ".pdf"), "--plot")
    prepare_outputs({"MODEL": model_path, "DATA": data}, {"--plot": plot_path})
    model = load_model(model_path)
    column_types = {**model.preprocessor.column_types(), (target or model.target): pa.string()}
    if scorer is not None:
        scores = scorer(model, column_types)
    else:
        source = open_source(data, column_types, text_format=text_format)
        scores = model.score_rows(StreamRows(source), target, str(data))
    if plot_path:
        from descend.viz.plots import confusion_figure, roc_figure, save_figure
        # K classes: the confusion heat map (one ROC curve per class would crowd it)
        figure = confusion_figure(scores.metrics["confusion_matrix"], model.classes) \
            if model.multiclass else roc_figure(scores.y, scores.proba, scores.metrics["roc_auc"])
        save_figure(figure, plot_path)
    click.echo(console.evaluation_report(scores.metrics, model.classes))
    if plot_path:
        what = "confusion matrix" if model.multiclass else "ROC curve"
        click.echo(f"{what} written to {plot_path}")


def breast_cancer_frame():
    """scikit-learn's bundled breast-cancer data with text labels, no network."""
    from sklearn.datasets import load_breast_cancer
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.copy()
    frame["diagnosis"] = np.where(bunch.target == 1, "benign", "malignant")
    return frame.drop(columns="target")


def run_demo(out_dir, quiet, show_all=False):
    from descend.lesson.one_step import step
    from descend.viz.plots import loss_curve, save_figure
    prepare_outputs({}, {}, folders=[out_dir])
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = breast_cancer_frame()
    click.echo("descend demo: breast-cancer data bundled with scikit-learn "
               f"({len(frame)} rows, {frame.shape[1] - 1} features), target 'diagnosis', "
               "positive class 'malignant', 20% held out")
    options = TrainOptions(target="diagnosis", positive="malignant", validation=0.2, seed=0)
    progress = Progress(1000, quiet)
    try:
        model, clf, X, y = train_table(frame, options, callback=progress)
    finally:
        progress.close()
    click.echo(console.train_summary(model.summary, offer_saving=False))
    from descend.lesson.defaults import DEFAULT_ALPHA
    example = step(X[0], int(y[0]), model.coef, model.intercept, alpha=DEFAULT_ALPHA)
    click.echo(f"\nThe lesson on training row 0, at the trained w and b (α = {DEFAULT_ALPHA}):")
    click.echo(lesson_text(example, model.preprocessor.feature_names,
                           top=None if show_all else 5))
    path = out_dir / "loss.png"
    save_figure(loss_curve(model.history, "Breast cancer: training loss"), path)
    click.echo(f"\nloss curve written to {path}")


def run_lesson_demo(out_dir, quiet):
    from descend.lesson.walkthrough import lesson_walkthrough
    prepare_outputs({}, {}, folders=[out_dir])
    lesson_walkthrough(out_dir, echo=click.echo)
