"""Dask input to :class:`descend.LogisticRegression`: the checks, labels and
weights the in-memory path does with scikit-learn's helpers, done lazily on
the cluster in one pass, and X persisted on the workers when it fits.

X is a dask array (chunked along rows; columns are joined into one chunk) or
a dask DataFrame of numeric columns; y and sample weights are dask arrays or
Series (rechunked like X's rows) or in-memory arrays (split like X's rows).
"""
import sys
import warnings

import numpy as np
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names, _check_n_features

from descend.exceptions import DataError, DescendWarning, UsageError

#: Persist X when it takes at most this share of the workers' memory.
PERSIST_SHARE = 0.5
INSTALL = "pip install descend[dask]"


def is_dask(X):
    """Whether X is a dask collection (dask is not imported to find out)."""
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(X)


def require_dask(what="dask input"):
    """dask.array, or a :class:`UsageError` naming the extra to install."""
    try:
        import dask.array
        import distributed  # noqa: F401  (the cluster half of the extra)
    except ImportError:
        raise UsageError(f"{what} needs dask and distributed, which are not installed: "
                         f"{INSTALL}") from None
    return dask.array


def as_matrix(estimator, X, reset):
    """X as a float dask array chunked along rows only; n_features_in_ and
    feature_names_in_ set (reset) or checked, as scikit-learn does."""
    da = require_dask()
    if getattr(X, "ndim", None) != 2:
        raise ValueError(f"X must be 2-D (rows × features); got {getattr(X, 'ndim', '?')}-D "
                         "dask input")
    if hasattr(X, "columns"):  # a dask DataFrame
        _check_numeric_columns(X)
        _check_feature_names(estimator, X._meta, reset=reset)
        X = X.to_dask_array(lengths=True)
    elif not isinstance(X, da.Array):
        raise UsageError(f"dask input must be a dask array or DataFrame, got {type(X).__name__}")
    if np.any(np.isnan(X.shape)):
        X = X.compute_chunk_sizes()
    _check_n_features(estimator, np.empty((0, X.shape[1])), reset=reset)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:  # each chunk's kernel needs whole rows
        X = X.rechunk({1: -1})
    if X.shape[0] == 0:
        raise ValueError("X has 0 rows: logistic regression needs examples")
    return X


def _check_numeric_columns(frame):
    import pandas as pd
    text = [str(c) for c, t in frame.dtypes.items()
            if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))]
    if text:
        raise DataError(f"dask DataFrame columns {text[:5]} are not numeric; the estimator "
                        "takes numbers only: encode them first (or train on the files with "
                        "the command line's --dask, which one-hot encodes text)")


def aligned(values, X, name):
    """y or sample weights as a 1-D dask array chunked like X's rows."""
    da = require_dask()
    if hasattr(values, "to_dask_array"):  # a dask Series or one-column frame
        values = values.to_dask_array(lengths=True)
    if not isinstance(values, da.Array):
        values = np.asarray(values)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values.ravel()
        if len(values) != X.shape[0]:
            raise ValueError(f"{name} has {len(values)} rows but X has {X.shape[0]}")
        return da.from_array(values, chunks=(X.chunks[0],))
    if np.any(np.isnan(values.shape)):
        values = values.compute_chunk_sizes()
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.shape[0] != X.shape[0]:
        raise ValueError(f"{name} has shape {values.shape} but X has {X.shape[0]} rows")
    return values if values.chunks[0] == X.chunks[0] else values.rechunk((X.chunks[0],))


def _chunk_summary(X, y, s):
    """One chunk's labels, their weighted counts, whether X is finite and
    the weights' least and largest values."""
    labels, inverse = np.unique(y, return_inverse=True)
    weights = None if s is None else np.asarray(s, dtype=np.float64)
    counts = np.bincount(inverse.ravel(), weights=weights, minlength=len(labels))
    low, high = (0.0, 0.0) if s is None or not len(s) else (float(np.min(s)), float(np.max(s)))
    return labels, counts, bool(np.all(np.isfinite(X))), low, high


def summarise(X, y, s):
    """The chunks' summaries merged in chunk order: (labels, weighted counts,
    X finite, least weight, largest weight); one graph."""
    import dask
    from dask import delayed
    summary = delayed(_chunk_summary, pure=True)
    ss = [None] * X.numblocks[0] if s is None else s.to_delayed().ravel()
    parts = dask.compute(*[summary(xc, yc, sc) for xc, yc, sc in
                           zip(X.to_delayed().ravel(), y.to_delayed().ravel(), ss)])
    labels, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
    counts = np.zeros(len(labels))
    np.add.at(counts, inverse, np.concatenate([p[1] for p in parts]))
    return (labels, counts, all(p[2] for p in parts), min(p[3] for p in parts),
            max(p[4] for p in parts))


def _c_ordered(block):
    """The chunk itself when C-contiguous, else a C copy (a pandas block may
    be in Fortran order, which the kernels read across rows).

    An unaligned chunk (one that reached its worker pickled, as from
    ``da.from_array`` of a NumPy X or ``client.scatter``, may lie at an odd
    offset of the message's buffer) is read in place: the compiled kernels
    read it as fast, and the curvature copies each block it hands to BLAS
    into an aligned one (:meth:`~descend.engine.objective.Objective._curvature_blocks`).
    A whole aligned copy made fresh memory the size of X, which cost the
    first fit on a cluster more than a second (1,000,000 × 100, 8 chunks)."""
    return np.require(block, requirements=["C_CONTIGUOUS"])


def _encode_block(y, classes, multinomial, dtype):
    codes = np.searchsorted(classes, y)
    return codes.astype(np.intp) if multinomial else codes.astype(dtype)


def _weigh_block(codes, s, per_class, dtype):
    weights = per_class[codes.astype(int)].astype(dtype)
    return weights if s is None else s.astype(dtype) * weights


def validate_training_data(estimator, X, y, sample_weight, reset, set_classes):
    """(X, codes, weights) for the estimator's fit, as dask arrays chunked
    alike and persisted when they fit; classes_ set or checked (one pass)."""
    X = as_matrix(estimator, X, reset)
    y = aligned(y, X, "y")
    s = None if sample_weight is None else aligned(sample_weight, X, "sample_weight")
    labels, counts, finite, low, high = summarise(X, y, s)
    if not finite:
        raise ValueError("Input X contains NaN or infinity; impute or drop those values "
                         "(descend's --impute does it for files)")
    check_classification_targets(labels)
    if reset if set_classes is None else set_classes:
        estimator.classes_ = estimator._check_classes(labels)
    unknown = np.setdiff1d(labels, estimator.classes_)
    if len(unknown):
        raise ValueError(f"y has labels {unknown[:5].tolist()} not in classes_ "
                         f"{estimator.classes_.tolist()}")
    multinomial = estimator._multinomial
    codes = y.map_blocks(_encode_block, estimator.classes_, multinomial, X.dtype,
                         dtype=np.intp if multinomial else X.dtype)
    s = _weights(estimator, codes, s, labels, counts, low, high, X.dtype)
    return persist(X.map_blocks(_c_ordered, dtype=X.dtype), codes, s)


def _weights(estimator, codes, s, labels, counts, low, high, dtype):
    """The sample weights times the class weights, lazily (None: all ones)."""
    if s is not None:
        if low < 0:
            raise ValueError("Negative values in data passed to `sample_weight`")
        if not high < 1e150:
            raise DataError(f"sample_weight has values as large as {high:.3g}: their sums "
                            "overflow floating point; rescale the weights (only their "
                            "ratios matter)")
        if not counts.sum() > 0:
            raise ValueError("sample_weight sums to zero; give some examples a positive weight")
    if estimator.class_weight is None:
        return s
    classes = estimator.classes_
    in_order = np.zeros(len(classes))
    in_order[np.searchsorted(classes, labels)] = counts
    # the weighted class counts stand for y: compute_class_weight's own formula
    per_class = compute_class_weight(estimator.class_weight, classes=classes, y=classes,
                                     sample_weight=in_order)
    if s is None:
        return codes.map_blocks(_weigh_block, None, per_class, dtype, dtype=dtype)
    return codes.map_blocks(_weigh_block, s, per_class, dtype, dtype=dtype)


def _client():
    """The distributed client dask computes with, or None (the local scheduler)."""
    try:
        from distributed import default_client
        return default_client()
    except ValueError:
        return None


def memory_room():
    """Bytes X may take in the workers' memory (a share of their limits)."""
    import psutil
    client = _client()
    if client is None:  # the local scheduler: this process's memory
        return PERSIST_SHARE * psutil.virtual_memory().available
    workers = client.scheduler_info()["workers"].values()
    return PERSIST_SHARE * sum(w.get("memory_limit") or psutil.virtual_memory().total
                               for w in workers)


def persist(X, y, s):
    """The arrays persisted on the workers when X fits in their memory;
    otherwise as they are (each pass recomputes the chunks from their source)."""
    import dask
    arrays = [a for a in (X, y, s) if a is not None]
    nbytes, room = sum(a.nbytes for a in arrays), memory_room()
    if nbytes > room:
        warnings.warn(DescendWarning(
            f"X takes {nbytes / 2**30:.2f} GiB, more than the {room / 2**30:.2f} GiB it may use "
            "of the workers' memory: it is not persisted, and every pass recomputes its "
            "chunks from their source (add workers or memory to persist it)"), stacklevel=4)
        return X, y, s
    persisted = list(dask.persist(*arrays))
    if _client() is not None:  # loaded before the first pass (and its timing)
        from distributed import wait
        wait(persisted)
    return persisted[0], persisted[1], persisted[2] if s is not None else None


def total_weight(s, n_rows):
    """S = Σ sᵢ in float64 (one small graph), or the row count without weights."""
    if s is None:
        return float(n_rows)
    return float(s.sum(dtype=np.float64).compute())


def make_objective(estimator, X, codes, s):
    """The :class:`~descend.engine.dask_objective.DaskObjective` of a fit."""
    from descend.engine.dask_objective import DaskObjective
    S = total_weight(s, X.shape[0])
    l2, _ = estimator._strengths(S)  # the L2 share of the penalty; an L1 part goes to the solver
    return DaskObjective(X, codes, s, S, n_classes=len(estimator.classes_), l2=l2,
                         fit_intercept=estimator.fit_intercept,
                         n_threads=estimator.n_jobs or 1)
