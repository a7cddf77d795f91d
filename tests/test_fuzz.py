"""Hostile CSV content and model files: the project's own error or success.

The examples per test are bounded for CI (profile "ci"); run the long profile
locally with ``HYPOTHESIS_PROFILE=long make test`` (see README).
"""
import contextlib
import copy
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from descend.cli.main import main
from descend.exceptions import DescendError, ModelFileError
from descend.model.modelfile import checksum, load_model
from descend.data.source import open_source
from descend.exceptions import DataError

settings.register_profile("ci", max_examples=60, deadline=10_000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=3_000, deadline=10_000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

cell = st.one_of(
    st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "yes", "no", "NaN", "inf", "-", "\"", "\"a,b\"", "1e400", " ", "\x00",
                     "é", "１", "true", "\r", "a\nb"]),
    st.text(max_size=6))
separator = st.sampled_from([",", ";", "\t", "|", ", "])


@st.composite
def csv_text(draw):
    sep = draw(separator)
    width = draw(st.integers(1, 4))
    header = draw(st.lists(st.sampled_from(["a", "b", "y", "c", "", "y "]), min_size=width,
                           max_size=width))
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=width + 1), max_size=12))
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


def run_main(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            return exc.code, err.getvalue()
    return 0, err.getvalue()


def assert_one_line_error(exc, path):
    """Our error about a file: its own class, one line that names the file."""
    message = str(exc)
    assert type(exc) is not DescendError  # a subclass that says what kind of problem
    assert message.startswith(f"{path}: ") and len(message) > len(f"{path}: ") + 10
    assert "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message


@given(content=st.one_of(csv_text(), st.binary(max_size=300).map(lambda b: b)))
def test_hostile_csv_is_read_or_refused_with_our_error(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        try:
            table = open_source(path).read()
        except DescendError as exc:
            assert isinstance(exc, DataError)
            assert_one_line_error(exc, path)
            return
        names = table.column_names
        assert table.num_rows > 0 and table.num_columns > 0
        assert len(set(names)) == len(names)
        assert all(isinstance(c, str) for c in names)
        # Never more rows than the file has lines after the header.
        assert table.num_rows <= len(path.read_bytes().splitlines()) - 1


@given(content=csv_text())
def test_hostile_csv_through_train_never_crashes_or_leaves_files(content):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        data = folder / "data.csv"
        data.write_text(content)
        code, err = run_main(["train", str(data), "--target", "y", "-o", str(folder / "m.json"),
                              "-q", "--max-iter", "50"])
        assert code in (0, 1, 2), err
        if code != 0:
            assert err.startswith("descend: error: ") and err.count("\n") == 1
            assert sorted(p.name for p in folder.iterdir()) == ["data.csv"]
            return
        model = load_model(folder / "m.json")
        assert model.target == "y" and len(model.classes) == 2
        assert np.all(np.isfinite(model.coef)) and np.isfinite(model.intercept)


def valid_model():
    from descend.model import TableModel
    from descend.data.preprocess import Preprocessor
    from descend.model.modelfile import model_to_dict
    pre = Preprocessor({"columns": ["a"], "mean": [0.5], "scale": [2.0], "fill": None},
                       {"columns": ["c"], "categories": [["p", "q"]], "fill": None})
    return model_to_dict(TableModel("y", ["no", "yes"], pre, coef=np.array([0.1, -0.2, 0.3]),
                                    intercept=0.05))


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8)


@st.composite
def mutated_model(draw):
    """A valid model file with one to three fields deleted or replaced."""
    data = copy.deepcopy(valid_model())
    for _ in range(draw(st.integers(1, 3))):
        node = data
        while True:
            keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, (dict, list)) and child and draw(st.booleans()):
                node = child
                continue
            if isinstance(node, dict) and draw(st.booleans()):
                del node[key]
            else:
                node[key] = draw(json_value)
            break
    if "checksum" in data and draw(st.booleans()):
        # Crafted rather than damaged: the checksum matches, the fields are checked.
        with contextlib.suppress(ValueError, TypeError):
            data["checksum"] = checksum(data)
    return json.dumps(data)


def edited_model(path, value):
    """The valid model file with one field (``path``, a list of keys) set to ``value``."""
    data = valid_model()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    data["checksum"] = checksum(data)
    return json.dumps(data)


@given(text=st.one_of(mutated_model(), st.text(max_size=200)),
       cut=st.one_of(st.none(), st.integers(0, 2000)))
@example(text=json.dumps(valid_model()), cut=None)
@example(text=edited_model(["coef", 1], float("nan")), cut=None)
@example(text=edited_model(["intercept"], float("inf")), cut=None)
@example(text=edited_model(["preprocessing", "numeric", "mean"], [float("-inf")]), cut=None)
@example(text=edited_model(["preprocessing", "numeric", "scale"], [0.0]), cut=None)
@example(text=edited_model(["preprocessing", "numeric", "scale"], [-2.0]), cut=None)
@example(text=edited_model(["classes"], ["yes", "yes"]), cut=None)
@example(text=edited_model(["coef"], [0.1, -0.2]), cut=None)
def test_hostile_model_files_load_or_fail_cleanly(text, cut):
    raw = text.encode("utf-8")[:cut] if cut is not None else text.encode("utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.json"
        path.write_bytes(raw)
        try:
            model = load_model(path)
        except ModelFileError as exc:
            assert_one_line_error(exc, path)
            return
        # Loaded: a model that predicts. Row 3 sits at the mean of the valid file.
        frame = pd.DataFrame({"a": [1.0, 2.0, 0.5], "c": ["p", "z", "q"], "y": ["no", "yes", "no"]})
        try:
            pred = model.predict_frame(frame)
        except DescendError as exc:  # e.g. its columns are not this table's
            assert isinstance(exc, DataError) and "\n" not in str(exc)
            return
        negative, positive = model.classes
        assert negative != positive
        assert list(pred.columns) == ["predicted", f"probability_{positive}"] and len(pred) == 3
        proba = pred[f"probability_{positive}"].to_numpy()
        assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1)), proba
        assert list(pred.predicted) == [positive if p > 0.5 else negative for p in proba]


#: A table every valid model of ``valid_model`` scores: a at the mean, an
#: unseen category, both classes.
FLIP_FRAME = pd.DataFrame({"a": [1.0, 2.0, 0.5, -3.0], "c": ["p", "z", "q", "q"],
                           "y": ["no", "yes", "no", "yes"]})


def saved_model_bytes():
    """``valid_model`` as ``save_model`` writes it (indented JSON)."""
    return json.dumps(valid_model(), indent=1, allow_nan=True).encode()


def outputs(model):
    """Everything a loaded model gives back: labels, probabilities, columns."""
    frame = model.predict_frame(FLIP_FRAME)
    return (model.target, list(model.classes), model.preprocessor.feature_names,
            model.coef.tobytes(), float(model.intercept).hex(),
            list(frame.predicted), frame.iloc[:, 1].to_numpy().tobytes())


def load_or_refuse(raw):
    """(loaded model or None) for the bytes ``raw`` as a model file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.json"
        path.write_bytes(raw)
        try:
            return load_model(path)
        except ModelFileError as exc:
            assert_one_line_error(exc, path)
            return None


@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                      min_size=1, max_size=4))
@example(flips=[(0.0, 0x20)])  # a bit of the first byte
def test_damaged_model_file_is_refused_or_gives_the_same_outputs(flips):
    """Bits or bytes changed anywhere: the file is refused, or (a change JSON
    does not see, such as in white space) the model gives the very same outputs."""
    raw = bytearray(saved_model_bytes())
    want = outputs(load_or_refuse(bytes(raw)))
    for where, mask in flips:
        raw[int(where * len(raw))] ^= mask
    model = load_or_refuse(bytes(raw))
    if model is not None:
        assert outputs(model) == want


def test_every_single_bit_flip_of_a_model_file_is_refused_or_harmless():
    """All 8 × (file size) single-bit flips; before the checksum, a few percent
    loaded as a different model (a class "no" read as "No")."""
    raw = saved_model_bytes()
    want = outputs(load_or_refuse(raw))
    loaded = 0
    for position in range(len(raw)):
        for bit in range(8):
            damaged = bytearray(raw)
            damaged[position] ^= 1 << bit
            model = load_or_refuse(bytes(damaged))
            if model is not None:
                loaded += 1
                assert outputs(model) == want, (position, bit)
    assert loaded < len(raw)  # white space only, if anything


def _good_files(folder):
    """A small training table as CSV, gzip'ed CSV and Parquet, and a checkpoint."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80).round(3), "c": rng.choice(["p", "q"], 80),
                          "y": rng.choice(["yes", "no"], 80)})
    frame.to_csv(folder / "good.csv", index=False)
    frame.to_csv(folder / "good.csv.gz", index=False)
    frame.to_parquet(folder / "good.parquet", index=False)
    code, err = run_main(["train", str(folder / "good.csv"), "-t", "y", "-q",
                          "--checkpoint", str(folder / "ck"), "--checkpoint-every", "1",
                          "--max-iter", "3"])
    assert code == 0, err
    return {kind: (folder / name).read_bytes() for kind, name in [
        ("csv", "good.csv"), ("gzip", "good.csv.gz"), ("parquet", "good.parquet"),
        ("checkpoint", "ck/checkpoint.json")]}


_GOOD = {}


def _damage(raw, draw):
    """Flip a few bytes, and maybe cut the end, at places hypothesis chooses."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] ^= draw(st.integers(1, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@given(kind=st.sampled_from(["csv", "gzip", "parquet", "checkpoint"]), data=st.data())
def test_byte_damage_in_any_input_is_refused_in_one_line_or_read(kind, data):
    """Damaged CSV, gzip, Parquet and checkpoint files: exit 1 or 2 with one line
    and no file left behind, or a run that reads what is left."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if not _GOOD:
            with tempfile.TemporaryDirectory() as source:
                _GOOD.update(_good_files(Path(source)))
        damaged = _damage(_GOOD[kind], data.draw)
        if kind == "checkpoint":
            (folder / "good.csv").write_bytes(_GOOD["csv"])
            (folder / "ck").mkdir()
            (folder / "ck" / "checkpoint.json").write_bytes(damaged)
            args = ["train", str(folder / "good.csv"), "-t", "y", "--resume", str(folder / "ck")]
        else:
            name = {"csv": "d.csv", "gzip": "d.csv.gz", "parquet": "d.parquet"}[kind]
            (folder / name).write_bytes(damaged)
            args = ["train", str(folder / name), "-t", "y"]
        before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
        code, err = run_main([*args, "-o", str(folder / "m.json"), "-q", "--max-iter", "20"])
        assert code in (0, 1, 2), err
        assert "Traceback" not in err
        if code != 0:
            assert err.startswith("descend: error: ") and err.count("\n") == 1, err
            assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
        else:
            assert np.all(np.isfinite(load_model(folder / "m.json").coef))
