"""The target column's labels: the classes, and labels as 0/1 (two classes)
or as class indices (K ≥ 3 classes).

Labels are compared as the text they are in the file ("yes", "1", "True"),
whole columns at a time with Arrow's kernels.
"""
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from descend.data.columns import as_labels
from descend.data.preprocess import as_arrow
from descend.exceptions import DataError, UsageError


def label_text(column):
    """A target column (Arrow, pandas or NumPy) as an Arrow string array, or
    as the dictionary array of strings it is (one code per row, nothing to
    decode)."""
    if not isinstance(column, (pa.Array, pa.ChunkedArray)):
        column = as_arrow(_frame_of(column)).column(0)
    return as_labels(column)


def _frame_of(values):
    import pandas as pd
    return pd.DataFrame({"label": pd.Series(values).reset_index(drop=True)})


def _sort_key(label):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def distinct_labels(text):
    """The distinct non-missing labels of a string array, 0 before 1, a before b."""
    return sorted(pc.unique(pc.drop_null(text)).to_pylist(), key=_sort_key)


#: A target with more distinct values than this is not a set of classes.
MAX_CLASSES = 1000


def choose_classes(text, positive=None, path=""):
    """[negative, positive] labels of a target column with two values; the
    sorted labels of one with K ≥ 3 (the multinomial model)."""
    text = label_text(text)
    if text.null_count:
        raise missing_labels_error(text.null_count, path)
    values = distinct_labels(text)
    shown = ", ".join(repr(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
    if len(values) < 2:
        raise DataError(f"{path}: the target has only one value ({shown}); logistic "
                        "regression needs examples of at least two classes")
    if len(values) > MAX_CLASSES:
        raise DataError(f"{path}: the target has {len(values)} distinct values ({shown}), "
                        f"more than {MAX_CLASSES} classes: it looks like a number or an "
                        "identifier; pick a column of classes")
    if len(values) > 2:
        if positive is not None:
            raise UsageError(f"{{positive}} names the positive class of a two-class target; "
                             f"this one has {len(values)} classes ({shown}): leave it out",
                             positive=None)
        return values
    if positive is None:
        return values
    if str(positive) not in values:
        raise UsageError(f"the positive class {positive!r} ({{positive}}) is not a value of "
                         f"the target; use one of {values}", positive=None)
    return [v for v in values if v != str(positive)] + [str(positive)]


def missing_labels_error(count, path=""):
    """The error for rows without a label, and the two fixes."""
    return DataError(f"{path}: the target column has {count} missing values; fill them, "
                     "or drop those rows with {drop_missing}", drop_missing=True)


def encode_target(column, classes, path=""):
    """1 where the label is the positive class, 0 for the negative (two
    classes); the index of each label in ``classes`` (K ≥ 3, intp); labels
    not in ``classes`` are errors."""
    text = label_text(column)
    known = pa.array(classes, pa.string())
    if pa.types.is_dictionary(text.type):  # each distinct label looked up once
        codes = pc.index_in(text.dictionary, value_set=known).take(text.indices)
    else:
        codes = pc.index_in(text, value_set=known)
    if codes.null_count:
        unknown = distinct_labels(pc.filter(text, pc.and_(pc.is_null(codes),
                                                          pc.is_valid(text))))
        what = f"labels {unknown[:5]}" if unknown else "missing labels"
        raise DataError(f"{path}: the target column has {what} the model does not know; "
                        f"it was trained on {classes}")
    # two classes: index 1 is the positive one
    return codes.to_numpy(zero_copy_only=False).astype(np.intp if len(classes) > 2
                                                        else np.float64)
