"""Files are written whole or not at all: temporary name, fsync, rename.

A temporary file is named ``.NAME.PID.RANDOM.tmp.SUFFIX`` beside its target:
the PID of the process writing it tells a later run whether its writer is
gone (killed with SIGKILL, say), so that :func:`remove_stale_temporaries`
may remove it. Temporary files still open when the process is interrupted
are listed, so the command line can remove them (:func:`remove_unfinished`).
A file that replaces another keeps its mode and, where the process may set
it, its owner.
"""
import contextlib
import errno
import os
import re
import stat
import tempfile
from pathlib import Path

#: ``.NAME.PID.RANDOM.tmp.SUFFIX``: RANDOM is tempfile's eight characters.
TEMPORARY_NAME = re.compile(
    r"^\.(?P<name>.+)\.(?P<pid>[1-9][0-9]*)\.[a-z0-9_]{8}\.tmp(?P<suffix>\.[^.]*)?$")

#: Temporary files this process has made and neither renamed nor removed.
_unfinished = set()


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
        _unfinished.discard(str(tmp))
        _fsync_folder(folder)
    except BaseException:
        _remove(tmp)
        raise


def _temporary(path):
    """A new empty file beside ``path``, with the mode (and owner) of the file
    it will replace, else the permissions a plain open() would give (mkstemp
    makes it private)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} does not exist; create it first")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.",
                                   suffix=".tmp" + path.suffix, dir=folder)
    except OSError as exc:  # the error would name our hidden temporary file
        raise cannot_write(path, exc.errno, exc.strerror) from None
    _unfinished.add(tmp)
    os.close(fd)
    try:
        _take_mode(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return Path(tmp)


def cannot_write(path, number, reason, option=None):
    """The OSError for ``path`` whose folder may not be written: it names the
    user's path and its folder, never a temporary file, and says the fix."""
    folder = os.path.abspath(Path(path).parent if str(Path(path).parent) else ".")
    where = f"give {option} a path" if option else "write it"
    return OSError(number, f"cannot be written: {str(reason).lower()} in the folder {folder}; "
                   f"{where} in a folder you may write to, or get write permission there",
                   str(path))


def check_writable(path, option=None):
    """Raise :func:`cannot_write`'s error when ``path``'s folder exists but
    this process may not create a file in it (checked before any work)."""
    folder = Path(path).parent if str(Path(path).parent) else Path(".")
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise cannot_write(path, errno.EACCES, os.strerror(errno.EACCES), option)


def _take_mode(tmp, path):
    """Give ``tmp`` the mode and owner of ``path`` (when it exists)."""
    try:
        old = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        return
    if hasattr(os, "chown") and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(tmp, old.st_uid, old.st_gid)
        except OSError:  # only root gives files away; a member may still set the group
            with contextlib.suppress(OSError):
                os.chown(tmp, -1, old.st_gid)
    os.chmod(tmp, stat.S_IMODE(old.st_mode))  # after chown, which may clear set-id bits


def _remove(tmp):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    _unfinished.discard(str(tmp))


def remove_unfinished():
    """Remove every temporary file this process still has (an interrupted write)."""
    for tmp in list(_unfinished):
        _remove(tmp)


def remove_stale_temporaries(folder, before):
    """Remove the temporary files of our naming in ``folder`` that were last
    changed before ``before`` (a time.time()) by a process that no longer
    exists: what a run killed while writing (SIGKILL) left. Return their names."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = TEMPORARY_NAME.match(entry.name)
            if (match is None or Path(match["name"]).suffix != (match["suffix"] or "")
                    or _alive(int(match["pid"]))):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and info.st_mtime < before:
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def _alive(pid):
    """Whether process ``pid`` exists (ours counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except (OverflowError, OSError):
        return False
    return True


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
            _unfinished.discard(str(tmp))
            _fsync_folder(path.parent if str(path.parent) else Path("."))
        self._pending = []

    def __exit__(self, kind, value, tb):
        for tmp, _ in self._pending:
            _remove(tmp)
        self._pending = []
        return False
