"""Turning a table into the design matrix X, with numbers JSON can keep.

Numeric columns are standardised and text (or true/false) columns one-hot
encoded, with missing values optionally filled first: the arithmetic of
scikit-learn's SimpleImputer → StandardScaler and OneHotEncoder
(``handle_unknown="ignore"``), tested equal to them. The one-hot columns are
written densely ("onehot") or kept as one integer code per categorical
column beside the dense numbers ("codes", a
:class:`~descend.engine.codes.CodedMatrix`: the same matrix, never written
out), chosen by :func:`choose_encoding`. The statistics come from
one streaming pass (:mod:`descend.data.statistics`); the fitted numbers
(means, scales, categories, fill values) are kept as plain JSON in the model
file, and :meth:`Preprocessor.fill_rows` turns each block of rows straight
into rows of X in the model's dtype, with Arrow and NumPy kernels only.
"""
import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from descend.data import columns as kinds
from descend.data.fill import fill_block
from descend.data.statistics import TableStatistics, infinite_values_error
from descend.engine.codes import CodedMatrix, code_dtype, level_names
from descend.exceptions import DataError
from descend.io.json_values import floats, strings

#: How missing feature values can be filled (text columns: most frequent).
IMPUTE_STRATEGIES = ["mean", "median", "most_frequent"]
#: The fills that need every value of a column, not only its moments.
VALUE_FILLS = ("median", "most_frequent")
#: How categorical columns become columns of X ("auto": :func:`choose_encoding`).
ENCODINGS = ["auto", "onehot", "codes"]
#: "auto" keeps categories as codes above this many levels in a column ...
CODES_MIN_LEVELS = 32
#: ... or when the dense one-hot columns would take more than this (float64).
CODES_MIN_ONEHOT_BYTES = 256 * 2**20


def choose_encoding(levels, n_rows, encoding="auto"):
    """"onehot" or "codes" for categorical columns of ``levels`` levels on
    ``n_rows`` rows: "auto" takes codes when a column has more than
    ``CODES_MIN_LEVELS`` levels or the one-hot block would be larger than
    ``CODES_MIN_ONEHOT_BYTES``; both give the same numbers."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if encoding != "auto":
        return encoding
    if not levels:
        return "onehot"
    large = n_rows * sum(levels) * 8 > CODES_MIN_ONEHOT_BYTES
    return "codes" if max(levels) > CODES_MIN_LEVELS or large else "onehot"


def as_arrow(data):
    """An Arrow table of a pandas DataFrame, Arrow table or record batch."""
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return data
    return pa.Table.from_pandas(data, preserve_index=False)


def split_columns(schema, path=""):
    """Numeric and categorical column names of an Arrow schema, in order."""
    numeric, categorical = [], []
    for field in schema:
        kind = kinds.kind_of(field.name, field.type, path)
        (numeric if kind == "numeric" else categorical).append(field.name)
    return numeric, categorical


class Preprocessor:
    """The fitted transformation table → X, as numbers that JSON can hold.

    Parameters
    ----------
    numeric : dict
        ``columns``, ``mean``, ``scale`` and ``fill`` (imputed values or None).
    categorical : dict
        ``columns``, ``categories`` (one sorted list per column) and ``fill``.
    encoding : {"onehot", "codes"}
        X as a dense array with the one-hot columns written, or as a
        :class:`~descend.engine.codes.CodedMatrix` (the same numbers).
    """

    def __init__(self, numeric, categorical, encoding="onehot"):
        self.numeric = numeric
        self.categorical = categorical
        self.encoding = encoding

    @property
    def columns(self):
        return list(self.numeric["columns"]) + list(self.categorical["columns"])

    @property
    def feature_names(self):
        """Names of the columns of X, like scikit-learn's get_feature_names_out."""
        return list(self.numeric["columns"]) + level_names(self.categorical["columns"],
                                                           self.categorical["categories"])

    @property
    def n_features_out(self):
        return len(self.numeric["columns"]) + sum(map(len, self.categorical["categories"]))

    # -- fitting ------------------------------------------------------------
    @classmethod
    def fit(cls, data, impute=None, path=""):
        """Fit on a whole table (pandas or Arrow); return the Preprocessor and
        the transformed matrix (float64, C order)."""
        table = as_arrow(data)
        numeric, categorical = split_columns(table.schema, path)
        stats = TableStatistics(numeric, categorical, keep_values=impute in VALUE_FILLS,
                                path=path)
        stats.update(table)
        pre = cls.from_statistics(stats, impute, path)
        return pre, pre.transform(table, path)

    @classmethod
    def from_statistics(cls, stats, impute=None, path="", encoding="auto"):
        """The Preprocessor of a finished :class:`TableStatistics` pass
        (``encoding`` as :func:`choose_encoding` takes it)."""
        stats.check()
        missing = stats.missing_counts()
        if missing and impute is None:
            raise missing_values_error(missing, path)
        _refuse_empty_columns(stats, path)
        num = {"columns": list(stats.numeric), "mean": [], "scale": [],
               "fill": None if impute is None else []}
        for column in stats.numeric.values():
            fill = None if impute is None else _numeric_fill(column, impute)
            mean, scale = _scaler(column, fill)
            num["mean"].append(mean)
            num["scale"].append(scale)
            if fill is not None:
                num["fill"].append(fill)
        cat = {"columns": list(stats.categorical), "categories": [],
               "fill": None if impute is None else []}
        for column in stats.categorical.values():
            values, counts = column.value_counts()
            cat["categories"].append([str(v) for v in values])
            if impute is not None:
                cat["fill"].append(str(values[int(np.argmax(counts))]))
        return cls(num, cat, choose_encoding(list(map(len, cat["categories"])), stats.rows,
                                             encoding))

    # -- applying -----------------------------------------------------------
    def transform(self, data, path="", dtype=np.float64):
        """X (``dtype``) for a table with (at least) the fitted columns: a C
        order array, or a CodedMatrix with the "codes" encoding."""
        table = as_arrow(data)
        out = self.allocate(table.num_rows, dtype)
        self.fill_rows(table, out, None, path)
        return out

    def allocate(self, n_rows, dtype=np.float64, allocate=None):
        """Zeroed storage for ``n_rows`` rows of X in the encoding: an array,
        or the dense block and the codes of a CodedMatrix. ``allocate(n_rows,
        n_columns)`` may supply the (dense) array, e.g. memory-mapped."""
        width = self.n_features_out if self.encoding == "onehot" else len(self.numeric["columns"])
        dense = np.zeros((n_rows, width), dtype=dtype) if allocate is None else \
            allocate(n_rows, width)
        if self.encoding == "onehot":
            return dense
        levels = [len(cats) for cats in self.categorical["categories"]]
        return CodedMatrix(dense, np.zeros((n_rows, len(levels)), dtype=code_dtype(levels)),
                           levels)

    def column_types(self, numbers_as_text=False):
        """Arrow types to read the feature columns as: numbers as float64 (or
        as their text, to write them out again as the file has them), text as
        text (a code "1" stays "1" whatever else the file holds), true/false
        columns as booleans."""
        number = pa.string() if numbers_as_text else pa.float64()
        types = dict.fromkeys(self.numeric["columns"], number)
        for name, cats in zip(self.categorical["columns"], self.categorical["categories"]):
            types[name] = pa.bool_() if set(cats) <= {"True", "False"} else pa.string()
        return types

    def require_columns(self, names, path=""):
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise DataError(f"{path}: missing feature columns {missing}; the model was "
                            f"trained on {self.columns}")

    def fill_rows(self, batch, out, positions, path="", threads=None):
        """Write the rows of X for ``batch`` into ``out`` (zeros where they go):
        at ``positions`` (one per row of the batch), or rows 0..k−1 when None;
        on ``threads`` threads (None: the cores this process may use)."""
        self.require_columns(batch.schema.names, path)
        k = batch.num_rows
        positions = np.arange(k) if positions is None else np.asarray(positions, np.int64)
        values = self._numeric_values(batch, path)
        codes = np.empty((len(self.categorical["columns"]), k), dtype=np.int32)
        for i, name in enumerate(self.categorical["columns"]):
            codes[i] = self._category_codes(batch.column(name), i, path)
        if isinstance(out, CodedMatrix):
            # the numbers through the compiled fill, the codes as they are
            counts = fill_block(values, self._mean, self._scale, self._fill, codes[:0],
                                self._offsets[:0], positions, out.numeric, threads)
            out.codes[positions] = codes.T
        else:
            counts = fill_block(values, self._mean, self._scale, self._fill, codes,
                                self._offsets, positions, out, threads)
        names = self.numeric["columns"]
        if counts[1].any():
            raise infinite_values_error(dict(zip(names, counts[1])), path)
        if counts[0].any():
            raise missing_values_error(dict(zip(names, counts[0])), path)

    def _numeric_values(self, batch, path):
        """The block's numeric columns as one (n_numeric, k) float64 array."""
        names = self.numeric["columns"]
        values = np.empty((len(names), batch.num_rows))
        try:
            for j, name in enumerate(names):
                values[j] = kinds.as_numbers(batch.column(name))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(f"{path}: a numeric feature column holds text ({exc}); "
                            "fix those values") from None
        return values

    @functools.cached_property
    def _mean(self):
        return np.asarray(self.numeric["mean"], dtype=np.float64)

    @functools.cached_property
    def _scale(self):
        return np.asarray(self.numeric["scale"], dtype=np.float64)

    @functools.cached_property
    def _fill(self):
        fill = self.numeric["fill"]
        return np.full(len(self.numeric["columns"]), np.nan) if fill is None else \
            np.asarray(fill, dtype=np.float64)

    @functools.cached_property
    def _offsets(self):
        sizes = [len(cats) for cats in self.categorical["categories"]]
        return len(self.numeric["columns"]) + np.cumsum([0, *sizes[:-1]], dtype=np.int64)

    def _category_codes(self, column, i, path):
        """Each row's category index, −1 for a category the model does not
        know (all zeros, as OneHotEncoder(handle_unknown="ignore"))."""
        if pa.types.is_dictionary(column.type):
            return self._dictionary_codes(column, i, path)
        text = kinds.as_text(column)
        name = self.categorical["columns"][i]
        if text.null_count:
            if self.categorical["fill"] is None:
                raise missing_values_error({name: text.null_count}, path)
            text = pc.fill_null(text, self.categorical["fill"][i])
        codes = pc.index_in(text, value_set=self._category_sets[i])
        return pc.fill_null(codes, -1).to_numpy(zero_copy_only=False)

    def _dictionary_codes(self, column, i, path):
        """:meth:`_category_codes` of a dictionary array: its few distinct
        values are looked up, then each row takes its value's code."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()  # one dictionary for the block
        # missing values may hide in the dictionary too: the rows' own path
        if column.dictionary.null_count:
            return self._category_codes(kinds.as_text(column), i, path)
        known = self._category_codes(column.dictionary, i, path)
        indices = column.indices
        if not indices.null_count:
            return known[indices.to_numpy()]
        if self.categorical["fill"] is None:
            raise missing_values_error({self.categorical["columns"][i]: indices.null_count}, path)
        fill = self._category_codes(pa.array([self.categorical["fill"][i]], pa.string()), i, path)
        rows = pc.fill_null(indices.cast(pa.int64()), len(known)).to_numpy()
        return np.append(known, fill)[rows]

    @functools.cached_property
    def _category_sets(self):
        return [pa.array(cats, pa.string()) for cats in self.categorical["categories"]]

    # -- JSON ---------------------------------------------------------------
    def to_dict(self):
        return {"numeric": self.numeric, "categorical": self.categorical,
                "encoding": self.encoding}

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
        encoding = data.get("encoding", "onehot")  # files before the codes route
        if encoding not in ("onehot", "codes"):
            raise ValueError(f"encoding must be 'onehot' or 'codes', got {encoding!r}"[:80])
        return cls(num, cat, encoding)


def _numeric_fill(column, impute):
    """SimpleImputer's statistic: the mean, the median, or the smallest of
    the most frequent values."""
    if impute == "mean":
        return column.mean
    values = column.values()
    if impute == "median":
        return float(np.median(values))
    unique, counts = np.unique(values, return_counts=True)
    return float(unique[int(np.argmax(counts))])


def _scaler(column, fill):
    """StandardScaler's mean and scale after filling the missing values with
    ``fill``; a constant column gets scale 1 (scikit-learn's test of constant)."""
    count, mean, m2 = column.count, column.mean, column.m2
    if fill is not None and column.missing:
        total = count + column.missing
        new_mean = mean + (fill - mean) * column.missing / total
        m2 += count * (mean - new_mean) ** 2 + column.missing * (fill - new_mean) ** 2
        count, mean = total, new_mean
    var = m2 / count
    eps = np.finfo(np.float64).eps
    constant = var <= count * eps * var + (count * mean * eps) ** 2
    return float(mean), 1.0 if constant else float(np.sqrt(var))


def _refuse_empty_columns(stats, path):
    empty = [n for n, s in {**stats.numeric, **stats.categorical}.items()
             if s.missing == stats.rows]
    if empty:
        raise DataError(f"{path}: columns {empty} have no values at all; leave them out "
                        "with {drop}", drop=",".join(empty))


def missing_values_error(counts, path=""):
    """The error listing each column with missing values and the two fixes."""
    listing = ", ".join(f"{name!r}: {n}" for name, n in counts.items() if n)
    return DataError(f"{path}: missing values in {listing}; use {{drop_missing}} to drop "
                     "those rows or {impute} to fill them", drop_missing=True,
                     impute=IMPUTE_STRATEGIES)
