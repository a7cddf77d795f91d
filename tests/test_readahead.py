"""Reading a table, and training's first pass over it, on a thread of their
own while ``descend train`` imports the rest (descend.data.readahead)."""
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from descend.data.design import TableRows
from descend.data.readahead import ReadAhead, start_reading
from descend.data.source import open_source
from descend.exceptions import DataError
from descend.model.training import TrainOptions, prepare
from test_data_path import mixed_frame


def _plan(target="y", features=None, drop=None, impute="mean"):
    return SimpleNamespace(target=target, features=features, drop=drop, impute=impute)


def _parquet(tmp_path, frame):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=50)
    return path


def _counting_scans(rows):
    """``rows`` whose scans are counted in ``rows.scans``."""
    scan, rows.scans = rows.scan, []

    def counted(*args, **kwargs):
        rows.scans.append(args)
        return scan(*args, **kwargs)
    rows.scan = counted
    return rows


def _same(a, b):
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert a.preprocessor.to_dict() == b.preprocessor.to_dict()
    assert a.classes == b.classes and a.dropped == b.dropped


@pytest.mark.parametrize("impute", ["mean", None])
def test_the_first_pass_run_ahead_is_taken_and_gives_the_same_preparation(tmp_path, impute):
    path = _parquet(tmp_path, mixed_frame(400))
    options = TrainOptions(target="y", impute=impute, drop_missing=impute is None)
    expected = prepare(TableRows(open_source(path).read(), str(path)), options, str(path))
    ahead = ReadAhead(open_source(path), _plan(impute=impute))
    rows = _counting_scans(ahead.rows())
    got = prepare(rows, options, str(path))
    _same(got, expected)
    assert len(rows.scans) == 1  # only the fill of X: the first pass came from the thread
    # handed over, not kept beside the fit (labels and statistics of every row)
    assert ahead._ahead.result()._result is None


def test_a_pass_run_ahead_for_other_columns_is_left_alone(tmp_path):
    path = _parquet(tmp_path, mixed_frame(400))
    options = TrainOptions(target="y", impute="mean")
    expected = prepare(TableRows(open_source(path).read(), str(path)), options, str(path))
    rows = _counting_scans(ReadAhead(open_source(path), _plan(drop=["plan"])).rows())
    _same(prepare(rows, options, str(path)), expected)
    assert len(rows.scans) == 2  # its own first pass, then the fill


def test_the_pass_run_ahead_raises_its_error_where_training_asks_for_it(tmp_path):
    frame = mixed_frame(60)
    frame["mixed"] = ["1", "2", "x"] + [str(i) for i in range(57)]
    path = _parquet(tmp_path, frame)
    ahead = ReadAhead(open_source(path), _plan())
    rows = ahead.rows()  # the read itself went well
    with pytest.raises(DataError, match="column 'mixed' mixes numbers and text"):
        prepare(rows, TrainOptions(target="y", impute="mean"), str(path))


def test_a_failed_read_is_raised_by_table_and_runs_no_pass(tmp_path):
    path = _parquet(tmp_path, mixed_frame(60))
    source = open_source(path)
    path.write_bytes(b"PAR1 not a parquet file PAR1")
    ahead = ReadAhead(source, _plan())
    with pytest.raises(DataError):
        ahead.table()
    assert ahead._ahead.result() is None


def test_only_a_whole_table_in_memory_is_read_ahead_and_a_hold_out_has_no_pass(tmp_path):
    path = _parquet(tmp_path, mixed_frame(60))
    options = {"features": None, "drop": None, "impute": "mean", "validation": None}
    for other in ({"memory_limit": "1GB"}, {"checkpoint": tmp_path}, {"resume": tmp_path},
                  {"dask_address": "local"}):
        assert start_reading(path, None, {**options, **other}, "y") is None
    assert start_reading(tmp_path / "missing.parquet", None, options, "y") is None
    assert start_reading(path, None, options, "y").plan is not None
    assert start_reading(path, None, {**options, "validation": 0.2}, "y").plan is None
