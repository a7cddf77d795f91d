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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from descend.cli.main import main
from descend.exceptions import DescendError, ModelFileError
from descend.model.modelfile import load_model
from descend.data.tables import read_table

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


@given(content=st.one_of(csv_text(), st.binary(max_size=300).map(lambda b: b)))
def test_hostile_csv_is_read_or_refused_with_our_error(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        try:
            frame = read_table(path)
            assert isinstance(frame, pd.DataFrame) and len(frame) > 0
        except DescendError:
            pass


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
    return json.dumps(data)


@given(text=st.one_of(mutated_model(), st.text(max_size=200)),
       cut=st.one_of(st.none(), st.integers(0, 2000)))
def test_hostile_model_files_load_or_fail_cleanly(text, cut):
    raw = text.encode("utf-8")[:cut] if cut is not None else text.encode("utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.json"
        path.write_bytes(raw)
        try:
            model = load_model(path)
        except ModelFileError:
            return
        frame = pd.DataFrame({"a": [1.0, 2.0], "c": ["p", "z"], "y": ["no", "yes"]})
        try:
            model.predict_frame(frame)
        except DescendError:
            pass
