"""CSV and Parquet files into pandas DataFrames, with errors that say the fix."""
import csv
import difflib
from pathlib import Path

import pandas as pd
import pyarrow as pa

from descend.exceptions import DataError, UsageError

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def table_format(path):
    """"csv" or "parquet", from the file name."""
    name = str(path).lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise UsageError(f"{path}: unknown file type; use a .csv, .csv.gz or .parquet file")


def read_table(path):
    """Read a CSV (also gzip) or Parquet file.

    Raises
    ------
    DataError
        Missing or unreadable file, empty file, header only, binary content in
        a CSV, ragged rows, duplicate column names, or a corrupt Parquet file.
    """
    path = Path(path)
    kind = table_format(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a data file")
    try:
        frame = _read_parquet(path) if kind == "parquet" else _read_csv(path)
    except PermissionError:
        raise DataError(f"{path}: permission denied; make the file readable") from None
    _check_frame(path, frame)
    return frame


def _read_parquet(path):
    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({_first_line(exc)}); "
                        "check the file or convert it to CSV") from None


def _read_csv(path):
    compression = "gzip" if str(path).lower().endswith(".gz") else None
    try:
        head = _peek(path, compression)
    except PermissionError:
        raise DataError(f"{path}: permission denied; make the file readable") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read ({_first_line(exc)})") from None
    if b"\x00" in head:
        raise DataError(f"{path}: looks like a binary file, not CSV text; give a CSV or "
                        "Parquet file")
    if not head.strip():
        raise DataError(f"{path}: the file is empty; it needs a header row and data rows")
    text = head.decode("utf-8", errors="replace")
    sep = _sniff_separator(text)
    _check_field_counts(path, text, sep, complete=len(head) < 65536)
    try:
        frame = pd.read_csv(path, sep=sep, compression=compression, encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; it needs a header row and data rows") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: rows have different numbers of fields "
                        f"({_first_line(exc)}); fix the ragged rows") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; save the file as UTF-8 CSV") from None
    _check_header(path, text, sep)
    return frame


def _peek(path, compression, size=65536):
    if compression == "gzip":
        import gzip
        with gzip.open(path, "rb") as handle:
            return handle.read(size)
    with open(path, "rb") as handle:
        return handle.read(size)


def _sniff_separator(text):
    """Comma unless the header is clearly split by ';', tab or '|'."""
    header = text.splitlines()[0] if text.splitlines() else ""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return "," if counts[","] or not counts[best] else best


def _check_header(path, text, sep):
    header = next(csv.reader([text.splitlines()[0]], delimiter=sep))
    seen, dupes = set(), []
    for name in header:
        if name in seen:
            dupes.append(name)
        seen.add(name)
    if dupes:
        raise DataError(f"{path}: duplicate column names {sorted(set(dupes))}; "
                        "rename them so each column has its own name")


def _check_field_counts(path, text, sep, complete):
    """Every row has as many fields as the header (pandas pads short rows with
    NaN silently, which hides a wrong delimiter or a broken row)."""
    lines = text.splitlines(keepends=True)  # keeps quoted newlines inside a field
    if not complete:
        lines = lines[:-1]  # the peek may end mid-line
    try:
        rows = list(csv.reader(lines, delimiter=sep))
    except csv.Error as exc:
        raise DataError(f"{path}: not readable as CSV ({exc}); check the quoting") from None
    if not rows:
        return
    width = len(rows[0])
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) != width:
            raise DataError(
                f"{path}: line {number} has {len(row)} fields but the header has {width} "
                f"(split by {sep!r}); fix the ragged rows, or the delimiter if the header "
                "and the rows use different ones")


def _check_frame(path, frame):
    if frame.shape[1] == 0:
        raise DataError(f"{path}: no columns; the file needs a header row")
    if len(frame) == 0:
        raise DataError(f"{path}: only a header, no data rows")
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(f"{path}: duplicate column names {dupes}; rename them")


def _first_line(exc):
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def closest_columns(name, columns):
    """Up to three column names that look like ``name``, for a suggestion."""
    return difflib.get_close_matches(str(name), [str(c) for c in columns], n=3, cutoff=0.4)


def require_column(frame, name, path, what="target column"):
    """Raise a UsageError naming close matches when ``name`` is not a column."""
    if name in frame.columns:
        return
    close = closest_columns(name, frame.columns)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else \
        f"; the columns are {', '.join(map(repr, list(frame.columns)[:10]))}"
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
