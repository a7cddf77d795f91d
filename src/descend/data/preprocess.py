"""Turning a table into the matrix X: scikit-learn fits it, JSON keeps it.

Numeric columns are standardised (StandardScaler) and text or categorical
columns one-hot encoded (OneHotEncoder, unseen categories ignored), with an
optional SimpleImputer in front; scikit-learn's ColumnTransformer fits them.
The fitted numbers (means, scales, categories, fill values) are kept as plain
JSON in the model file, and :meth:`Preprocessor.transform` replays exactly the
same arithmetic on new tables, so no pickled object is ever loaded.
"""
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from descend.exceptions import DataError
from descend.io.json_values import floats, strings

#: How missing feature values can be filled (text columns: most frequent).
IMPUTE_STRATEGIES = ["mean", "median", "most_frequent"]


def split_columns(frame, path=""):
    """Numeric and categorical column names; mixed columns are an error.

    A text column in which most values are numbers is a column of numbers with
    some garbage in it, not a category: it is refused with an example value.
    """
    numeric, categorical = [], []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            _check_not_mixed(col, name, path)
            categorical.append(name)
        else:
            numeric.append(name)
    return numeric, categorical


def _check_not_mixed(col, name, path):
    values = col.dropna()
    if len(values) == 0 or pd.api.types.is_bool_dtype(col):
        return
    as_number = pd.to_numeric(values, errors="coerce")
    share = as_number.notna().mean()
    if share >= 0.5:
        bad = values[as_number.isna()]
        row = bad.index[0]
        raise DataError(
            f"{path}: column {name!r} mixes numbers and text (e.g. {str(bad.iloc[0])!r} "
            f"in data row {row + 1}, {len(bad)} such values); fix those values, "
            "or leave the column out with {drop}", drop=name)


class Preprocessor:
    """The fitted transformation table → X, as numbers that JSON can hold.

    Parameters
    ----------
    numeric : dict
        ``columns``, ``mean``, ``scale`` and ``fill`` (imputed values or None).
    categorical : dict
        ``columns``, ``categories`` (one list per column) and ``fill``.
    """

    def __init__(self, numeric, categorical):
        self.numeric = numeric
        self.categorical = categorical

    @property
    def columns(self):
        return list(self.numeric["columns"]) + list(self.categorical["columns"])

    @property
    def feature_names(self):
        """Names of the columns of X, like scikit-learn's get_feature_names_out."""
        names = list(self.numeric["columns"])
        for col, cats in zip(self.categorical["columns"], self.categorical["categories"]):
            names += [f"{col}={c}" for c in cats]
        return names

    @classmethod
    def fit(cls, frame, impute=None, path=""):
        """Fit scikit-learn's transformers on ``frame``; return the Preprocessor
        and the transformed matrix (float64, C order)."""
        numeric, categorical = split_columns(frame, path)
        values = frame[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        _check_finite(values, numeric, path)
        _check_magnitude(values, numeric, path)
        transformer = _column_transformer(numeric, categorical, impute)
        X = transformer.fit_transform(_as_categories(frame, categorical))
        fitted = transformer.named_transformers_
        num = {"columns": numeric, "mean": [], "scale": [], "fill": None}
        if numeric:
            scaler = fitted["num"][-1]
            num.update(mean=scaler.mean_.tolist(), scale=scaler.scale_.tolist())
            if impute:
                num["fill"] = fitted["num"][0].statistics_.astype(float).tolist()
        cat = {"columns": categorical, "categories": [], "fill": None}
        if categorical:
            encoder = fitted["cat"][-1]
            cat["categories"] = [[str(c) for c in cats] for cats in encoder.categories_]
            if impute:
                cat["fill"] = [str(v) for v in fitted["cat"][0].statistics_]
        return cls(num, cat), np.ascontiguousarray(X, dtype=np.float64)

    def transform(self, frame, path=""):
        """X for a table with (at least) the fitted columns, by name."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(f"{path}: missing feature columns {missing}; the model was "
                            f"trained on {self.columns}")
        parts = []
        if self.numeric["columns"]:
            parts.append(self._numeric_block(frame, path))
        for i, col in enumerate(self.categorical["columns"]):
            parts.append(self._one_hot(frame[col], i, path))
        if not parts:
            return np.empty((len(frame), 0))
        return np.ascontiguousarray(np.hstack(parts), dtype=np.float64)

    def _numeric_block(self, frame, path):
        cols = self.numeric["columns"]
        block = frame[cols]
        try:
            values = block.apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{path}: a numeric feature column holds text ({exc}); "
                            "fix those values") from None
        _check_finite(values, cols, path)
        if self.numeric["fill"] is not None:
            values = np.where(np.isnan(values), np.asarray(self.numeric["fill"]), values)
        elif np.isnan(values).any():
            raise missing_values_error(block, path)
        return (values - np.asarray(self.numeric["mean"])) / np.asarray(self.numeric["scale"])

    def _one_hot(self, column, i, path):
        cats = self.categorical["categories"][i]
        values = column.astype(object).where(column.notna(), None)
        if values.isna().any():
            if self.categorical["fill"] is None:
                raise missing_values_error(column.to_frame(), path)
            values = values.fillna(self.categorical["fill"][i])
        text = values.map(str).to_numpy()
        # Unseen categories get all zeros, as OneHotEncoder(handle_unknown="ignore").
        return (text[:, None] == np.asarray(cats, dtype=object)[None, :]).astype(np.float64)

    def to_dict(self):
        return {"numeric": self.numeric, "categorical": self.categorical}

    @classmethod
    def from_dict(cls, data):
        """The preprocessor :meth:`to_dict` wrote, every field checked (a
        TypeError or ValueError names the first that is wrong)."""
        num, cat = data["numeric"], data["categorical"]
        strings(num["columns"]), strings(cat["columns"])
        n_num = len(num["columns"])
        floats(num["mean"], n_num), floats(num["scale"], n_num, positive=True)
        if num["fill"] is not None:
            floats(num["fill"], n_num)
        if len(cat["categories"]) != len(cat["columns"]):
            raise ValueError("one list of categories per categorical column expected")
        for cats in cat["categories"]:
            strings(cats)
        if cat["fill"] is not None:
            strings(cat["fill"])
            if len(cat["fill"]) != len(cat["columns"]):
                raise ValueError("one fill value per categorical column expected")
        return cls(num, cat)


def _as_categories(frame, categorical):
    """Categorical columns as strings (missing stays NaN), so booleans, numbers
    and text encode the same way at fit and at transform time."""
    frame = frame.copy()
    for col in categorical:
        frame[col] = pd.Series([str(v) if not pd.isna(v) else np.nan for v in frame[col]],
                               index=frame.index, dtype=object)
    return frame


def _column_transformer(numeric, categorical, impute):
    num_steps = [StandardScaler()]
    cat_steps = [OneHotEncoder(handle_unknown="ignore", sparse_output=False)]
    if impute:
        num_steps.insert(0, SimpleImputer(strategy=impute))
        # Text has no mean: categories are filled with their most frequent value.
        cat_steps.insert(0, SimpleImputer(strategy="most_frequent"))
    return ColumnTransformer([("num", make_pipeline(*num_steps), numeric),
                              ("cat", make_pipeline(*cat_steps), categorical)],
                             sparse_threshold=0.0)


def _check_magnitude(values, columns, path=""):
    """Values whose squares overflow cannot be standardised."""
    with np.errstate(invalid="ignore"):
        too_big = np.nanmax(np.abs(values), axis=0, initial=0.0) > 1e150
    if too_big.any():
        names = [c for c, big in zip(columns, too_big) if big]
        raise DataError(f"{path}: values too large to standardise in {names} (beyond 1e150); "
                        "rescale those columns (divide by a power of ten, or take the log)")


def _check_finite(values, columns, path=""):
    """Infinite values have no place in a standardised feature."""
    bad = np.isinf(values).sum(axis=0)
    if bad.any():
        listing = ", ".join(f"{c!r}: {n}" for c, n in zip(columns, bad) if n)
        raise DataError(f"{path}: infinite values in {listing}; replace them with finite "
                        "numbers or leave them empty and use {impute}", impute=None)


def missing_values_error(frame, path=""):
    """The error listing each column with missing values and the two fixes."""
    counts = frame.isna().sum()
    counts = counts[counts > 0]
    listing = ", ".join(f"{name!r}: {n}" for name, n in counts.items())
    return DataError(f"{path}: missing values in {listing}; use {{drop_missing}} to drop "
                     "those rows or {impute} to fill them", drop_missing=True,
                     impute=IMPUTE_STRATEGIES)
