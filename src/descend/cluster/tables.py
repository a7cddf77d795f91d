"""Files (a folder, a glob, one file of CSV or Parquet) as a dask DataFrame,
and each of its partitions as the Arrow table the single-machine path reads.

The files are found and their column types read by
:func:`descend.data.source.open_source`, so a column is a number or text on
the cluster exactly when it is one on a single machine; each partition is
turned back into an Arrow table of those types, and the code that follows
(statistics, preprocessing, predictions) is the single-machine code.
"""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from descend.cluster.arrays import require_dask
from descend.data.source import open_source
from descend.exceptions import DataError

#: Bytes of CSV per partition.
CSV_BLOCK = "64MB"


class Frame:
    """A dask DataFrame of the files and the Arrow schema of their columns."""

    def __init__(self, data, column_types=None, others_as_text=False, text_format=None):
        require_dask("--dask")
        import dask.dataframe as dd
        source = open_source(data, column_types, others_as_text, text_format)
        self.location, self.files = str(data), source.files
        # Parquet keeps its own types, as the single-machine reader does
        fields = (pq.read_schema(source.files[0]) if source.format == "parquet"
                  else source.stream_schema())
        self.schema = pa.schema([(f.name, pa.float64() if pa.types.is_integer(f.type)
                                  else f.type) for f in fields])
        if source.format == "parquet":
            self.frame = dd.read_parquet(source.files)
        else:
            text = source.text  # pandas' missing-value strings are Arrow's
            self.frame = dd.read_csv(source.files, blocksize=CSV_BLOCK, dtype=self._csv_types(),
                                     encoding=text.encoding, decimal=text.decimal or ".",
                                     thousands=text.thousands, sep=source.delimiter)

    def _csv_types(self):
        """pandas types to read CSV columns as: numbers as float64, the rest as text."""
        return {f.name: "float64" if pa.types.is_floating(f.type) else "object"
                for f in self.schema}

    def partitions(self):
        """The partitions, as delayed pandas DataFrames in row order."""
        return self.frame.to_delayed()


def arrow_part(part, schema):
    """One partition (pandas) as an Arrow table of the files' column types."""
    columns = [name for name in schema.names if name in part.columns]
    try:
        return pa.Table.from_pandas(part[columns], schema=pa.schema(
            [schema.field(c) for c in columns]), preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        raise DataError(f"a partition's columns do not have the types of the first "
                        f"file's ({exc}); give every file the same columns and types") from None

