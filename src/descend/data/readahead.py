"""Reading a table while the command imports what it fits with.

Arrow reads a file in C++ with the GIL released, while importing the
estimator and the compiled engine (scikit-learn, SciPy, Numba) holds it for
seconds. ``descend train`` therefore opens its data first and reads it on a
thread of its own (:class:`ReadAhead`) before it imports the rest: on two
cores the read and the imports then take the time of the longer, not of
both. Once read, the same thread makes training's first pass over the
table (labels, gaps and the statistics, mostly Arrow and NumPy kernels that
release the GIL too) while the imports go on. Only a table that will be
read whole into memory is read ahead; a stream, a cluster or a checkpointed
run reads as it always did.
"""
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

from descend.data.source import open_source
from descend.data.storage import MatrixStorage


def fits_in_memory(source, budget):
    """Whether the whole table (its files' size, decompressed) fits ``budget``
    bytes (None: no limit known)."""
    size = sum(Path(f).stat().st_size for f in source.files)
    expansion = 4 if source.format == "parquet" or source.files[0].endswith(
        (".gz", ".zst", ".bz2")) else 1.5
    return budget is None or size * expansion <= budget


class ReadAhead:
    """The whole table of ``source``, read on a thread started at once.

    :meth:`table` waits for it and returns it, or raises what the read
    raised (the same errors, at the same step, as a read in the foreground).
    With ``plan`` (the options ``target``, ``features``, ``drop`` and
    ``impute`` as attributes), the same thread then runs training's first pass over the
    table (labels, gaps and statistics), which :meth:`rows` hands on.
    """

    def __init__(self, source, plan=None):
        self.source, self.plan = source, plan
        self.seconds = 0.0
        self._result = Future()
        self._ahead = Future()  # a PassAhead, or None when none was run
        # not a daemon: the interpreter waits for Arrow's threads to finish
        # rather than tear down beneath them
        self._thread = threading.Thread(target=self._read, name="descend-read-ahead")
        self._thread.start()

    def _read(self):
        started = time.perf_counter()
        try:
            table = self.source.read()
        except BaseException as exc:  # handed to the thread that asks for the table
            self._result.set_exception(exc)
            self._ahead.set_result(None)
            return
        finally:
            self.seconds = time.perf_counter() - started
        self._result.set_result(table)
        ahead = None
        try:
            ahead = self._first_pass(table)
        finally:  # whatever happens here, training must not wait for it forever
            self._ahead.set_result(ahead)

    def _first_pass(self, table):
        """The first pass over ``table`` as training will ask for it, or None
        (no plan, or features the command will refuse)."""
        if self.plan is None:
            return None
        from descend.data.design import PassAhead, TableRows  # beside the estimator's imports
        from descend.data.tables import select_features
        plan, location = self.plan, self.source.location
        try:
            features = select_features(table.schema.names, plan, location)
        except Exception:  # noqa: BLE001 - refused by the command's own checks
            return None
        return PassAhead(TableRows(table, location), plan.target, features, plan.impute,
                         location)

    def table(self):
        """The table (waiting for the read to end); read only once."""
        table = self._result.result()
        self._result = None  # the table now belongs to the caller
        return table

    def rows(self):
        """The table as :class:`~descend.data.design.TableRows` holding the
        first pass run ahead (waiting for the read to end)."""
        from descend.data.design import TableRows
        return TableRows(self.table(), self.source.location, ahead=self._ahead)


def start_reading(data, text_format, options, target=None):
    """A :class:`ReadAhead` of ``data`` when ``descend train`` with these
    options will read it whole into memory; else None (and None on any
    error: the command then meets it where it always did, after checking
    its options). Given the ``target``, and without a hold-out to draw
    first, it runs the first pass too."""
    if options.get("dask_address") or options.get("memory_limit") or \
            options.get("checkpoint") or options.get("resume"):
        return None
    try:
        source = open_source(data, text_format=text_format, dictionary_text=True)
        if not fits_in_memory(source, MatrixStorage(None, options.get("dtype")).budget):
            return None
    except Exception:  # noqa: BLE001 - reported by the command's own checks
        return None
    plan = None
    if target is not None and not options.get("validation"):
        plan = SimpleNamespace(target=target, features=options.get("features"),
                               drop=options.get("drop"), impute=options.get("impute"))
    return ReadAhead(source, plan)
