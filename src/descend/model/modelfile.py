"""Model files: one JSON document, versioned, written atomically, never pickle.

JSON cannot execute anything when loaded, and Python's float repr round-trips
every float64 exactly, so the file holds the coefficients bit for bit.
"""
import json

import numpy as np

from descend import __version__
from descend.data.preprocess import Preprocessor
from descend.data.source import open_source
from descend.exceptions import ModelFileError
from descend.io.atomic import write_text
from descend.io.json_values import floats, strings
from descend.model.table_model import TableModel

FORMAT = "descend-model"
FORMAT_VERSION = 1


def model_to_dict(model):
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "descend_version": __version__,
        "target": model.target, "classes": list(model.classes),
        "preprocessing": model.preprocessor.to_dict(),
        "feature_names": model.preprocessor.feature_names,
        "coef": [float(c) for c in model.coef], "intercept": float(model.intercept),
        "params": {k: v for k, v in model.params.items() if _is_json_scalar(v)},
        "history": model.history, "summary": model.summary,
    }


def _is_json_scalar(value):
    return value is None or isinstance(value, (bool, int, float, str))


def save_model(model, path):
    """Write ``model`` to ``path`` as JSON, atomically."""
    text = json.dumps(model_to_dict(model), indent=1, allow_nan=True)
    write_text(path, text)


def load_model(path):
    """Read a model file; any defect is a one-line :class:`ModelFileError`."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file; check the path") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise ModelFileError(f"{path}: cannot read the model file ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelFileError(f"{path}: not a descend model file (not valid JSON: corrupt "
                             "or truncated); train the model again") from None
    return model_from_dict(data, path)


def load_model_and_table(model_path, data_path, text_format=None):
    """The model file and the data table (Arrow) a command applies it to."""
    model = load_model(model_path)
    source = open_source(data_path, model.preprocessor.column_types(), text_format=text_format)
    return model, source.read()


def model_from_dict(data, path=""):
    """Validate every field before building the model, so a crafted or damaged
    file fails here with a clear message and never half-way through use."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a descend model file")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path}: the model file has no valid format_version")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version} is newer than this "
                             f"descend reads ({FORMAT_VERSION}); upgrade descend")
    if version < 1:
        raise ModelFileError(f"{path}: unknown model format version {version}")
    try:
        model = _build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{path}: the model file is damaged ({type(exc).__name__}: "
                             f"{str(exc)[:80]}); train the model again") from None
    return model


def _build(data):
    preprocessor = Preprocessor.from_dict(data["preprocessing"])
    n_out = len(preprocessor.feature_names)
    coef = np.array(floats(data["coef"], n_out), dtype=np.float64)
    intercept = floats([data["intercept"]], 1)[0]
    classes = strings(data["classes"])
    if len(classes) != 2 or classes[0] == classes[1]:
        raise ValueError("two distinct classes expected")
    target = data["target"]
    if not isinstance(target, str):
        raise TypeError("target must be a column name")
    history = data.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise TypeError("history must be a list of records")
    params = data.get("params", {})
    summary = data.get("summary", {})
    if not isinstance(params, dict) or not isinstance(summary, dict):
        raise TypeError("params and summary must be objects")
    return TableModel(target=target, classes=classes, preprocessor=preprocessor, coef=coef,
                      intercept=intercept, params=params, history=history, summary=summary)
