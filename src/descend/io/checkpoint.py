"""Checkpoint and resume: a run killed at any moment ends as if never stopped.

A checkpoint is one JSON file (``checkpoint.json`` in its folder) holding the
solver's whole :class:`~descend.solver.SolverState` — parameters, optimizer
state, iteration, random state, step size, history — plus what the run was
asked for and a fingerprint of its data. JSON writes every float64 exactly, so
the resumed run continues with the same bits. Files are replaced atomically:
a kill while saving leaves the previous checkpoint.
"""
import dataclasses
import hashlib
import json
import math
import os
import re
import signal
from pathlib import Path

import numpy as np

from descend.exceptions import DescendError, ModelFileError, UsageError
from descend.io.atomic import write_text
from descend.io.user_files import read_user_file
from descend.optim.solver import SolverState

FORMAT = "descend-checkpoint"
#: 2: the update rule's state is a list, one entry per link of its chain.
FORMAT_VERSION = 2
FILE_NAME = "checkpoint.json"
#: Checkpoints larger than this are refused before they are read (one of a
#: million parameters, with Adam's moments and the history, is about 150 MB).
MAX_CHECKPOINT_BYTES = 1024 * 2**20
#: The dtypes a checkpoint's arrays may have.
ARRAY_DTYPES = ("float64", "float32")


class TrainingInterrupted(DescendError):
    """SIGINT or SIGTERM arrived; the checkpoint has been saved."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


def _encode(value):
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def _decode(value):
    if isinstance(value, dict):
        if "__array__" in value:
            return _decode_array(value)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _decode_array(value):
    """A 1-D float array of finite numbers, as :func:`_encode` wrote it."""
    items, dtype = value["__array__"], value.get("dtype")
    if dtype not in ARRAY_DTYPES or not isinstance(items, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        raise ValueError("an array that is not a list of numbers of a float dtype")
    array = np.array(items, dtype=np.dtype(dtype))
    if not np.all(np.isfinite(array)):
        raise ValueError("an array with NaN or infinite values")
    return array


def _is_number(value, finite=True):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and not math.isnan(value) and (not finite or math.isfinite(value)))


def _counter(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _optional_array(v):
    return v is None or (isinstance(v, np.ndarray) and v.ndim == 1)


#: What each field of a saved :class:`SolverState` must be.
STATE_FIELDS = {
    "theta": lambda v: isinstance(v, np.ndarray) and v.ndim == 1 and v.size > 0,
    "rule_state": lambda v: isinstance(v, list) and all(
        isinstance(link, dict) and all(isinstance(x, np.ndarray) or _is_number(x)
                                       for x in link.values()) for link in v),
    "lr": lambda v: _is_number(v) and v > 0,
    "ref_step": lambda v: _is_number(v) and v > 0,
    "iteration": _counter, "since_refresh": _counter, "rises": _counter,
    "best_loss": lambda v: _is_number(v, finite=False),
    "best_theta": _optional_array, "best_grad": _optional_array, "curvature_at": _optional_array,
    "previous_measure": lambda v: _is_number(v, finite=False),
    "first_loss": lambda v: v is None or _is_number(v),
    "last_loss": lambda v: _is_number(v, finite=False),
    "just_reset": lambda v: isinstance(v, bool), "converged": lambda v: isinstance(v, bool),
    "separated": lambda v: isinstance(v, bool),
    "measure": lambda v: _is_number(v, finite=False),
    "elapsed": lambda v: _is_number(v) and v >= 0,
    "rng_state": lambda v: v is None or isinstance(v, dict),
    "history": lambda v: isinstance(v, list) and all(isinstance(h, dict) for h in v),
}


def state_to_dict(state):
    """The solver state as plain JSON values (arrays tagged with their dtype)."""
    return {f.name: _encode(getattr(state, f.name)) for f in dataclasses.fields(SolverState)}


def state_from_dict(data):
    """The :class:`SolverState` that :func:`state_to_dict` wrote; a ValueError
    for anything else (a field of the wrong type, an array with NaN)."""
    names = {f.name for f in dataclasses.fields(SolverState)}
    if not isinstance(data, dict) or set(data) != names:
        raise ValueError("the solver state's fields do not match this descend")
    values = {k: _decode(v) for k, v in data.items()}
    wrong = sorted(name for name, ok in STATE_FIELDS.items() if not ok(values[name]))
    if wrong:
        raise ValueError(f"the solver state has wrong values in {', '.join(wrong)}")
    shapes = {values[k].shape for k in ("theta", "best_theta", "best_grad", "curvature_at")
              if values[k] is not None}
    if len(shapes) != 1:
        raise ValueError("the solver state's parameter vectors differ in length")
    return SolverState(**values)


def fingerprint(files):
    """sha256 of the data files (names and bytes, in order), so a resume on
    other data is refused."""
    digest = hashlib.sha256()
    for path in [files] if isinstance(files, (str, Path)) else files:
        digest.update(Path(path).name.encode() + b"\0")
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def save_checkpoint(folder, state, meta):
    """Write the checkpoint atomically into ``folder`` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "meta": meta,
               "state": state_to_dict(state)}
    write_text(folder / FILE_NAME, json.dumps(payload))


def has_checkpoint(folder):
    """Whether ``folder`` holds a checkpoint, or anything by its name (a run
    killed before its first checkpoint leaves none)."""
    return os.path.lexists(Path(folder) / FILE_NAME)


def load_checkpoint(folder, options_type=None):
    """(state, meta) from ``folder``; a damaged file is a one-line error.

    With ``options_type`` the meta is that of ``descend train``: the target,
    the data's fingerprint, the resume command, and train options from which
    ``options_type(**options)`` builds without error.
    """
    path = Path(folder) / FILE_NAME
    try:
        raw = read_user_file(path, MAX_CHECKPOINT_BYTES, "checkpoint")
    except (FileNotFoundError, NotADirectoryError):
        raise UsageError(f"{folder}: no checkpoint here ({FILE_NAME} missing); "
                         "check the checkpoint folder") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the checkpoint ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a descend checkpoint")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"checkpoint format {data.get('format_version')!r} is not "
                             f"{FORMAT_VERSION}")
        state, meta = state_from_dict(data.get("state")), data.get("meta")
        if not isinstance(meta, dict):
            raise ValueError("its meta is not an object")
        if options_type is not None:
            _check_run_meta(meta, options_type)
        return state, meta
    except RecursionError:
        raise ModelFileError(f"{path}: damaged checkpoint (nested too deeply); start the run "
                             "again from the beginning") from None
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: damaged checkpoint ({str(exc)[:200]}); start the run "
                             "again from the beginning") from None


def _check_run_meta(meta, options_type):
    """What ``descend train`` saved with the state: a ValueError if not."""
    for key in ("target", "data_sha256", "resume_command"):
        if not isinstance(meta.get(key), str):
            raise ValueError(f"meta has no {key}")
    if not re.fullmatch("[0-9a-f]{64}", meta["data_sha256"]):
        raise ValueError("meta's data_sha256 is not a sha256")
    options = meta.get("train_options")
    if not isinstance(options, dict):
        raise ValueError("meta's train_options is not an object")
    try:
        built = options_type(**options)
    except TypeError as exc:  # an option this descend does not know
        raise ValueError(f"meta's train_options: {exc}") from None
    if getattr(built, "target", meta["target"]) != meta["target"]:
        raise ValueError("meta's target is not its train_options'")
    text = meta.get("text_format", {})
    if not (isinstance(text, dict) and set(text) <= {"encoding", "decimal", "thousands"}
            and all(v is None or isinstance(v, str) for v in text.values())
            and isinstance(text.get("encoding", ""), str)):
        raise ValueError("meta's text_format is not an encoding, decimal mark and separator")


class Checkpointer:
    """Solver callback: save every ``every`` iterations and on SIGINT/SIGTERM.

    Signals only raise a flag; the save happens after the iteration in
    progress, so a checkpoint always holds a consistent state.
    """

    def __init__(self, folder, meta, every, then=None):
        self.folder, self.meta, self.every, self.then = Path(folder), meta, every, then
        self.signal = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False

    def _on_signal(self, signum, frame):
        self.signal = signum

    def __call__(self, state):
        if self.then is not None:
            self.then(state)
        if self.signal is not None:
            save_checkpoint(self.folder, state, self.meta)
            name = signal.Signals(self.signal).name
            raise TrainingInterrupted(
                f"{name} at iteration {state.iteration}: checkpoint saved in {self.folder}; "
                f"resume with: {self.meta['resume_command']}", 128 + self.signal)
        if state.iteration % self.every == 0 or state.converged:
            save_checkpoint(self.folder, state, self.meta)
