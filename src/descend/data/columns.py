"""Arrow columns as the two kinds of feature descend knows: numbers and text.

Every function works on whole Arrow arrays with Arrow's compute kernels or
NumPy; none visits values one at a time in Python.
"""
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from descend.exceptions import DataError

#: Text that reads as a number (what a column of numbers with some garbage holds).
NUMBER_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
#: Numbers written with a decimal comma or with thousands separators
#: ("71,3", "1,200", "1.234,5", "12 000"): read as text unless told how.
LOCALE_NUMBER_PATTERN = r"^\s*[-+]?(\d{1,3}([.,' ]\d{3})+([.,]\d+)?|\d+,\d+)\s*$"


def kind_of(name, dtype, path=""):
    """"numeric" or "categorical" for an Arrow type; dates and nested or
    binary values are refused with the fix."""
    if pa.types.is_boolean(dtype) or pa.types.is_string(dtype) or \
            pa.types.is_large_string(dtype) or pa.types.is_null(dtype) or \
            pa.types.is_dictionary(dtype):
        return "categorical"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
        return "numeric"
    what = "dates or times" if pa.types.is_temporal(dtype) else f"values of type {dtype}"
    raise DataError(f"{path}: column {name!r} holds {what}; descend reads numbers and "
                    "text: convert it to a number or to text, or leave it out with {drop}",
                    drop=name)


def as_numbers(array):
    """float64 NumPy values of a numeric column (an array or a chunked one),
    NaN where missing."""
    values = pc.cast(array, pa.float64())
    if isinstance(values, pa.ChunkedArray):
        return values.to_numpy()  # one copy of the chunks, nulls as NaN
    return values.to_numpy(zero_copy_only=False)


def as_text(array):
    """A string array (chunked for a chunked column) of a categorical
    column: text as it is in the file, booleans as "True"/"False"; missing
    values stay null."""
    if isinstance(array, pa.ChunkedArray) and pa.types.is_dictionary(array.type):
        array = array.combine_chunks()  # chunks with dictionaries of their own
    if pa.types.is_boolean(array.type):
        return pc.if_else(array, "True", "False")
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    return pc.cast(array, pa.string())


def as_labels(array):
    """A target column as text (:func:`as_text`), or as the dictionary array
    of strings it is: one code per row, nothing to decode."""
    if pa.types.is_dictionary(array.type) and pa.types.is_string(array.type.value_type):
        return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return as_text(array)


def number_matches(values):
    """NumPy bool mask of the distinct ``values`` (a string array) that read as numbers."""
    return _matches(values, NUMBER_PATTERN)


def locale_number_count(values, counts):
    """How many of the values are numbers written with a decimal comma or
    thousands separators, given distinct ``values`` and their ``counts``."""
    return _weighted_matches(values, counts, LOCALE_NUMBER_PATTERN)


def _weighted_matches(values, counts, pattern):
    return int(counts.to_numpy(zero_copy_only=False)[_matches(values, pattern)].sum())


def _matches(values, pattern):
    if not len(values):
        return np.zeros(0, dtype=bool)
    return pc.match_substring_regex(values, pattern).to_numpy(zero_copy_only=False)


def without_separators(text, thousands, decimal=None):
    """float64 values of a text column of numbers written with ``thousands``
    separators (and ``decimal`` mark), or None when it holds other text."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    plain = pc.replace_substring(text, thousands, "")
    if decimal:
        plain = pc.replace_substring(plain, decimal, ".")
    is_number = pc.match_substring_regex(plain, NUMBER_PATTERN)
    if not pc.all(pc.fill_null(is_number, True)).as_py():
        return None
    return pc.cast(plain, pa.float64())


def first_non_number(column, non_numbers=None):
    """(index, value as text) of the first value of a categorical ``column``
    found in ``non_numbers`` (its distinct values that are not numbers), or
    of its first present value when None (no value is a number): a look-up
    of each row in a small set, where matching the pattern on every row had
    cost seconds."""
    if non_numbers is None:
        index = 0 if column.null_count == 0 else pc.index(pc.is_valid(column), True).as_py()
    else:
        text = as_text(column)
        index = pc.index(pc.fill_null(pc.is_in(text, value_set=non_numbers), False), True)
        index = index.as_py()
    return index, as_text(column.slice(index, 1))[0].as_py()


def missing_mask(array):
    """NumPy bool mask of missing values (null, or NaN in a float column)."""
    mask = pc.is_null(array, nan_is_null=True) if pa.types.is_floating(array.type) \
        else pc.is_null(array)
    return mask.to_numpy(zero_copy_only=False)
