"""Every statistic the preprocessing keeps, in one streaming pass over blocks.

Blocks are merged in their order with Chan's formula for the mean and the sum
of squared deviations, so the result depends on the block size only, never on
how the file was read; value counts are merged by Arrow's group-by. Nothing
runs per value in Python.
"""
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from descend.data import columns as kinds
from descend.exceptions import DataError


class NumericStatistics:
    """Count, mean, sum of squared deviations, infinities and largest |x| of
    the non-missing values of one column; its values too when the median or
    the most frequent value is needed."""

    def __init__(self, keep_values=False):
        self.count, self.mean, self.m2 = 0, 0.0, 0.0
        self.missing, self.infinite, self.largest = 0, 0, 0.0
        self.kept = [] if keep_values else None

    def update(self, values):
        """Add a block of float64 values (NaN for missing)."""
        self.add_block(self.block(values, self.kept is not None))

    @staticmethod
    def block(values, keep_values=False):
        """The statistics of one block on their own (nothing shared: blocks
        can be summarised on several threads), for :meth:`add_block`."""
        present = values[~np.isnan(values)]
        missing = len(values) - len(present)
        infinite = np.isinf(present)
        n_infinite = int(infinite.sum())
        if n_infinite:
            present = present[~infinite]
        if not len(present):
            return missing, n_infinite, present if keep_values else None, None
        largest = float(np.max(np.abs(present)))
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: checked later
            mean = float(np.mean(present))
            m2 = float(np.sum((present - mean) ** 2))
        return missing, n_infinite, present if keep_values else None, \
            (largest, len(present), mean, m2)

    def add_block(self, block):
        """Add a :meth:`block` of the rows that follow."""
        missing, infinite, present, moments = block
        self.missing += missing
        self.infinite += infinite
        if self.kept is not None:
            self.kept.append(present)
        if moments is None:
            return
        largest, n, mean, m2 = moments
        self.largest = max(self.largest, largest)
        self._combine(n, mean, m2)

    def _combine(self, n, mean, m2):
        """Add n values of this mean and sum of squared deviations (Chan)."""
        total = self.count + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    def merge(self, other):
        """Add the statistics of the rows that follow, gathered elsewhere."""
        self.missing += other.missing
        self.infinite += other.infinite
        self.largest = max(self.largest, other.largest)
        if self.kept is not None:
            self.kept += other.kept
        if other.count:
            self._combine(other.count, other.mean, other.m2)

    def values(self):
        return np.concatenate(self.kept) if self.kept else np.empty(0)


#: A text column's per-block value counts are merged into one every this
#: many blocks: a column of 100,000 levels would otherwise hold each block's
#: tens of thousands of values until the pass ends (250 MB on 10M rows).
MERGE_BLOCKS = 16


class TextStatistics:
    """Value counts, missing count and how much of the text reads as numbers."""

    def __init__(self):
        self.counts, self.missing = [], 0
        self.numbers, self.present, self.locale_numbers = 0, 0, 0
        self.example = None  # (row, value) of the first value that is not a number

    def update(self, column, first_row):
        """Add a block of a categorical column whose first row is ``first_row``."""
        self.add_block(self.block(column), first_row)

    @staticmethod
    def block(column):
        """The statistics of one block of a categorical column (text,
        booleans or a dictionary array) on their own, for :meth:`add_block`.

        The checks run on the block's distinct values, weighted by their
        counts: a column of a million rows and fifty levels costs fifty. A
        dictionary array is counted by its codes, never decoded.
        """
        present = len(column) - column.null_count
        if not present:
            return column.null_count, 0, None
        counts = pc.value_counts(column)
        values, times = kinds.as_text(counts.field("values")), counts.field("counts")
        if column.null_count:
            known = pc.is_valid(values)
            values, times = values.filter(known), times.filter(known)
        matches = kinds.number_matches(values)
        numbers = int(times.to_numpy(zero_copy_only=False)[matches].sum())
        example, locale_numbers = None, 0
        if numbers < present:
            example = kinds.first_non_number(
                column, values.filter(pa.array(~matches)) if numbers else None)
            locale_numbers = kinds.locale_number_count(values, times)
        counts = pa.StructArray.from_arrays([values, times], names=["values", "counts"])
        return column.null_count, present, (counts, numbers, locale_numbers, example)

    def add_block(self, block, first_row):
        """Add a :meth:`block` whose first row is ``first_row``."""
        missing, present, seen = block
        self.missing += missing
        if seen is None:
            return
        counts, numbers, locale_numbers, example = seen
        self.numbers += numbers
        self.present += present
        self.locale_numbers += locale_numbers
        if self.example is None and example is not None:
            index, value = example
            self.example = (first_row + index, value)
        self.counts.append(counts)
        if len(self.counts) >= MERGE_BLOCKS:
            self.counts = [self._merged_counts()]

    def merge(self, other, first_row):
        """Add the statistics of the rows from ``first_row`` on, gathered elsewhere."""
        self.missing += other.missing
        self.numbers += other.numbers
        self.present += other.present
        self.locale_numbers += other.locale_numbers
        if self.example is None and other.example is not None:
            self.example = (first_row + other.example[0], other.example[1])
        self.counts += other.counts

    def _merged_counts(self):
        """The blocks' value counts as one (values, counts) struct array."""
        merged = pa.concat_arrays(self.counts)
        table = pa.table({"values": merged.field("values"), "counts": merged.field("counts")})
        table = table.group_by("values").aggregate([("counts", "sum")])
        return pa.StructArray.from_arrays(
            [table["values"].combine_chunks(), table["counts_sum"].combine_chunks()],
            names=["values", "counts"])

    def value_counts(self):
        """(values sorted as text, their counts) over every block."""
        if not self.counts:
            return [], np.empty(0, dtype=np.int64)
        merged = self._merged_counts()
        order = pc.sort_indices(merged.field("values"))
        return merged.field("values").take(order).to_pylist(), \
            merged.field("counts").take(order).to_numpy()


class TableStatistics:
    """The statistics of every feature column of a table, block by block.

    Parameters
    ----------
    numeric, categorical : list of str
        Column names of each kind.
    keep_values : bool
        Keep the numeric values (for a median or most-frequent fill).
    path : str
        Named in errors.
    """

    def __init__(self, numeric, categorical, keep_values=False, path=""):
        self.numeric = {c: NumericStatistics(keep_values) for c in numeric}
        self.categorical = {c: TextStatistics() for c in categorical}
        self.rows, self.path = 0, path

    def update(self, batch):
        """Add a record batch (or table) holding at least the feature columns."""
        self.add_block(self.block(batch))

    def block(self, batch):
        """The statistics of one batch on their own (this object is only
        read: batches can be summarised on several threads), for :meth:`add_block`."""
        keep_values = any(s.kept is not None for s in self.numeric.values())
        return (batch.num_rows,
                [NumericStatistics.block(kinds.as_numbers(batch.column(name)), keep_values)
                 for name in self.numeric],
                [TextStatistics.block(batch.column(name)) for name in self.categorical])

    def add_block(self, block):
        """Add a :meth:`block` of the rows that follow, in their order."""
        rows, numeric, categorical = block
        for stats, part in zip(self.numeric.values(), numeric):
            stats.add_block(part)
        for stats, part in zip(self.categorical.values(), categorical):
            stats.add_block(part, self.rows)
        self.rows += rows

    def merge(self, other):
        """Add the statistics of the rows that follow (another part of the
        table, a Dask partition), as if this pass had gone on over them."""
        for name, stats in self.numeric.items():
            stats.merge(other.numeric[name])
        for name, stats in self.categorical.items():
            stats.merge(other.categorical[name], self.rows)
        self.rows += other.rows

    def check(self):
        """Refuse text columns that are mostly numbers, and infinite or huge values."""
        for name, stats in self.categorical.items():
            if stats.present and stats.numbers >= 0.5 * stats.present:
                row, value = stats.example
                raise DataError(
                    f"{self.path}: column {name!r} mixes numbers and text (e.g. {value!r} "
                    f"in data row {row + 1}, {stats.present - stats.numbers} such values); "
                    "fix those values, or leave the column out with {drop}", drop=name)
        for name, stats in self.categorical.items():
            if stats.present and stats.locale_numbers >= 0.9 * stats.present:
                raise DataError(
                    f"{self.path}: column {name!r} holds numbers written with a decimal comma "
                    f"or thousands separators (e.g. {stats.example[1]!r}); give {{decimal}} or "
                    "{thousands} to read them as numbers, or leave the column out with {drop}",
                    decimal=",", thousands=",", drop=name)
        infinite = {n: s.infinite for n, s in self.numeric.items() if s.infinite}
        if infinite:
            raise infinite_values_error(infinite, self.path)
        huge = [n for n, s in self.numeric.items() if s.largest > 1e150]
        if huge:
            raise DataError(f"{self.path}: values too large to standardise in {huge} (beyond "
                            "1e150); rescale those columns (divide by a power of ten, or take "
                            "the log)")

    def missing_counts(self):
        """{column: missing values} for the columns that have any."""
        counts = {n: s.missing for n, s in {**self.numeric, **self.categorical}.items()}
        return {n: k for n, k in counts.items() if k}


def infinite_values_error(counts, path=""):
    """The error listing each column with infinite values and the fix."""
    listing = ", ".join(f"{name!r}: {n}" for name, n in counts.items() if n)
    return DataError(f"{path}: infinite values in {listing}; replace them with finite "
                     "numbers or leave them empty and use {impute}", impute=None)
