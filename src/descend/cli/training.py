"""``descend train`` with checkpoints: start or resume a run, save as it goes."""
import dataclasses
import time
from pathlib import Path

import click
import pandas as pd

from descend.cli import console
from descend.cli.commands import check_suffix
from descend.cli.console import Progress, command_line_flag
from descend.data.design import StreamRows, TableRows
from descend.data.source import open_source
from descend.data.storage import MatrixStorage, parse_size
from descend.exceptions import UsageError
from descend.io.atomic import AtomicBatch
from descend.io.checkpoint import (
    Checkpointer,
    TrainingInterrupted,
    fingerprint,
    load_checkpoint,
)
from descend.model.modelfile import save_model
from descend.model.training import TrainOptions, train_rows


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
        estimator=estimator_options(options), dtype=options["dtype"])


def train_from_files(data, train_options, options, callback, solver_state=None):
    """Read (or stream) the data, prepare it and fit: the :class:`TableModel`."""
    limit = parse_size(options["memory_limit"]) if options["memory_limit"] else None
    source = open_source(data, text_format=options["text_format"])
    with MatrixStorage(limit, train_options.dtype) as storage:
        started = time.perf_counter()
        if limit is None and _fits_in_memory(source, storage):
            rows = TableRows(source.read(), str(data))
        else:
            rows = StreamRows(source)  # each pass reads the files again
        read_seconds = time.perf_counter() - started
        model, *_ = train_rows(rows, train_options, callback, str(data), solver_state,
                               allocate=storage, read_seconds=read_seconds)
        if storage.mapped:
            model.summary["design_matrix"] = "memory-mapped file"
    return model


def _fits_in_memory(source, storage):
    """Whether the whole table (its files' size, decompressed) fits the budget."""
    budget = storage.budget
    size = sum(Path(f).stat().st_size for f in source.files)
    expansion = 4 if source.format == "parquet" or source.files[0].endswith(
        (".gz", ".zst", ".bz2")) else 1.5
    return budget is None or size * expansion <= budget


def run_train(data, target, model_path, options):
    check_suffix(options["plot_path"], (".png", ".svg", ".pdf"), "--plot")
    check_suffix(options["history_path"], (".csv",), "--history")
    train_options = train_options_from(target, options)  # checks them before reading
    if options["checkpoint"] or options["resume"]:
        return checkpointed_training(data, target, model_path, options)
    progress = Progress(options["max_iter"], options["quiet"])
    try:
        model = train_from_files(data, train_options, options, progress)
    finally:
        progress.close()
    finish_training(model, model_path, options)


def finish_training(model, model_path, options):
    """Write the model, history and plot together, then print the summary."""
    with AtomicBatch() as batch:
        if options["history_path"]:
            pd.DataFrame(model.history).to_csv(batch.reserve(options["history_path"]), index=False)
        if options["plot_path"]:
            from descend.viz.plots import loss_curve
            fig = loss_curve(model.history)
            fig.savefig(batch.reserve(options["plot_path"]),
                        format=Path(options["plot_path"]).suffix[1:].lower(), dpi=110)
        if model_path:
            save_model(model, batch.reserve(model_path))
        batch.commit()
    for warning in model.warnings:
        text = warning.phrase(command_line_flag) if hasattr(warning, "phrase") else str(warning)
        click.echo(f"descend: warning: {console.message_line(text)}", err=True)
    click.echo(console.train_summary(model.summary, model_path))
    if options["history_path"]:
        click.echo(f"  history written to {options['history_path']}")
    if options["plot_path"]:
        click.echo(f"  loss curve written to {options['plot_path']}")


def checkpointed_training(data, target, model_path, options):
    """``descend train`` with --checkpoint and/or --resume."""
    folder = options["resume"] or options["checkpoint"]
    state = None
    if options["resume"]:
        state, meta = load_checkpoint(options["resume"], TrainOptions)
        if meta["target"] != target:
            raise UsageError(f"the checkpoint was made with --target {meta['target']!r}, "
                             f"not {target!r}")
        if fingerprint(open_source(data, text_format=options["text_format"]).files) != meta["data_sha256"]:
            raise UsageError(f"{data} is not the file the checkpoint was made on; give the "
                             "same data file to --resume")
        train_options = TrainOptions(**meta["train_options"])
        if options["checkpoint"]:
            folder = options["checkpoint"]
    else:
        train_options = train_options_from(target, options)
    meta = {"target": target, "data_sha256": fingerprint(open_source(data, text_format=options["text_format"]).files),
            "train_options": dataclasses.asdict(train_options),
            "resume_command": f"descend train {data} --target {target} --resume {folder}"
                              + (f" -o {model_path}" if model_path else "")}
    progress = Progress(train_options.estimator.get("max_iter", 1000), options["quiet"])
    checkpointer = Checkpointer(folder, meta, options["checkpoint_every"], then=progress)
    try:
        with checkpointer:
            model = train_from_files(data, train_options, options, checkpointer, state)
    except TrainingInterrupted as exc:
        progress.close()
        click.echo(f"descend: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    progress.close()
    finish_training(model, model_path, options)
