"""Files are written whole or not at all: temporary name, fsync, rename."""
import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The temporary file sits in the same folder (so the rename is atomic on one
    file system), keeps the suffix (so writers that look at it choose the
    right format), is fsync'ed before the rename, and is removed on failure:
    a crash leaves the old file or the new one, never half of one.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    tmp = _temporary(path)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_folder(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _temporary(path):
    """A new empty file beside ``path``, with the permissions a plain open()
    would give (mkstemp makes it private)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=folder)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)


def _fsync_folder(folder):
    """Make the rename itself durable."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


class AtomicBatch:
    """Several files that appear together or not at all.

    ``reserve(path)`` gives a temporary path to write; ``commit()`` fsyncs and
    renames them all; leaving the ``with`` block by an exception removes every
    temporary file, so a failed command leaves nothing new behind.
    """

    def __init__(self):
        self._pending = []

    def __enter__(self):
        return self

    def reserve(self, path):
        path = Path(path)
        tmp = _temporary(path)
        self._pending.append((tmp, path))
        return tmp

    def commit(self):
        for tmp, _ in self._pending:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        for tmp, path in self._pending:
            os.replace(tmp, path)
            _fsync_folder(path.parent if str(path.parent) else Path("."))
        self._pending = []

    def __exit__(self, kind, value, tb):
        for tmp, _ in self._pending:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._pending = []
        return False
