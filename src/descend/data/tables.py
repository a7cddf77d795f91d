"""CSV and Parquet files: the checks before Arrow reads them, the errors that say\nthe fix, and writing tables atomically."""
import csv
import difflib
import io
from pathlib import Path

import pyarrow as pa

from descend.exceptions import DataError, UsageError

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.zst", ".csv.bz2", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def table_format(path):
    """"csv" or "parquet", from the file name."""
    name = str(path).lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise UsageError(f"{path}: unknown file type; use a .csv, .csv.gz, .csv.zst or "
                     ".parquet file")


def check_readable_file(path):
    """A DataError unless ``path`` is a file this process may read."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file; give a CSV or Parquet file")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise DataError(f"{path}: permission denied; make the file readable") from None


def check_csv_start(path, encoding="utf-8"):
    """Check the first 64 KiB of a CSV file (empty, binary, not in
    ``encoding``, ragged, duplicate names) and return its delimiter."""
    try:
        head = _peek(path)
    except PermissionError:
        raise DataError(f"{path}: permission denied; make the file readable") from None
    except (OSError, EOFError, pa.ArrowException) as exc:
        raise read_error(path, exc, "csv") from None
    if b"\x00" in head:
        raise DataError(f"{path}: looks like a binary file, not CSV text; give a CSV or "
                        "Parquet file")
    if not head.strip():
        raise DataError(f"{path}: the file is empty; it needs a header row and data rows")
    text = _decode(path, head, encoding, complete=len(head) < PEEK_BYTES)
    sep = _sniff_separator(text)
    _check_field_counts(path, text, sep, complete=len(head) < PEEK_BYTES)
    _check_header(path, text, sep)
    return sep


def _decode(path, head, encoding, complete):
    """The text of the first bytes; a DataError naming the line that is not
    in ``encoding``, and the fix."""
    try:
        return head.decode(encoding)
    except LookupError:
        raise UsageError(f"unknown {{encoding}} {encoding!r}; use e.g. utf-8, latin-1 or "
                         "cp1252", encoding=None) from None
    except UnicodeDecodeError as exc:
        if not complete and exc.start >= len(head) - 3:  # a character cut by the peek
            return head[:exc.start].decode(encoding)
        line = head[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line} is not {encoding} text; save the file as UTF-8, "
                        "or give its encoding with {encoding}", encoding="latin-1") from None


def csv_header(path, sep):
    """The column names of a CSV file's first line."""
    text = _peek(path).decode("utf-8", errors="replace")
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=sep), [])


def read_error(location, exc, fmt):
    """The DataError for an error Arrow raised while reading ``location``."""
    message = _first_line(exc)
    if isinstance(exc, PermissionError):
        return DataError(f"{location}: permission denied; make the file readable")
    if fmt == "parquet":
        return DataError(f"{location}: not a readable Parquet file ({message}); "
                         "check the file or convert it to CSV")
    if "Expected" in message and "columns, got" in message:
        return DataError(f"{location}: rows have different numbers of fields "
                         f"({message}); fix the ragged rows")
    if "ompress" in message or "inflate" in message or "zlib" in message:
        return DataError(f"{location}: the compressed file is truncated or damaged "
                         f"({message}); copy or download it again")
    if isinstance(exc, UnicodeDecodeError) or "invalid UTF8" in message or "UTF-8" in message:
        return DataError(f"{location}: not UTF-8 text; save the file as UTF-8 CSV")
    if "Empty CSV file" in message:
        return DataError(f"{location}: the file is empty; it needs a header row and data rows")
    return DataError(f"{location}: cannot be read as CSV ({message}); check the file")


def check_table(location, table):
    """The table has columns, rows, and one name per column."""
    if table.num_columns == 0:
        raise DataError(f"{location}: no columns; the file needs a header row")
    if table.num_rows == 0:
        raise DataError(f"{location}: only a header, no data rows")
    names = table.column_names
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"{location}: duplicate column names {dupes}; rename them")


#: Bytes of a CSV file checked before Arrow reads it.
PEEK_BYTES = 65536


def _peek(path, size=PEEK_BYTES):
    """The first bytes of a file, decompressed by its suffix (.gz, .zst, .bz2)."""
    with pa.input_stream(str(path), compression="detect") as stream:
        return stream.read(size)


def _sniff_separator(text):
    """Comma unless the header is clearly split by ';', tab or '|'."""
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return "," if counts[","] or not counts[best] else best


def _check_header(path, text, sep):
    header = next(csv.reader(io.StringIO(text, newline=""), delimiter=sep), [])
    seen, dupes = set(), []
    for name in header:
        if name in seen:
            dupes.append(name)
        seen.add(name)
    if dupes:
        raise DataError(f"{path}: duplicate column names {sorted(set(dupes))}; "
                        "rename them so each column has its own name")


def _check_field_counts(path, text, sep, complete):
    """Every row has as many fields as the header (a reader that pads short
    rows hides a wrong delimiter or a broken row)."""
    if not complete:
        text = text[:text.rfind("\n") + 1]  # the peek may end mid-line
    row = _first_ragged_row(io.StringIO(text, newline=""), sep)
    if row is not None:
        number, fields, width = row
        raise DataError(
            f"{path}: line {number} has {fields} fields but the header has {width} "
            f"(split by {sep!r}); fix the ragged rows, or the delimiter if the header "
            "and the rows use different ones")


def _first_ragged_row(handle, sep):
    """(line, fields, header's fields) of the first row whose field count is
    not the header's, or None. Lines end at \\n or \\r\\n only, as in CSV."""
    reader = csv.reader(handle, delimiter=sep)
    try:
        width = len(next(reader, []))
        for row in reader:
            if row and len(row) != width:
                return reader.line_num, len(row), width
    except csv.Error as exc:
        raise DataError(f"{getattr(handle, 'name', 'the file')}: not readable as CSV ({exc}); "
                        "check the quoting") from None
    return None


def find_ragged_row(path, sep):
    """The first ragged row of a whole CSV file (compressed or not), or None:
    for an error message, when Arrow found one past the first bytes."""
    with pa.input_stream(str(path), compression="detect") as raw:
        handle = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        return _first_ragged_row(handle, sep)


def _first_line(exc):
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def closest_columns(name, columns):
    """Up to three column names that look like ``name`` (a typo, another
    case), for a suggestion; none when nothing is close."""
    by_case = [c for c in map(str, columns) if c.lower() == str(name).lower()]
    return by_case or difflib.get_close_matches(str(name), [str(c) for c in columns], n=3,
                                                cutoff=0.6)


def column_names(table):
    """The column names of a pandas DataFrame, an Arrow table or a list of names."""
    if hasattr(table, "column_names"):
        return list(table.column_names)
    return list(getattr(table, "columns", table))


def select_features(names, options, path=""):
    """The feature columns: ``features``, else all but the target and ``drop``
    (``options``: anything with ``target``, ``features`` and ``drop``)."""
    require_column(names, options.target, path)
    for name in (options.features or []) + (options.drop or []):
        require_column(names, name, path, what="column")
    if options.features:
        columns = [c for c in options.features if c != options.target]
    else:
        columns = [c for c in names if c != options.target]
    columns = [c for c in columns if c not in (options.drop or [])]
    if not columns:
        raise UsageError(f"{path}: no feature columns left; the file needs columns "
                         "besides the target")
    return columns


def require_column(table, name, path, what="target column"):
    """Raise a UsageError naming close matches when ``name`` is not a column."""
    names = column_names(table)
    if name in names:
        return
    close = closest_columns(name, names)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else \
        f"; the columns are {', '.join(map(repr, names[:10]))}"
    raise UsageError(f"{path}: no {what} {name!r}{hint}")


def write_table(frame, path):
    """Write a DataFrame to CSV or Parquet (by extension), atomically."""
    from descend.io.atomic import atomic_path
    kind = table_format(path)
    with atomic_path(path) as tmp:
        if kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False,
                         compression="gzip" if str(path).lower().endswith(".gz") else None)
