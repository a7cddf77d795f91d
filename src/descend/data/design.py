"""From rows to the design matrix: the passes over a table, block by block.

Rows come from an in-memory Arrow table (:class:`TableRows`) or straight from
the files (:class:`StreamRows`); both are cut into blocks of ``BLOCK_ROWS``
rows whatever the files' own batches, so statistics and matrices are the same
bits either way. Three passes make a design matrix: the labels and which rows
have gaps, the statistics of the training rows, then the rows of X, each
written straight into its place (a NumPy array, or a memory-mapped file for a
matrix larger than memory).
"""
from collections import deque

import numpy as np
import pyarrow as pa

from descend.data import columns as kinds
from descend.data.inorder import BlockWork, finish
from descend.data.preprocess import VALUE_FILLS, split_columns
from descend.data.source import rechunk
from descend.data.statistics import TableStatistics

#: Rows per block: large enough that kernels dominate, small enough for cache.
BLOCK_ROWS = 1 << 16


class TableRows:
    """The rows of an Arrow table held in memory; ``ahead``, a pass over
    them run elsewhere (see :func:`read_labels_gaps_and_statistics`)."""

    def __init__(self, table, location="", ahead=None):
        self.table, self.location, self.ahead = table, location, ahead

    @property
    def schema(self):
        return self.table.schema

    def release(self):
        """Let the table go (and Arrow's pool return its memory): X is built."""
        self.table = None
        pa.default_memory_pool().release_unused()

    def scan(self, make_visitor, columns=None, last=False):
        """Visit the table's blocks in order; with ``last``, let each part of
        the table go once it has been visited (X is being filled: the table
        and X then never both stay whole in memory)."""
        table = self.table if columns is None else self.table.select(columns)
        batches = deque(table.to_batches())
        del table
        if last:
            self.table = None
        visitor = make_visitor()
        for batch in rechunk(_drain(batches, release=last), BLOCK_ROWS):
            visitor(batch)
        return finish(visitor)


def _drain(batches, release):
    """Pop and yield each batch, so that none is kept once it has been used."""
    while batches:
        yield batches.popleft()
        if release:
            pa.default_memory_pool().release_unused()


class StreamRows:
    """The rows of a :class:`~descend.data.source.TableSource`, read anew each pass."""

    def __init__(self, source):
        self.source, self.location, self.ahead = source, source.location, None

    @property
    def schema(self):
        return self.source.stream_schema()

    def release(self):
        pa.default_memory_pool().release_unused()

    def scan(self, make_visitor, columns=None, last=False):
        return self.source.scan(BLOCK_ROWS, make_visitor, columns)


class LabelsAndGaps(BlockWork):
    """Pass 1: the target's text and, per row, whether a feature is missing
    (``gaps`` False: not asked for, no feature is looked at); blocks on
    ``threads`` threads (None: the cores this process may use)."""

    def __init__(self, target, features, gaps=True, threads=None):
        super().__init__(threads)
        self.target, self.features, self.want_gaps = target, features, gaps
        self.labels, self.gaps = [], []
        self.missing = dict.fromkeys(features, 0)

    def work(self, batch, start):
        labels = kinds.as_labels(batch.column(self.target))
        gaps, missing = np.zeros(batch.num_rows, dtype=bool), {}
        for name in self.features if self.want_gaps else ():
            mask = kinds.missing_mask(batch.column(name))
            missing[name] = int(mask.sum())
            gaps |= mask
        return labels, gaps, missing

    def add(self, result):
        labels, gaps, missing = result
        self.labels += labels.chunks if isinstance(labels, pa.ChunkedArray) else [labels]
        self.gaps.append(gaps)
        for name, count in missing.items():
            self.missing[name] += count

    def result(self):
        """(labels as one string or dictionary array, row has a missing feature,
        counts)."""
        self.finish()
        labels = pa.concat_arrays(self.labels) if self.labels else pa.array([], pa.string())
        gaps = np.concatenate(self.gaps) if self.gaps else np.zeros(0, dtype=bool)
        return labels, gaps, {k: v for k, v in self.missing.items() if v}


def read_labels_and_gaps(rows, target, features):
    """Pass 1 over ``rows`` (see :class:`LabelsAndGaps`)."""
    return rows.scan(lambda: LabelsAndGaps(target, features), [target, *features]).result()


class LabelsGapsAndStatistics(LabelsAndGaps):
    """Passes 1 and 2 as one, when no hold-out has to be drawn from the
    labels first: each block's statistics are taken over the rows training
    will keep — those with a label and, unless ``impute``, every feature —
    as pass 2 would take them (the same rows, the same blocks, the same bits).
    With ``impute`` no row is dropped for a gap, and gaps are not looked for."""

    def __init__(self, target, features, impute, schema, path=""):
        super().__init__(target, features, gaps=impute is None)
        self.stats = new_statistics(schema, features, impute, path)

    def work(self, batch, start):
        first = super().work(batch, start)
        keep = ~kinds.missing_mask(first[0]) & ~first[1]  # labelled, and no gap when asked
        return first, self.stats.block(batch if keep.all() else batch.filter(pa.array(keep)))

    def add(self, result):
        first, stats = result
        super().add(first)
        self.stats.add_block(stats)


def read_labels_gaps_and_statistics(rows, target, features, impute, path=""):
    """Passes 1 and 2 in one (see :class:`LabelsGapsAndStatistics`): labels,
    gaps and missing counts as :func:`read_labels_and_gaps` gives them
    (with ``impute``: no gaps, no counts), and the statistics
    :func:`collect_statistics` would give for the kept rows.

    ``rows.ahead`` may hold this pass, run on another thread while the
    command imported the estimator: a future of a :class:`PassAhead` (or of
    None). One of these arguments is waited for and taken, its errors
    raised here; any other is left alone."""
    future, rows.ahead = rows.ahead, None
    ahead = future.result() if future is not None else None
    if ahead is not None and ahead.arguments == (target, tuple(features), impute, path):
        return ahead.result()
    schema = rows.schema
    visitor = rows.scan(lambda: LabelsGapsAndStatistics(target, features, impute, schema, path),
                        [target, *features])
    return (*visitor.result(), visitor.stats)


class PassAhead:
    """:func:`read_labels_gaps_and_statistics` of ``rows`` with these
    arguments, run now, kept for the caller that asks for the same."""

    def __init__(self, rows, target, features, impute, path=""):
        self.arguments = (target, tuple(features), impute, path)
        try:
            self._result = read_labels_gaps_and_statistics(rows, target, features, impute,
                                                           path)
            self._error = None
        except Exception as exc:  # noqa: BLE001 - raised where the pass is asked for
            self._result, self._error = None, exc

    def result(self):
        """The pass's result, handed over once (not kept alive here beside
        the model being fitted), or its error raised."""
        if self._error is not None:
            raise self._error
        result, self._result = self._result, None
        return result


def new_statistics(schema, features, impute, path=""):
    """An empty :class:`TableStatistics` for the ``features`` of ``schema``."""
    numeric, categorical = split_columns(pa.schema([schema.field(f) for f in features]), path)
    return TableStatistics(numeric, categorical, keep_values=impute in VALUE_FILLS, path=path)


class _Statistics(BlockWork):
    """Pass 2: the statistics of the rows where ``keep``."""

    def __init__(self, stats, keep):
        super().__init__()
        self.stats, self.keep = stats, keep

    def work(self, batch, start):
        mask = self.keep[start:start + batch.num_rows]
        return self.stats.block(batch if mask.all() else batch.filter(pa.array(mask)))

    def add(self, result):
        self.stats.add_block(result)


def collect_statistics(rows, features, keep, impute, path=""):
    """Pass 2: statistics of the feature columns over the rows where ``keep``."""
    schema = rows.schema
    return rows.scan(lambda: _Statistics(new_statistics(schema, features, impute, path), keep),
                     features).stats


class _Fill(BlockWork):
    """Pass 3: each block's rows written into X (the blocks write rows of
    their own, so there is nothing to add)."""

    def __init__(self, preprocessor, positions, out, path):
        super().__init__()
        self.preprocessor, self.positions, self.out, self.path = \
            preprocessor, positions, out, path

    def work(self, batch, start):
        if self.positions is None:
            where, part = np.arange(start, start + batch.num_rows), batch
        else:
            where = self.positions[start:start + batch.num_rows]
            kept = where >= 0
            if not kept.any():
                return
            part, where = (batch, where) if kept.all() else \
                (batch.filter(pa.array(kept)), where[kept])
        # one thread per block: the blocks are already spread over the threads
        self.preprocessor.fill_rows(part, self.out, where, self.path,
                                    threads=1 if self.threads > 1 else None)

    def add(self, result):
        pass


def build_design_matrix(rows, preprocessor, positions, n_rows, dtype, out=None, path=""):
    """Pass 3, the last: X with row ``positions[i]`` made from row i (rows
    with position −1 are left out; ``positions`` None: row i of X is row i);
    ``out`` is a ready array (e.g. a memory map). An in-memory table is let
    go block by block as X fills."""
    if out is None:
        out = preprocessor.allocate(n_rows, dtype)
    rows.scan(lambda: _Fill(preprocessor, positions, out, path), preprocessor.columns,
              last=True)
    return out
