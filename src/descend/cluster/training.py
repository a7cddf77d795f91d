"""Training a :class:`~descend.model.table_model.TableModel` on files with Dask.

Two passes over the partitions, each one graph: the first gathers, per
partition, the labels and the preprocessing statistics of the rows kept
(the single-machine :class:`~descend.data.statistics.TableStatistics`, merged
in partition order on the client); the second builds each partition's rows of
X with the fitted :class:`~descend.data.preprocess.Preprocessor` — lazily, as
the chunks of a dask array the estimator persists and fits on.
"""
import time
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.exceptions import ConvergenceWarning

from descend.cluster.tables import Frame, arrow_part
from descend.data.design import LabelsAndGaps
from descend.data.preprocess import Preprocessor, missing_values_error, split_columns
from descend.data.statistics import TableStatistics
from descend.data.tables import select_features
from descend.exceptions import DataError, DescendWarning, UsageError
from descend.model.labels import choose_classes, encode_target, missing_labels_error
from descend.model.training import (
    Prepared,
    _warn_about_identifiers,
    fit_prepared,
    summarise,
)


def _check_options(options):
    if options.validation:
        raise UsageError("{validation} is not available with --dask: hold out a file (or a "
                         "folder) and pass it to 'descend evaluate'", validation=None)
    if options.impute == "median":
        raise UsageError("{impute} median needs every value of a column in one place; with "
                         "--dask use mean or most_frequent", impute=["mean", "most_frequent"])


def _kept(table, target, features, options):
    """(the rows to keep, labels, rows without a label, feature gaps, dropped)."""
    visit = LabelsAndGaps(target, features, threads=1)  # a worker's one thread
    for batch in table.combine_chunks().to_batches():
        visit(batch)
    labels, gaps, missing = visit.result()
    no_label = labels.is_null().to_numpy(zero_copy_only=False)
    drop = no_label.copy() if options.drop_missing else np.zeros(len(gaps), dtype=bool)
    if options.drop_missing and not options.impute:
        drop |= gaps
    dropped = {"missing_target": int((drop & no_label).sum()),
               "missing_features": int((drop & ~no_label).sum())}
    return ~drop, labels, int((no_label & ~drop).sum()), missing, dropped


def summarise_part(part, schema, target, features, options):
    """Pass 1 on one partition: kept rows, label counts, statistics and gaps."""
    table = arrow_part(part, schema)
    keep, labels, no_label, missing, dropped = _kept(table, target, features, options)
    numeric, categorical = split_columns(pa.schema([schema.field(f) for f in features]))
    stats = TableStatistics(numeric, categorical)
    kept = table.filter(pa.array(keep))
    for batch in kept.select(features).combine_chunks().to_batches():
        stats.update(batch)  # record batches, as the single-machine pass gives them
    counts = pc.value_counts(pc.drop_null(labels.filter(pa.array(keep))))
    return {"rows": kept.num_rows, "stats": stats, "no_label": no_label,
            "missing": missing if not options.impute and not options.drop_missing else {},
            "dropped": dropped, "labels": counts.field("values").to_pylist()}


def design_part(part, schema, target, preprocessor, classes, options, dtype):
    """Pass 2 on one partition: (its kept rows of X, their labels as 0/1 or indices)."""
    table = arrow_part(part, schema)
    keep = _kept(table, target, preprocessor.columns, options)[0]
    kept = table.filter(pa.array(keep))
    return (preprocessor.transform(kept, dtype=dtype),
            encode_target(kept.column(target), classes))


def _merged(parts, path):
    """The partitions' summaries as one: statistics merged in partition order."""
    stats, labels, missing = parts[0]["stats"], set(), {}
    dropped = {"missing_target": 0, "missing_features": 0}
    for k, part in enumerate(parts):
        if k:
            stats.merge(part["stats"])
        labels.update(part["labels"])
        for name, count in part["missing"].items():
            missing[name] = missing.get(name, 0) + count
        for key in dropped:
            dropped[key] += part["dropped"][key]
    no_label = sum(p["no_label"] for p in parts)
    if no_label:
        raise missing_labels_error(no_label, path)
    if missing:
        raise missing_values_error(missing, path)
    if not stats.rows:
        raise DataError(f"{path}: every row has a missing value; use {{impute}} instead",
                        impute=["mean", "most_frequent"])
    return stats, sorted(labels), dropped


def _design(frame, parts, sizes, target, preprocessor, classes, options):
    """X and y as dask arrays, one chunk per partition with rows (lazy)."""
    import dask.array as da
    from dask import delayed
    dtype = np.dtype(options.dtype or np.float64)
    make = delayed(design_part, pure=True, nout=2)
    xs, ys = [], []
    y_dtype = np.intp if len(classes) > 2 else np.float64
    for part, rows in zip(parts, sizes):
        if rows:
            X, y = make(part, frame.schema, target, preprocessor, classes, options, dtype)
            xs.append(da.from_delayed(X, (rows, preprocessor.n_features_out), dtype=dtype))
            ys.append(da.from_delayed(y, (rows,), dtype=y_dtype))
    return da.concatenate(xs), da.concatenate(ys)


def prepare_on_cluster(data, options, text_format=None):
    """The :class:`~descend.model.training.Prepared` rows of the files, X
    and y as dask arrays (one graph for the statistics)."""
    import dask
    from dask import delayed
    _check_options(options)
    frame, path = Frame(data, text_format=text_format), str(data)
    columns = select_features(frame.schema.names, options, path)
    parts = frame.partitions()
    summary = delayed(summarise_part, pure=True)
    summaries = dask.compute(*[summary(p, frame.schema, options.target, columns, options)
                               for p in parts])
    stats, labels, dropped = _merged(list(summaries), path)
    classes = choose_classes(pa.array(labels, pa.string()), options.positive, path)
    preprocessor = Preprocessor.from_statistics(stats, options.impute, path)
    _warn_about_identifiers(preprocessor, stats.rows, path)
    sizes = [s["rows"] for s in summaries]
    X, y = _design(frame, parts, sizes, options.target, preprocessor, classes, options)
    return Prepared(X, y, len(y), preprocessor, classes, columns, dropped)


def train_on_cluster(data, options, callback=None, solver_state=None, text_format=None):
    """:func:`~descend.model.training.train_rows` for files read by Dask:
    the :class:`TableModel`, its summary's metrics computed on the cluster."""
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("always", DescendWarning)
        prepared = prepare_on_cluster(data, options, text_format)
        prepared_at = time.perf_counter()
        model, clf = fit_prepared(prepared, options, callback, solver_state)
    model.warnings = [w.message for w in caught
                      if issubclass(w.category, (ConvergenceWarning, DescendWarning))]
    seconds = {"read": 0.0, "prepare": prepared_at - started,
               "fit": time.perf_counter() - prepared_at}
    import dask
    proba, y = dask.compute(clf.predict_proba(prepared.X), prepared.y)
    metrics = model.metrics(y, proba if model.multiclass else proba[:, 1])
    summarise(model, clf, prepared, seconds, train_metrics=metrics)
    model.summary["dask"] = {"partitions": int(prepared.X.numblocks[0])}
    return model
