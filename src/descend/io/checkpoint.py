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
import signal
from pathlib import Path

import numpy as np

from descend.exceptions import DescendError, ModelFileError, UsageError
from descend.io.atomic import write_text
from descend.optim.solver import SolverState

FORMAT = "descend-checkpoint"
#: 2: the update rule's state is a list, one entry per link of its chain.
FORMAT_VERSION = 2
FILE_NAME = "checkpoint.json"


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
            return np.array(value["__array__"], dtype=np.dtype(value["dtype"]))
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def state_to_dict(state):
    """The solver state as plain JSON values (arrays tagged with their dtype)."""
    return {f.name: _encode(getattr(state, f.name)) for f in dataclasses.fields(SolverState)}


def state_from_dict(data):
    """The :class:`SolverState` that :func:`state_to_dict` wrote; a ValueError
    for anything else."""
    names = {f.name for f in dataclasses.fields(SolverState)}
    if not isinstance(data, dict) or set(data) != names:
        raise ValueError("the solver state's fields do not match this descend")
    state = SolverState(**{k: _decode(v) for k, v in data.items()})
    if (not isinstance(state.theta, np.ndarray) or not isinstance(state.iteration, int)
            or not isinstance(state.rule_state, list)):
        raise ValueError("the solver state has the wrong types")
    return state


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
    """Whether ``folder`` holds a checkpoint (a run killed before its first
    one leaves none)."""
    return (Path(folder) / FILE_NAME).is_file()


def load_checkpoint(folder):
    """(state, meta) from ``folder``; a damaged file is a one-line error."""
    path = Path(folder) / FILE_NAME
    if not path.is_file():
        raise UsageError(f"{folder}: no checkpoint here ({FILE_NAME} missing); "
                         "check the checkpoint folder")
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError("not a descend checkpoint")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"checkpoint format {data.get('format_version')!r} is not "
                             f"{FORMAT_VERSION}")
        return state_from_dict(data["state"]), data["meta"]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: damaged checkpoint ({exc}); start the run again "
                             "from the beginning") from None


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
