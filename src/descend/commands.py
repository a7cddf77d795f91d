"""What each command does, between parsing (cli.py) and the library.

Each function reads its inputs, checks everything that can be checked before
writing, runs the library, then writes all of its files together
(:class:`~descend.io.atomic.AtomicBatch`).
"""
import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd

from . import console
from .exceptions import UsageError
from .io.atomic import AtomicBatch
from .io.modelfile import load_model, save_model
from .io.tables import read_table, require_column, table_format, write_table
from .model import TrainOptions, classification_metrics, train_table


def _check_suffix(path, allowed, option):
    if path is not None and Path(path).suffix.lower() not in allowed:
        raise UsageError(f"{option} {path}: use a file ending in {' or '.join(allowed)}")


def estimator_options(options):
    """The estimator's keyword arguments from the command-line options."""
    return {"C": options["C"], "solver": options["solver"],
            "learning_rate": options["learning_rate"], "batch_size": options["batch_size"],
            "max_iter": options["max_iter"], "tol": options["tol"],
            "class_weight": options["class_weight"], "random_state": options["seed"]}


def train_options_from(target, options):
    """The library's :class:`TrainOptions` from the command-line options."""
    return TrainOptions(
        target=target, features=options["features"], drop=options["drop"],
        positive=options["positive"], drop_missing=options["drop_missing"],
        impute=options["impute"], validation=options["validation"], seed=options["seed"],
        estimator=estimator_options(options))


class Progress:
    """A tqdm bar on standard error, updated by the solver's callback."""

    def __init__(self, total, quiet, desc="training"):
        from tqdm import tqdm
        # disable=None: no bar when standard error is not a terminal (logs, CI).
        self.bar = tqdm(total=total, disable=True if quiet else None, file=sys.stderr, desc=desc,
                        unit="it", leave=False, dynamic_ncols=True)

    def __call__(self, state):
        self.bar.update(state.iteration - self.bar.n)
        if state.history:
            self.bar.set_postfix(loss=f"{state.history[-1]['loss']:.6f}", refresh=False)

    def close(self):
        self.bar.close()


def run_train(data, target, model_path, options):
    _check_suffix(options["plot_path"], (".png", ".svg", ".pdf"), "--plot")
    _check_suffix(options["history_path"], (".csv",), "--history")
    if options["validation"] is not None and not 0 < options["validation"] < 1:
        raise UsageError("--validation must be a fraction between 0 and 1, e.g. 0.2")
    if options["checkpoint"] or options["resume"]:
        from .checkpoint import checkpointed_training
        return checkpointed_training(data, target, model_path, options)
    frame = read_table(data)
    train_options = train_options_from(target, options)
    progress = Progress(options["max_iter"], options["quiet"])
    try:
        model, *_ = train_table(frame, train_options, callback=progress, path=str(data))
    finally:
        progress.close()
    finish_training(model, model_path, options)


def finish_training(model, model_path, options):
    """Write the model, history and plot together, then print the summary."""
    with AtomicBatch() as batch:
        if options["history_path"]:
            pd.DataFrame(model.history).to_csv(batch.reserve(options["history_path"]), index=False)
        if options["plot_path"]:
            from .viz.plots import loss_curve
            fig = loss_curve(model.history)
            fig.savefig(batch.reserve(options["plot_path"]),
                        format=Path(options["plot_path"]).suffix[1:].lower(), dpi=110)
        if model_path:
            save_model(model, batch.reserve(model_path))
        batch.commit()
    for message in model.summary.get("warnings", []):
        click.echo(f"descend: warning: {message}", err=True)
    click.echo(console.train_summary(model.summary, model_path))
    if options["history_path"]:
        click.echo(f"  history written to {options['history_path']}")
    if options["plot_path"]:
        click.echo(f"  loss curve written to {options['plot_path']}")


def run_predict(model_path, data, output):
    if output is not None:
        table_format(output)
    model = load_model(model_path)
    frame = read_table(data)
    predictions = model.predict_frame(frame, str(data))
    result = pd.concat([frame.reset_index(drop=True), predictions], axis=1)
    skipped = int(predictions["predicted"].isna().sum())
    if skipped:
        click.echo(f"descend: warning: {skipped} rows have missing feature values and no "
                   "prediction (the model was trained without --impute)", err=True)
    if output is None:
        result.to_csv(sys.stdout, index=False)
        return
    write_table(result, output)
    click.echo(f"descend: {len(result)} predictions written to {output}", err=True)


def run_evaluate(model_path, data, target, plot_path):
    _check_suffix(plot_path, (".png", ".svg", ".pdf"), "--plot")
    model = load_model(model_path)
    frame = read_table(data)
    target = target or model.target
    require_column(frame, target, str(data))
    model.target = target
    y, proba = model.labels_and_probabilities(frame, str(data))
    scores = classification_metrics(y, proba)
    if plot_path:
        from .viz.plots import roc_figure, save_figure
        save_figure(roc_figure(y, proba, scores["roc_auc"]), plot_path)
    click.echo(console.evaluation_report(scores, model.classes))
    if plot_path:
        click.echo(f"ROC curve written to {plot_path}")


def breast_cancer_frame():
    """scikit-learn's bundled breast-cancer data with text labels, no network."""
    from sklearn.datasets import load_breast_cancer
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.copy()
    frame["diagnosis"] = np.where(bunch.target == 1, "benign", "malignant")
    return frame.drop(columns="target")


def run_demo(out_dir, quiet):
    from .lesson import step
    from .viz.plots import loss_curve, save_figure
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
    click.echo(console.train_summary(model.summary))
    example = step(X[0], int(y[0]), model.coef, model.intercept, alpha=0.1)
    click.echo("\nThe lesson on training example 0, at the trained w and b (α = 0.1):")
    click.echo(console.lesson_text(example, model.preprocessor.feature_names, top=5))
    path = out_dir / "loss.png"
    save_figure(loss_curve(model.history, "Breast cancer: training loss"), path)
    click.echo(f"\nloss curve written to {path}")


def run_lesson_demo(out_dir, quiet):
    from .walkthrough import lesson_walkthrough
    lesson_walkthrough(out_dir, echo=click.echo)
