"""The files a command writes: never one of its inputs, never one file twice,
never in a folder it may not write, and no temporary file left behind by an
earlier run that was killed.

Inputs and outputs are named by what the user typed (``--output``,
``DATA``), so a refusal names both. An input may be a file, a folder (every
file under it is read) or a glob pattern (every file it matches is).
"""
import fnmatch
import glob as globbing
import os
import re
import time
from pathlib import Path

from descend.exceptions import UsageError
from descend.io.atomic import check_writable, remove_stale_temporaries

_MAGIC = re.compile(r"[*?[]")


def check_outputs(inputs, outputs, allowed=()):
    """A :class:`UsageError` when an output is an input or another output.

    Parameters
    ----------
    inputs, outputs : dict of str to path or None
        What the command reads and writes, by the option (or argument) that
        names it; None: not given.
    allowed : set of (output, input) pairs
        Pairs that are meant to be one file (a checkpoint resumed and saved).
    """
    given = [(name, Path(path)) for name, path in outputs.items() if path is not None]
    for i, (first, path) in enumerate(given):
        for second, other in given[i + 1:]:
            if _same_file(path, other):
                raise UsageError(f"{first} and {second} are the same file ({path}); give "
                                 "each output its own file")
    for output, path in given:
        for source, location in inputs.items():
            if location is None or (output, source) in allowed:
                continue
            overlap = _overlap(path, str(location))
            if overlap:
                raise UsageError(overlap.format(output=output, source=source, path=path,
                                                location=location))


def _overlap(path, location):
    """How the output ``path`` meets the input ``location``, as a message
    template (None: it does not)."""
    if _MAGIC.search(location):
        if _matches(path, location):
            return ("{output} matches the input pattern {source} ({path}, pattern "
                    "{location}); give {output} a file the pattern does not match")
        return None
    if Path(location).is_dir():
        if _resolved(path).is_relative_to(_resolved(Path(location))):
            return ("{output} is inside the input folder {source} ({path} in {location}); "
                    "give {output} a file outside it")
        return None
    if _same_file(path, Path(location)):
        return "{output} is also the input {source} ({path}); give {output} another file"
    return None


def _resolved(path):
    return Path(os.path.abspath(path)).resolve(strict=False)


def _same_file(a, b):
    """One file by two names: the same path once resolved, or (both
    existing) the same inode, as a hard link is."""
    if _resolved(a) == _resolved(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _matches(path, pattern):
    """Whether ``path`` is, or would be, one of the files ``pattern`` matches."""
    if any(_same_file(path, Path(f)) for f in globbing.glob(pattern, recursive=True)):
        return True
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if _MAGIC.search(part))
    base = _resolved(Path(*parts[:fixed]) if fixed else Path("."))
    target = _resolved(path)
    if not target.is_relative_to(base):
        return False
    return _match_parts(target.relative_to(base).parts, parts[fixed:])


def _match_parts(names, patterns):
    """glob's rules, one folder level per part: ``**`` any number of levels,
    and a wildcard never matches a hidden name."""
    if not patterns:
        return not names
    head, *rest = patterns
    if head == "**":
        return any(_match_parts(names[i:], rest) for i in range(len(names) + 1))
    if not names or (names[0].startswith(".") and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], head) and _match_parts(names[1:], rest)


def prepare_outputs(inputs, outputs, allowed=(), folders=()):
    """:func:`check_outputs`, then refuse an output whose folder may not be
    written (an OSError naming it, not our temporary file: before the work,
    not after it), then remove the stale temporary files in the outputs'
    folders (and in ``folders``) that killed runs left."""
    check_outputs(inputs, outputs, allowed)
    for name, path in outputs.items():
        if path is not None:
            check_writable(path, name)
    started = time.time()
    places = {Path(p).parent for p in outputs.values() if p is not None} | set(map(Path, folders))
    for folder in places:
        remove_stale_temporaries(folder if str(folder) else Path("."), started)
