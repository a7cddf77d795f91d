"""Where the design matrix lives: memory, or a memory-mapped file when it would
not fit (or when a memory limit says so).

A mapped matrix is a file in a temporary folder that the operating system
pages in and out; the compiled kernel reads it as any array. The folder is
removed when the storage is closed, whatever happened.
"""
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from descend.exceptions import UsageError

#: Share of the available memory (or of --memory-limit) the matrix may take
#: in memory; the rest is for the table, the solver and the system.
MATRIX_SHARE = 0.5
_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "M": 2**20, "MB": 2**20,
          "G": 2**30, "GB": 2**30, "T": 2**40, "TB": 2**40}


def parse_size(text):
    """Bytes of "512MB", "1.5GB", "2G" or a plain number of bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?B?)\s*", str(text), flags=re.I)
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"{{memory_limit}} {text!r} is not a size; use e.g. 1GB or 512MB",
                         memory_limit=None)
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def available_memory():
    """Bytes of memory available to new allocations (MemAvailable), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class MatrixStorage:
    """Allocates the design matrix: in memory when it fits, else mapped.

    Parameters
    ----------
    memory_limit : int or None
        Bytes the command may use; None: what the machine has available.
    dtype : {"float32", "float64"} or None
        None: float64 in memory, float32 when mapped (half the file to read
        each pass).
    temp_dir : str or None
        Where the mapped file goes (default: the system's temporary folder).
    """

    def __init__(self, memory_limit=None, dtype=None, temp_dir=None):
        self.memory_limit, self.dtype, self.temp_dir = memory_limit, dtype, temp_dir
        self.folder = None

    @property
    def budget(self):
        total = self.memory_limit or available_memory()
        return None if total is None else MATRIX_SHARE * total

    def fits(self, n_rows, n_cols, dtype):
        budget = self.budget
        return budget is None or n_rows * n_cols * np.dtype(dtype).itemsize <= budget

    def __call__(self, n_rows, n_cols):
        """A zeroed (n_rows, n_cols) C-ordered matrix."""
        in_memory = np.dtype(self.dtype or np.float64)
        if self.fits(n_rows, n_cols, in_memory):
            return np.zeros((n_rows, n_cols), dtype=in_memory)
        self.folder = Path(tempfile.mkdtemp(prefix="descend-", dir=self.temp_dir))
        # A new file reads as zeros without writing them (a sparse file).
        return np.lib.format.open_memmap(self.folder / "design-matrix.npy", mode="w+",
                                         dtype=np.dtype(self.dtype or np.float32),
                                         shape=(n_rows, n_cols))

    @property
    def mapped(self):
        return self.folder is not None

    def close(self):
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
