"""Writing a table batch by batch: CSV or Parquet, to a file or to standard output.

A file is written under a temporary name and renamed when complete
(:func:`descend.io.atomic.atomic_path`), so a failure leaves no half file.
"""
import contextlib
import csv
import io
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from descend.data.tables import table_format
from descend.io.atomic import atomic_path


class BatchWriter:
    """Appends record batches to one CSV or Parquet output."""

    def __init__(self, sink, fmt):
        self.sink, self.format, self.writer, self.rows = sink, fmt, None, 0

    def write(self, table):
        if self.writer is None:
            self.writer = self._open(table.schema)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def _open(self, schema):
        if self.format == "parquet":
            return pq.ParquetWriter(self.sink, schema)
        # Arrow quotes every name of a header; a header quoted only where
        # needed reads the same everywhere and looks like the input's.
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(schema.names)
        if isinstance(self.sink, str):
            self.sink = pa.OSFile(self.sink, "wb")
        self.sink.write(line.getvalue().encode("utf-8"))
        return pacsv.CSVWriter(self.sink, schema, write_options=pacsv.WriteOptions(
            include_header=False, quoting_style="needed"))

    def close(self):
        if self.writer is not None:
            self.writer.close()
        if isinstance(self.sink, pa.NativeFile):
            self.sink.close()


@contextlib.contextmanager
def table_output(path):
    """Yield a :class:`BatchWriter` factory for ``path`` (None: standard
    output as CSV); each call starts the output afresh."""
    if path is None:
        writers = []

        def to_stdout():
            writers.append(BatchWriter(sys.stdout.buffer, "csv"))
            return writers[-1]
        yield to_stdout
        sys.stdout.flush()
        return
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        writers = []

        def to_file():
            for old in writers:
                old.close()
            writers.append(BatchWriter(str(tmp), fmt))
            return writers[-1]
        try:
            yield to_file
        finally:
            for writer in writers:
                writer.close()
