"""Reading a whole file a user names (a model, a checkpoint): only a regular
file, and only up to a size.

A name may lead anywhere: a link to ``/dev/zero`` never ends (memory grows
without bound), a named pipe blocks the open until someone writes to it. The
path is checked with ``stat`` before it is opened, opened without blocking,
checked again on the open file (it may have been replaced in between), and
read up to one byte past the limit.
"""
import os
import stat

from descend.exceptions import ModelFileError

#: What a file that is not a regular file is, for the message.
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def size_text(n):
    """A size in bytes as people say it: 256 MiB, 3.1 GiB, 512 bytes."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def _check(path, info, max_bytes, what):
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
        raise ModelFileError(f"{path}: not a regular file ({kind}); give the path of a {what}")
    if info.st_size > max_bytes:
        raise ModelFileError(f"{path}: {size_text(info.st_size)}, larger than the "
                             f"{size_text(max_bytes)} a {what} may be; it is not a {what} "
                             "descend wrote")


def read_user_file(path, max_bytes, what):
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    Raises :class:`ModelFileError` (one line, naming ``what``) for anything
    else, and ``OSError`` (FileNotFoundError, PermissionError) for the caller
    to word.
    """
    _check(path, os.stat(path), max_bytes, what)  # follows links, as open does
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    with open(os.open(path, flags), "rb") as handle:
        _check(path, os.fstat(handle.fileno()), max_bytes, what)
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:  # it grew after the check
        raise ModelFileError(f"{path}: larger than the {size_text(max_bytes)} a {what} may "
                             f"be; it is not a {what} descend wrote")
    return raw
