"""Where rows come from: a CSV or Parquet file, a folder of them (Hive
partitions included) or a glob, read by Arrow as one table.

A :class:`TableSource` gives the whole table (:meth:`TableSource.read`,
multi-threaded, for data that fits in memory) or its rows as a stream of
record batches of a fixed number of rows (:meth:`TableSource.batches`, for
data that does not). Text that Arrow would read as a number in one block and
as text in another is read as text everywhere, so a column has one type
whatever the block size.
"""
import gc
import glob as globbing
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from descend.data import columns as kinds
from descend.data import tables
from descend.data.inorder import abandon, finish
from descend.exceptions import DataError, UsageError

#: Bytes of a CSV file Arrow's stream parses at a time: a stream tells each
#: column's type from its first block.
CSV_BLOCK_BYTES = 1 << 24
#: Bytes parsed at a time when a whole CSV file is read (its types are told
#: from the whole file): blocks that stay in the cache parse half again as
#: fast (5M rows, 1.6 GB: 4.3 s against 6.7 s).
CSV_READ_BLOCK_BYTES = 1 << 20
_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): .*CSV conversion error to \w+")


@dataclass(frozen=True)
class TextFormat:
    """How a CSV file writes its text and numbers.

    Parameters
    ----------
    encoding : str
        The file's encoding (``"latin-1"``, ``"cp1252"``…); read strictly.
    decimal : str or None
        The decimal mark when it is not a point (``","``).
    thousands : str or None
        The thousands separator to drop from numbers (``","``, ``"."``, ``" "``).
    """

    encoding: str = "utf-8"
    decimal: str = None
    thousands: str = None


def open_source(location, column_types=None, others_as_text=False, text_format=None,
                dictionary_text=False):
    """The :class:`TableSource` for a file, a folder or a glob pattern.

    Parameters
    ----------
    location : str or Path
    column_types : dict of str to pyarrow.DataType, optional
        Types to read columns as (a model reads its text columns as text,
        whatever else the file holds).
    others_as_text : bool
        Read every other column of a CSV file as the text it holds (columns
        passed through to an output unchanged).
    text_format : TextFormat, optional
        Encoding, decimal mark and thousands separator of CSV files.
    dictionary_text : bool
        Read the text columns of Parquet files as dictionary arrays (each
        row a code into the column's distinct values, as Parquet stores
        them): nothing to decode or hash per row, for a reader that takes
        them so (training's statistics and design matrix do).
    """
    files, fmt, partitioning = _resolve(str(location))
    source = TableSource(files, fmt, partitioning, column_types or {}, str(location),
                         text_format or TextFormat())
    source.dictionary_text = dictionary_text
    if others_as_text and fmt == "csv":
        header = tables.csv_header(Path(files[0]), source.delimiter)
        source.column_types = {**dict.fromkeys(header, pa.string()), **source.column_types}
    return source


def _resolve(location):
    """(files, format, partitioning) of a file, a folder or a glob."""
    if any(ch in location for ch in "*?["):
        files = sorted(f for f in globbing.glob(location, recursive=True) if Path(f).is_file())
        if not files:
            raise DataError(f"{location}: no file matches this pattern; check the path")
        return files, _one_format(files, location), None
    path = Path(location)
    if path.is_dir():
        files = sorted(str(f) for f in path.rglob("*") if f.is_file()
                       and not f.name.startswith((".", "_")) and _known(f))
        if not files:
            raise DataError(f"{location}: a folder with no .csv or .parquet file in it")
        return files, _one_format(files, location), "hive"
    fmt = tables.table_format(path)
    tables.check_readable_file(path)
    return [str(path)], fmt, None


def _known(path):
    try:
        tables.table_format(path)
        return True
    except UsageError:
        return False


def _one_format(files, location):
    formats = {tables.table_format(f) for f in files}
    if len(formats) > 1:
        raise UsageError(f"{location}: mixes CSV and Parquet files; keep one format")
    return formats.pop()


class TableSource:
    """Rows of one or more files of one format, as Arrow data."""

    def __init__(self, files, fmt, partitioning, column_types, location,
                 text_format=TextFormat()):
        self.files, self.format, self.location = files, fmt, location
        self.partitioning, self.text = partitioning, text_format
        self.column_types = dict(column_types)
        self.dictionary_text = False  # see open_source
        # Arrow splits a file's blocks faster when no quoted field holds a
        # line break; a parse error makes it read again allowing them.
        self.quoted_newlines = False
        self.delimiter = ","
        if fmt == "csv":
            self.delimiter = tables.check_csv_start(Path(files[0]), text_format.encoding)

    # -- whole table --------------------------------------------------------
    def read(self, columns=None):
        """The whole table (only ``columns`` when given), read on all cores."""
        table = self._cast(self._with_retries(lambda: self._read(columns)))
        tables.check_table(self.location, table)
        return table

    def _cast(self, table):
        """Columns given a type (text, for a model's text columns) get it
        whatever the file's own type (Parquet keeps its own); with a thousands
        separator, text columns that are such numbers become numbers."""
        if self.format == "parquet":
            self._check_text(table)
        if self.text.thousands is not None:
            table = self._numbers_with_separators(table)
        for name, dtype in self.column_types.items():
            if name in table.column_names and table.schema.field(name).type != dtype:
                index = table.column_names.index(name)
                table = table.set_column(index, name, kinds.as_text(table[name])
                                         if dtype == pa.string() else table[name].cast(dtype))
        return table

    def _check_text(self, table):
        """Parquet does not check that its text is UTF-8; a damaged file may
        hold bytes that are not."""
        for name, column in zip(table.column_names, table.columns):
            texts = [column]
            if pa.types.is_dictionary(column.type):
                chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
                texts = [chunk.dictionary for chunk in chunks]
            if any(_is_text(text.type) for text in texts):
                try:
                    for text in texts:
                        text.validate(full=True)
                except pa.ArrowInvalid:
                    raise DataError(f"{self.location}: column {name!r} holds text that is not "
                                    "UTF-8 (a damaged file?); check the file") from None

    def _numbers_with_separators(self, table):
        for index, name in enumerate(table.column_names):
            column = table.column(index)
            if not pa.types.is_string(column.type) or \
                    self.column_types.get(name) == pa.string():
                continue
            numbers = kinds.without_separators(column, self.text.thousands, self.text.decimal)
            if numbers is not None:
                table = table.set_column(index, name, numbers)
        return table

    def _read(self, columns):
        if self.format == "csv" and len(self.files) == 1 and not self.partitioning:
            return pacsv.read_csv(self.files[0],
                                  read_options=self._read_options(CSV_READ_BLOCK_BYTES),
                                  parse_options=self._parse_options(),
                                  convert_options=self._convert_options(columns))
        return self._dataset().to_table(columns=columns)

    # -- stream -------------------------------------------------------------
    def scan(self, rows, make_visitor, columns=None):
        """Call a fresh ``make_visitor()`` on every record batch of exactly
        ``rows`` rows (the last may be shorter), in order, and return it.

        A column that turns out to hold text where its first block held
        numbers is read as text from then on, and the pass starts again with
        a fresh visitor, so every batch a finished pass saw has one type per
        column.
        """
        self.stream_schema()  # fixes every column's type before the first block
        while True:
            visitor = make_visitor()
            try:
                self._one_pass(rows, visitor, columns)
                return visitor
            except pa.ArrowInvalid as exc:
                if not self._can_retry(exc):
                    raise self._error(exc) from None
                abandon(visitor)
            except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
                raise self._error(exc) from None
            finally:
                # The scanner's buffers die with its cycles: collect them and
                # hand the memory back before the next pass reads the files.
                gc.collect()
                pa.default_memory_pool().release_unused()

    def _one_pass(self, rows, visitor, columns):
        batches = self._dataset().to_batches(columns=columns, batch_size=rows,
                                             batch_readahead=2, fragment_readahead=1)
        for batch in rechunk(batches, rows):
            visitor(self._cast(batch))
        finish(visitor)

    def stream_schema(self):
        """Column names and the types a stream reads them as (from the first
        block; after a pass, including the columns found to hold text)."""
        first = self._first_schema()
        if not self.column_types:
            self.column_types = {f.name: f.type for f in first}
        return pa.schema([(f.name, self.column_types.get(f.name, f.type)) for f in first])

    def _first_schema(self):
        """Column types as the first block of the first file gives them."""
        if self.format != "csv":
            return self._dataset().schema
        try:
            with pacsv.open_csv(self.files[0], read_options=self._read_options(),
                                parse_options=self._parse_options()) as reader:
                return reader.schema
        except (pa.ArrowException, OSError) as exc:
            raise self._error(exc) from None

    # -- Arrow options ------------------------------------------------------
    def _dataset(self):
        # Pages read as they are decoded, not whole row groups at once: a
        # stream's memory stays near its batches'.
        fmt = _parquet_format()
        if self.format == "csv":
            fmt = ds.CsvFileFormat(parse_options=self._parse_options(),
                                   convert_options=self._convert_options(None),
                                   read_options=self._read_options())
        try:
            dataset = ds.dataset(self.files, format=fmt, partitioning=self.partitioning)
            # text read as numbers with separators needs the text itself
            if self.format == "parquet" and self.dictionary_text and self.text.thousands is None:
                text = [f.name for f in dataset.schema if _is_text(f.type)]
                if text:
                    dataset = ds.dataset(self.files, format=_parquet_format(text),
                                         partitioning=self.partitioning)
            return dataset
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise self._error(exc) from None

    def _read_options(self, block_size=CSV_BLOCK_BYTES):
        return pacsv.ReadOptions(block_size=block_size, encoding=self.text.encoding)

    def _parse_options(self):
        return pacsv.ParseOptions(delimiter=self.delimiter,
                                  newlines_in_values=self.quoted_newlines)

    def _convert_options(self, columns):
        return pacsv.ConvertOptions(column_types=self.column_types, strings_can_be_null=True,
                                    include_columns=columns or [],
                                    decimal_point=self.text.decimal or ".")

    def _with_retries(self, read):
        """Run ``read``; a column Arrow took for numbers but holding text is
        read again as text (once per such column)."""
        while True:
            try:
                return read()
            except pa.ArrowInvalid as exc:
                if not self._can_retry(exc):
                    raise self._error(exc) from None
            except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
                raise self._error(exc) from None

    def _can_retry(self, exc):
        """Change what made ``exc`` (line breaks in quoted fields, a column of
        text taken for numbers) and say whether reading again may succeed."""
        if self.format == "csv" and "CSV parse error" in str(exc) and not self.quoted_newlines:
            self.quoted_newlines = True
            return True
        column = self._mistyped_column(exc)
        if column is None or self.column_types.get(column) == pa.string():
            return False
        self.column_types[column] = pa.string()
        return True

    def _mistyped_column(self, exc):
        match = _CONVERSION_ERROR.search(str(exc))
        if not match or self.format != "csv":
            return None
        header = tables.csv_header(Path(self.files[0]), self.delimiter)
        index = int(match.group(1))
        return header[index] if index < len(header) else None

    def _error(self, exc):
        if self.format == "csv" and "columns, got" in str(exc):
            for path in self.files:
                ragged = tables.find_ragged_row(path, self.delimiter)
                if ragged is not None:
                    line, fields, width = ragged
                    return DataError(
                        f"{path}: line {line} has {fields} fields but the header has {width} "
                        f"(split by {self.delimiter!r}); fix the ragged rows")
        return tables.read_error(self.location, exc, self.format)


def _parquet_format(dictionary_columns=()):
    return ds.ParquetFileFormat(
        read_options=ds.ParquetReadOptions(dictionary_columns=list(dictionary_columns)),
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False))


def _is_text(dtype):
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def rechunk(batches, rows):
    """Record batches regrouped into blocks of exactly ``rows`` rows (the
    last may be shorter): blocks that do not depend on how the file was read.

    A block that spans two batches is a table of their slices, not a copy:
    its columns are then chunked arrays, which the readers of columns take
    as they are (copying the straddling blocks cost a copy of most of the
    table per pass when the file's batches do not line up with the blocks).
    """
    pending, count = [], 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == rows:
                yield _combine(pending)
                pending, count = [], 0
    if count:
        yield _combine(pending)


def _combine(batches):
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches)
