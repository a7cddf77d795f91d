"""The target column's labels: the two classes, and labels as 0/1."""
import numpy as np
import pandas as pd

from descend.exceptions import DataError, UsageError


def label_strings(values):
    """Target values as the strings a model stores and compares ("yes", "1", "True")."""
    return pd.Series(values).map(lambda v: str(v) if not pd.isna(v) else None)


def _sort_key(label):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def choose_classes(target, positive=None, path=""):
    """[negative, positive] labels of a target column with exactly two values."""
    labels = label_strings(target)
    if labels.isna().any():
        raise DataError(f"{path}: the target column has {int(labels.isna().sum())} missing "
                        "values; fill them or drop those rows")
    values = sorted(labels.unique(), key=_sort_key)
    if len(values) != 2:
        shown = ", ".join(repr(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise DataError(f"{path}: the target must have exactly two values, it has "
                        f"{len(values)} ({shown}); pick a yes/no column or map it to two values")
    if positive is None:
        return values
    if str(positive) not in values:
        raise UsageError(f"the positive class {positive!r} ({{positive}}) is not a value of "
                         f"the target; use one of {values}", positive=None)
    return [v for v in values if v != str(positive)] + [str(positive)]


def encode_target(column, classes, path=""):
    """1 where the label is the positive class, 0 for the negative; others are errors."""
    labels = label_strings(column)
    unknown = sorted(set(labels.dropna()) - set(classes))
    if unknown or labels.isna().any():
        what = f"labels {unknown[:5]}" if unknown else "missing labels"
        raise DataError(f"{path}: the target column has {what} the model does not know; "
                        f"it was trained on {classes}")
    return (labels == classes[1]).to_numpy(dtype=np.float64)
