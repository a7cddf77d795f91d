"""train, predict and evaluate with ``--dask``: the same commands, the work
done by a Dask cluster (:mod:`descend.cluster`); each partition of the data
goes through the single-machine code."""
import os
import shutil
from pathlib import Path

import click
import numpy as np
import pyarrow.parquet as pq

from descend.cli.commands import unique_names
from descend.cluster.connect import check_address, dask_client
from descend.cluster.tables import Frame, arrow_part
from descend.exceptions import DataError, UsageError
from descend.io.outputs import prepare_outputs
from descend.model.modelfile import load_model
from descend.model.table_model import Scores


def train_with_dask(data, train_options, options, callback, solver_state):
    """``descend train --dask``: the :class:`TableModel` fitted on the cluster."""
    check_address(options["dask_address"])
    if options.get("memory_limit"):
        raise UsageError("--memory-limit does not apply with --dask: the workers' memory "
                         "decides what is persisted; leave one of them out")
    from descend.cluster.training import train_on_cluster
    with dask_client(options["dask_address"]):
        return train_on_cluster(data, train_options, callback, solver_state,
                                options.get("text_format"))


def predict_part(part, schema, model, path, folder, index):
    """One partition's rows and predictions written as ``part-INDEX.parquet``
    in ``folder``; returns (rows, rows without a prediction, renamed columns)."""
    table = arrow_part(part, schema)
    predictions = model.predict_table(table, path)
    names = unique_names(predictions.column_names, table.column_names)
    for name, column in zip(names, predictions.columns):
        table = table.append_column(name, column)
    pq.write_table(table, os.path.join(folder, f"part-{index:05d}.parquet"))
    renamed = {old: new for old, new in zip(predictions.column_names, names) if old != new}
    return table.num_rows, predictions.column(0).null_count, renamed


def _output_folder(output, data, model_path):
    if output is None or Path(output).suffix.lower() in (".csv", ".parquet", ".pq"):
        raise UsageError("--dask writes the predictions as a folder of Parquet parts: give "
                         "--output a folder name (e.g. -o predictions/)")
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file; give a folder for the Parquet parts")
    prepare_outputs({"MODEL": model_path, "DATA": data}, {"--output": output / "part.parquet"})
    return output


def predict_with_dask(model_path, data, output, text_format, address):
    """``descend predict --dask``: one Parquet part per partition, all in one graph,
    written into a new folder that replaces ``output`` only once every part is there."""
    check_address(address)
    output = _output_folder(output, data, model_path)
    model = load_model(model_path)
    import dask
    from dask import delayed
    staging = output.parent / f".{output.name}.descend-{os.getpid()}"
    with dask_client(address):
        frame = Frame(data, model.preprocessor.column_types(numbers_as_text=True),
                      others_as_text=True, text_format=text_format)
        staging.mkdir(parents=True)
        try:
            task = delayed(predict_part, pure=False)
            counts = dask.compute(*[task(part, frame.schema, model, str(data), str(staging), k)
                                    for k, part in enumerate(frame.partitions())])
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _replace_folder(staging, output)
    _report_predictions(counts, data, output)


def _replace_folder(staging, output):
    """``staging`` renamed to ``output``; a folder already there is removed after."""
    old = None
    if output.exists():
        old = output.parent / f".{output.name}.old-{os.getpid()}"
        output.rename(old)
    staging.rename(output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _report_predictions(counts, data, output):
    rows, skipped = sum(c[0] for c in counts), sum(c[1] for c in counts)
    renamed = {old: new for c in counts for old, new in c[2].items()}
    if not rows:
        raise DataError(f"{data}: only a header, no data rows")
    if renamed:
        click.echo(f"descend: note: {data} already has columns named "
                   f"{', '.join(map(repr, renamed))}; the predictions are in "
                   f"{', '.join(map(repr, renamed.values()))}", err=True)
    if skipped:
        click.echo(f"descend: warning: {skipped} rows have missing feature values and "
                   "no prediction (the model was trained without --impute)", err=True)
    click.echo(f"descend: {rows} predictions written to {output}/ "
               f"({len(counts)} Parquet parts)", err=True)


def score_part(part, schema, model, target, path):
    """One partition's labels and probabilities (as :meth:`TableModel.labelled_rows`)."""
    _, y, proba = model.labelled_rows(arrow_part(part, schema), target, path)
    return y, proba


def dask_scorer(data, target, text_format, address):
    """``descend evaluate --dask``'s scorer(model, column_types): see :func:`scores_with_dask`."""
    check_address(address)
    return lambda model, column_types: scores_with_dask(model, data, target, column_types,
                                                        text_format, address)


def scores_with_dask(model, data, target, column_types, text_format, address):
    """Labels and probabilities of every partition computed on the cluster
    (one graph), the metrics on the client, as :class:`Scores`."""
    import dask
    from dask import delayed
    target = target or model.target
    with dask_client(address):
        frame = Frame(data, column_types, text_format=text_format)
        if target not in frame.schema.names:
            raise DataError(f"{data}: no column {target!r}; give the labels' column with "
                            "{target}", target=None)
        model.preprocessor.require_columns(frame.schema.names, str(data))
        task = delayed(score_part, pure=True)
        parts = dask.compute(*[task(p, frame.schema, model, target, str(data))
                               for p in frame.partitions()])
    parts = [p for p in parts if len(p[0])]
    if not parts:
        raise DataError(f"{data}: only a header, no data rows")
    y = np.concatenate([p[0] for p in parts])
    proba = np.concatenate([p[1] for p in parts])
    return Scores(None, y, proba, model.metrics(y, proba))
