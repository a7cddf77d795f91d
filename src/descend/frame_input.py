"""``LogisticRegression`` on a pandas DataFrame with ``category`` columns.

As scikit-learn's ``HistGradientBoostingClassifier`` does with
``categorical_features="from_dtype"``, a column of pandas' ``category`` dtype
is a categorical feature and every other column a number. The frame becomes
a :class:`~descend.engine.codes.CodedMatrix`: the numeric columns, in the
frame's order and in their own units (the library does not standardise, as
on any other X), beside one integer code per categorical column (the
smallest integer type that holds its levels). Its full matrix is
``pd.get_dummies(X)``'s: the numbers, then one column per level of each
categorical column, in the column's category order, so ``coef_`` has that
layout. A row whose value is missing (NaN) or a level the model was not
fitted with has code −1 and its block adds nothing to z, as the command line
and ``OneHotEncoder(handle_unknown="ignore")`` do.

Fitting stores ``feature_names_in_`` and ``n_features_in_`` (the frame's
columns), ``is_categorical_`` (which of them are categorical) and
``categories_`` (the levels of each categorical column); every later frame
is coded by level name against them, whatever the order of its own
categories, and its categorical columns may also hold plain values (text
read from a file, say). ``LogisticRegressionCV`` validates its X the same
way, so its folds and its refit see the codes too.
"""
import sys

import numpy as np

from descend.engine.codes import CodedMatrix, code_dtype, is_coded, level_names
from descend.exceptions import DataError

FITTED = ("is_categorical_", "categories_")


def _pandas():
    """pandas if the caller has imported it (no frame can exist otherwise)."""
    return sys.modules.get("pandas")


def is_frame(X):
    """Whether X is a pandas DataFrame."""
    pd = _pandas()
    return pd is not None and isinstance(X, pd.DataFrame)


def is_category_frame(X):
    """Whether X is a pandas DataFrame with at least one ``category`` column."""
    return is_frame(X) and any(isinstance(t, _pandas().CategoricalDtype) for t in X.dtypes)


def fitted_on_frame(estimator):
    """Whether ``estimator`` was fitted on a frame with ``category`` columns."""
    return hasattr(estimator, "categories_")


def forget(estimator):
    """Remove the frame's fitted attributes (a refit on other input)."""
    for name in FITTED:
        if hasattr(estimator, name):
            delattr(estimator, name)


def coded_width(estimator):
    """Columns of the full matrix: the numbers and every level."""
    return int(np.sum(~estimator.is_categorical_)) + sum(map(len, estimator.categories_))


def coefficient_names(estimator):
    """The name of each column of ``coef_``: the numeric columns', then
    ``column=level`` for each level, as ``pd.get_dummies`` orders them (with
    ``=`` for its ``_``); ``feature_names_in_`` for other fits, else None."""
    if not fitted_on_frame(estimator):
        return getattr(estimator, "feature_names_in_", None)
    names, mask = estimator.feature_names_in_, estimator.is_categorical_
    return list(names[~mask]) + level_names(names[mask], estimator.categories_)


def to_coded(estimator, X, reset):
    """The CodedMatrix of frame X: the layout learnt from X on ``reset``,
    else X's columns checked against the fitted ones and its values coded
    by level name."""
    if reset:
        _learn_layout(estimator, X)
    else:
        _check_columns(estimator, X)
    names, mask = estimator.feature_names_in_, estimator.is_categorical_
    levels = [len(cats) for cats in estimator.categories_]
    codes = np.empty((len(X), len(levels)), dtype=code_dtype(levels))
    for j, (name, cats) in enumerate(zip(names[mask], estimator.categories_)):
        codes[:, j] = level_codes(X[name], cats)
    return CodedMatrix(_numeric_block(X, names[~mask]), codes, levels)


def level_codes(column, categories):
    """Each value's position in ``categories``, −1 for a missing value or a
    level not among them."""
    pd = _pandas()
    index = pd.Index(categories)
    if isinstance(column.dtype, pd.CategoricalDtype):
        # one look-up per category, not per row; code −1 (missing) reads the
        # −1 appended at the end
        lookup = np.append(index.get_indexer(column.cat.categories), -1)
        return lookup[column.cat.codes.to_numpy()]
    return index.get_indexer(column)


def _learn_layout(estimator, X):
    """feature_names_in_, n_features_in_, is_categorical_ and categories_ of X."""
    pd = _pandas()
    names = list(X.columns)
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise DataError("a DataFrame with category columns needs distinct string column "
                        f"names, got {names[:8]}")
    mask = np.array([isinstance(t, pd.CategoricalDtype) for t in X.dtypes])
    categories = [np.asarray(X[n].cat.categories) for n in np.asarray(names, object)[mask]]
    empty = [n for n, cats in zip(np.asarray(names, dtype=object)[mask], categories)
             if len(cats) == 0]
    if empty:
        raise DataError(f"category columns {empty} have no categories; give them their "
                        "levels (Series.cat.set_categories) or leave them out")
    estimator.feature_names_in_ = np.asarray(names, dtype=object)
    estimator.n_features_in_ = len(names)
    estimator.is_categorical_ = mask
    estimator.categories_ = categories


def _check_columns(estimator, X):
    """The fitted columns, by name and in order, as scikit-learn asks of frames."""
    names = list(X.columns)
    fitted = list(estimator.feature_names_in_)
    if names != fitted:
        missing = [n for n in fitted if n not in names]
        unexpected = [n for n in names if n not in fitted]
        detail = (f"missing {missing[:8]}" if missing else "") + \
            (f"{', ' if missing else ''}unexpected {unexpected[:8]}" if unexpected else "")
        raise ValueError(f"the DataFrame's columns must be those the model was fitted on, "
                         f"in the same order ({detail or 'another order'}): {fitted[:8]}")


def _numeric_block(X, names):
    """The numeric columns as one C-order array: float32 when they all are,
    else float64; text or non-finite values are a DataError."""
    pd = _pandas()
    columns = X[list(names)]
    text = [n for n in names if not (pd.api.types.is_numeric_dtype(columns[n])
                                     or pd.api.types.is_bool_dtype(columns[n]))]
    if text:
        raise DataError(f"columns {text[:8]} are neither numbers nor of the category dtype; "
                        "make them categorical (X[col].astype('category')) or numeric")
    single = len(names) and all(t == np.float32 for t in columns.dtypes)
    block = np.ascontiguousarray(columns.to_numpy(dtype=np.float32 if single else np.float64))
    bad = ~np.isfinite(block).all(axis=0)
    if bad.any():
        raise DataError(f"numeric columns {list(np.asarray(names, object)[bad][:8])} hold NaN or "
                        "infinite values; drop or impute them first")
    return block


def check_coded_input(estimator, X):
    """A model fitted on a frame predicts from a frame (or the CodedMatrix
    of one); anything else is a ValueError naming the columns it needs."""
    if is_coded(X) or is_frame(X):
        return
    raise ValueError(f"this model was fitted on a DataFrame with category columns; pass a "
                     f"DataFrame with its columns {list(estimator.feature_names_in_)[:8]}, "
                     f"not {type(X).__name__}")
