"""Reading a table while the command imports what it fits with.

Arrow reads a file in C++ with the GIL released, while importing the
estimator and the compiled engine (scikit-learn, SciPy, Numba) holds it for
seconds. ``descend train`` therefore opens its data first and reads it on a
thread of its own (:class:`ReadAhead`) before it imports the rest: on two
cores the read and the imports then take the time of the longer, not of
both. Only a table that will be read whole into memory is read ahead; a
stream, a cluster or a checkpointed run reads as it always did.
"""
import threading
import time
from concurrent.futures import Future
from pathlib import Path

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
    """

    def __init__(self, source):
        self.source = source
        self.seconds = 0.0
        self._result = Future()
        # not a daemon: the interpreter waits for Arrow's threads to finish
        # rather than tear down beneath them
        self._thread = threading.Thread(target=self._read, name="descend-read-ahead")
        self._thread.start()

    def _read(self):
        started = time.perf_counter()
        try:
            self._result.set_result(self.source.read())
        except BaseException as exc:  # handed to the thread that asks for the table
            self._result.set_exception(exc)
        finally:
            self.seconds = time.perf_counter() - started

    def table(self):
        """The table (waiting for the read to end); read only once."""
        table = self._result.result()
        self._thread.join()
        self._result = None  # the table now belongs to the caller
        return table


def start_reading(data, text_format, options):
    """A :class:`ReadAhead` of ``data`` when ``descend train`` with these
    options will read it whole into memory; else None (and None on any
    error: the command then meets it where it always did, after checking
    its options)."""
    if options.get("dask_address") or options.get("memory_limit") or \
            options.get("checkpoint") or options.get("resume"):
        return None
    try:
        source = open_source(data, text_format=text_format, dictionary_text=True)
        if not fits_in_memory(source, MatrixStorage(None, options.get("dtype")).budget):
            return None
    except Exception:  # noqa: BLE001 - reported by the command's own checks
        return None
    return ReadAhead(source)
