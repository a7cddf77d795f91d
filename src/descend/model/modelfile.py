"""Model files: one JSON document, versioned, checksummed, written atomically,
never pickle.

JSON cannot execute anything when loaded, and Python's float repr round-trips
every float64 exactly, so the file holds the coefficients bit for bit.

Format version 2 adds ``checksum``: the sha256 of the canonical JSON of every
other field (keys sorted, no spaces, ASCII). A file whose content does not
match it is refused, so a flipped bit cannot load as a model that predicts
something else ("no" read as "No", a digit of a coefficient). Version 1 files
(no checksum) still load, unchecked; a file that has a ``checksum`` field is
always checked, and a version 2 file without one is refused.

Format version 3 adds models of K ≥ 3 classes: ``classes`` lists the K labels,
``coef`` is K lists (one row of W per class) and ``intercept`` K numbers. A
two-class model is written as before (a list and a number); version 1 and 2
files, all of two classes, still load.
"""
import hashlib
import json

import numpy as np

from descend import __version__
from descend.data.preprocess import Preprocessor
from descend.data.source import open_source
from descend.exceptions import ModelFileError
from descend.io.atomic import write_text
from descend.io.json_values import floats, strings
from descend.io.user_files import read_user_file
from descend.model.table_model import TableModel

FORMAT = "descend-model"
#: 2: the file holds a checksum of its content; 3: K ≥ 3 classes.
FORMAT_VERSION = 3
#: Model files larger than this are refused before they are read (a model of
#: millions of features is a few hundred MB less than this).
MAX_MODEL_BYTES = 256 * 2**20
#: A model whose |coefficients| and |intercept| sum to more than this is refused:
#: gradient descent on standardised features gives nothing near it, and its
#: products with the features (w·x + b, the report's plots) would overflow.
MAX_COEFFICIENT_SUM = 1e100


def checksum(data):
    """``sha256:`` and the hex digest of the canonical JSON of every field of
    ``data`` but ``checksum`` (what :func:`model_to_dict` stores)."""
    body = {key: value for key, value in data.items() if key != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=True)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def model_to_dict(model):
    data = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "descend_version": __version__,
        "target": model.target, "classes": list(model.classes),
        "preprocessing": model.preprocessor.to_dict(),
        "feature_names": model.preprocessor.feature_names,
        "coef": np.asarray(model.coef, dtype=np.float64).tolist(),
        "intercept": np.asarray(model.intercept, dtype=np.float64).tolist(),
        "params": {k: v for k, v in model.params.items() if _is_json_scalar(v)},
        "history": model.history, "summary": model.summary,
    }
    # The checksum is of the values as a reader gets them back (tuples as lists).
    data = json.loads(json.dumps(data, allow_nan=True))
    data["checksum"] = checksum(data)
    return data


def _is_json_scalar(value):
    return value is None or isinstance(value, (bool, int, float, str))


def save_model(model, path):
    """Write ``model`` to ``path`` as JSON, atomically."""
    text = json.dumps(model_to_dict(model), indent=1, allow_nan=True)
    write_text(path, text)


def load_model(path):
    """Read a model file; any defect is a one-line :class:`ModelFileError`."""
    try:
        raw = read_user_file(path, MAX_MODEL_BYTES, "model file")
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file; check the path") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelFileError(f"{path}: not a descend model file (not valid JSON: corrupt "
                             "or truncated); train the model again") from None
    except ValueError:  # an integer beyond Python's limit of digits
        raise ModelFileError(f"{path}: the model file is damaged (a number thousands of "
                             "digits long); train the model again") from None
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
    _check_checksum(data, version, path)
    try:
        model = _build(data, version)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{path}: the model file is damaged ({type(exc).__name__}: "
                             f"{str(exc)[:80]}); train the model again") from None
    return model


def _check_checksum(data, version, path):
    """Refuse a file whose content is not what its checksum says (version 1
    files have none and load unchecked)."""
    if "checksum" not in data and version < 2:
        return
    stored = data.get("checksum")
    if not isinstance(stored, str):
        raise ModelFileError(f"{path}: the model file is damaged: it has no checksum; "
                             "train the model again")
    try:
        expected = checksum(data)
    except (ValueError, TypeError, RecursionError):
        expected = None
    if stored != expected:
        raise ModelFileError(f"{path}: the model file is damaged: checksum does not match; "
                             "train the model again")


def _coefficients(data, n_out, n_classes):
    """(coef, intercept): a list and a number for two classes, K lists of
    ``n_out`` and K numbers for K ≥ 3."""
    if n_classes == 2:
        coef = np.array(floats(data["coef"], n_out), dtype=np.float64)
        intercept = floats([data["intercept"]], 1)[0]
        return coef, intercept, abs(intercept)
    rows = data["coef"]
    if not isinstance(rows, list) or len(rows) != n_classes:
        raise ValueError(f"coef must be {n_classes} rows, one per class")
    coef = np.array([floats(row, n_out) for row in rows], dtype=np.float64).reshape(n_classes, -1)
    intercept = np.array(floats(data["intercept"], n_classes), dtype=np.float64)
    return coef, intercept, float(np.max(np.abs(intercept)))


def _build(data, version):
    preprocessor = Preprocessor.from_dict(data["preprocessing"])
    n_out = len(preprocessor.feature_names)
    classes = strings(data["classes"])
    if len(classes) < 2 or len(set(classes)) != len(classes) or (version < 3 and len(classes) != 2):
        raise ValueError("two distinct classes expected" if version < 3 else
                         "at least two distinct classes expected")
    coef, intercept, largest_b = _coefficients(data, n_out, len(classes))
    # per class: Σ|w| + |b| bounds |w·x + b| for |x| ≤ 1
    with np.errstate(over="ignore"):  # an infinite sum is refused just below
        row_sums = np.abs(coef).reshape(len(coef) if coef.ndim == 2 else 1, -1).sum(axis=1)
    if not float(np.max(row_sums)) + largest_b <= MAX_COEFFICIENT_SUM:
        largest = max([largest_b, *np.abs(coef).ravel().tolist()])
        raise ValueError(f"coefficients as large as {largest:.3g}: w·x + b would overflow")
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
