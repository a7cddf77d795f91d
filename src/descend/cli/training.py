"""``descend train`` with checkpoints: start or resume a run, save as it goes."""
import dataclasses
import json
import time
from pathlib import Path

import click
import pandas as pd

from descend.cli import console
from descend.cli.commands import check_suffix
from descend.cli.console import Progress, command_line_flag
from descend.data.design import StreamRows, TableRows
from descend.data.fill import load_compiled
from descend.data.readahead import fits_in_memory
from descend.data.source import TextFormat, open_source
from descend.data.storage import MatrixStorage, parse_size
from descend.exceptions import UsageError
from descend.io.atomic import AtomicBatch
from descend.io.checkpoint import FILE_NAME as CHECKPOINT_FILE
from descend.io.checkpoint import (
    Checkpointer,
    TrainingInterrupted,
    fingerprint,
    has_checkpoint,
    load_checkpoint,
)
from descend.io.outputs import prepare_outputs
from descend.model.modelfile import save_model
from descend.model.training import TrainOptions, train_rows


def estimator_options(options):
    """The estimator's keyword arguments from the command-line options."""
    chosen = {"cv": options["cv"]} if options["C"] == "cv" else {}
    return {"C": options["C"], "solver": options["solver"],
            "penalty": None if options["penalty"] == "none" else options["penalty"],
            "l1_ratio": options["l1_ratio"],
            "learning_rate": options["learning_rate"], "batch_size": options["batch_size"],
            "max_iter": options["max_iter"], "tol": options["tol"],
            "class_weight": options["class_weight"], "random_state": options["seed"], **chosen}


def train_options_from(target, options):
    """The library's :class:`TrainOptions` from the command-line options."""
    return TrainOptions(
        target=target, features=options["features"], drop=options["drop"],
        positive=options["positive"], drop_missing=options["drop_missing"],
        impute=options["impute"], validation=options["validation"], seed=options["seed"],
        estimator=estimator_options(options), dtype=options["dtype"],
        categorical=options["categorical"])


def train_from_files(data, train_options, options, callback, solver_state=None,
                     read_ahead=None):
    """Read (or stream) the data, prepare it and fit: the :class:`TableModel`
    (``read_ahead``: a :class:`~descend.data.readahead.ReadAhead` of the data,
    started before the imports)."""
    if options.get("dask_address"):  # the files read, prepared and fitted on a cluster
        from descend.cli.cluster_commands import train_with_dask
        return train_with_dask(data, train_options, options, callback, solver_state)
    limit = parse_size(options["memory_limit"]) if options["memory_limit"] else None
    with MatrixStorage(limit, train_options.dtype) as storage:
        started = time.perf_counter()
        if read_ahead is not None:
            load_compiled(train_options.dtype)  # while the data is still read
            rows = read_ahead.rows()
        else:
            source = open_source(data, text_format=options["text_format"], dictionary_text=True)
            if limit is None and fits_in_memory(source, storage.budget):
                rows = TableRows(source.read(), str(data))
            else:
                rows = StreamRows(source)  # each pass reads the files again
        # a read ahead ran beside the imports: its own time, not the wait for it
        read_seconds = read_ahead.seconds if read_ahead is not None else \
            time.perf_counter() - started
        model, *_ = train_rows(rows, train_options, callback, str(data), solver_state,
                               allocate=storage, read_seconds=read_seconds)
        if storage.mapped:
            model.summary["design_matrix"] = "memory-mapped file"
    return model


def run_train(data, target, model_path, options, read_ahead=None):
    check_suffix(options["plot_path"], (".png", ".svg", ".pdf"), "--plot")
    check_suffix(options["history_path"], (".csv",), "--history")
    check_suffix(options["plot_path_path"], (".png", ".svg", ".pdf"), "--plot-path")
    if options["plot_path_path"] and options["C"] != "cv":
        raise UsageError("--plot-path draws the path of --C cv; add --C cv")
    if options["C"] == "cv" and (options["checkpoint"] or options["resume"]):
        raise UsageError("--C cv fits many models and cannot be checkpointed; leave out "
                         "--checkpoint and --resume")
    check_training_outputs(data, model_path, options)
    train_options = train_options_from(target, options)  # checks them before reading
    if options["checkpoint"] or options["resume"]:
        return checkpointed_training(data, target, model_path, options)
    progress = Progress(options["max_iter"], options["quiet"])
    try:
        model = train_from_files(data, train_options, options, progress,
                                 read_ahead=read_ahead)
    finally:
        progress.close()
    finish_training(model, model_path, options)


def check_training_outputs(data, model_path, options):
    """Refuse outputs that are inputs or each other (before anything is read);
    remove what killed runs left in their folders."""
    folder = options["checkpoint"] or options["resume"]
    saved_in = "--checkpoint" if options["checkpoint"] else "--resume"
    prepare_outputs(
        inputs={"DATA": data,
                "--resume": options["resume"] and Path(options["resume"]) / CHECKPOINT_FILE},
        outputs={"--output": model_path, "--history": options["history_path"],
                 "--plot": options["plot_path"], "--plot-path": options["plot_path_path"],
                 saved_in: folder and Path(folder) / CHECKPOINT_FILE},
        allowed={("--checkpoint", "--resume"), ("--resume", "--resume")},
        folders=[folder] if folder else [])


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
        if options["plot_path_path"]:
            from descend.viz.plots import penalty_path
            fig = penalty_path(model.summary["cv"], model.path_coefs)
            fig.savefig(batch.reserve(options["plot_path_path"]),
                        format=Path(options["plot_path_path"]).suffix[1:].lower(), dpi=110)
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


#: Options that change the result, and where :class:`TrainOptions` keeps them:
#: on resume, one given that differs from the checkpoint's is refused.
RESULT_OPTIONS = {
    "features": ("features",), "drop": ("drop",), "positive": ("positive",),
    "drop_missing": ("drop_missing",), "impute": ("impute",), "validation": ("validation",),
    "seed": ("seed",), "dtype": ("dtype",), "categorical": ("categorical",),
    "C": ("estimator", "C"),
    "solver": ("estimator", "solver"), "learning_rate": ("estimator", "learning_rate"),
    "batch_size": ("estimator", "batch_size"), "class_weight": ("estimator", "class_weight")}
#: Options a resumed run may change: it goes on to the new values.
EXTENDABLE_OPTIONS = {"max_iter": ("estimator", "max_iter"), "tol": ("estimator", "tol")}
#: How the data's text is read (kept in the checkpoint beside the options).
TEXT_OPTIONS = ("encoding", "decimal", "thousands")


def _shown(value):
    if value is None:
        return "unset"
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _difference(name, new, old):
    flag = command_line_flag(name, None)
    if isinstance(new, bool):
        return f"{flag} (the checkpoint was made {'with' if old else 'without'} it)"
    return f"{flag} {_shown(new)} (checkpoint: {_shown(old)})"


def _value(options, keys):
    for key in keys:
        options = options.get(key) if isinstance(options, dict) else None
    return options


def resumed_options(meta, target, options, folder):
    """The checkpoint's :class:`TrainOptions`, with --max-iter and --tol as
    given, and those changed ({name: what changed}).

    Every other option given on the command line that would change the
    result must equal the checkpoint's: a UsageError names each that does not.
    Options left to their defaults take the checkpoint's values.
    """
    given = options.get("given", set())
    saved = meta["train_options"]
    wanted = json.loads(json.dumps(dataclasses.asdict(train_options_from(target, options))))
    differences = [] if meta["target"] == target else [
        f"--target {target} (checkpoint: {meta['target']})"]
    differences += [_difference(name, _value(wanted, keys), _value(saved, keys))
                    for name, keys in RESULT_OPTIONS.items()
                    if name in given and _value(wanted, keys) != _value(saved, keys)]
    text = dataclasses.asdict(options["text_format"])
    saved_text = {**text, **meta.get("text_format", {})}
    differences += [_difference(name, text[name], saved_text[name]) for name in TEXT_OPTIONS
                    if name in given and text[name] != saved_text[name]]
    if differences:
        raise UsageError(f"--resume {folder}: options differ from the checkpoint's: "
                         f"{'; '.join(differences)}; leave them out to go on with the "
                         "checkpoint's, or start a new run without --resume")
    options["text_format"] = TextFormat(**saved_text)
    extended = [(name, keys) for name, keys in EXTENDABLE_OPTIONS.items()
                if name in given and _value(wanted, keys) != _value(saved, keys)]
    changes = {name: _difference(name, _value(wanted, keys), _value(saved, keys))
               for name, keys in extended}
    for _, (group, key) in extended:
        saved[group][key] = wanted[group][key]
    return TrainOptions(**saved), changes


def start_or_resume(data, target, options):
    """(solver state or None, TrainOptions, folder to save into) of a run
    with --checkpoint and/or --resume; a --resume folder without a
    checkpoint starts the run from the beginning."""
    resume = options["resume"]
    folder = options["checkpoint"] or resume
    if not resume:
        return None, train_options_from(target, options), folder
    if not has_checkpoint(resume):
        click.echo(f"descend: note: no checkpoint in {resume} yet; starting from the "
                   f"beginning, with checkpoints saved in {folder}", err=True)
        return None, train_options_from(target, options), folder
    state, meta = load_checkpoint(resume, TrainOptions)
    train_options, changes = resumed_options(meta, target, options, resume)
    if state.iteration > train_options.estimator["max_iter"]:
        raise UsageError(f"--max-iter {train_options.estimator['max_iter']}: the checkpoint in "
                         f"{resume} is already at iteration {state.iteration}; give a larger "
                         "--max-iter, or leave it out")
    if fingerprint(open_source(data, text_format=options["text_format"]).files) != meta["data_sha256"]:
        raise UsageError(f"{data} is not the file the checkpoint was made on; give the "
                         "same data file to --resume")
    if changes:
        click.echo(f"descend: note: resuming with {', '.join(changes.values())}", err=True)
    if "tol" in changes:
        state.converged = False  # judged again by the new tolerance
    return state, train_options, folder


def checkpointed_training(data, target, model_path, options):
    """``descend train`` with --checkpoint and/or --resume."""
    state, train_options, folder = start_or_resume(data, target, options)
    meta = {"target": target, "data_sha256": fingerprint(open_source(data, text_format=options["text_format"]).files),
            "train_options": dataclasses.asdict(train_options),
            "text_format": dataclasses.asdict(options["text_format"]),
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
