"""Atomic files, and no code path that could run code from a user's file."""
import ast
import dataclasses
import json
import os
import pathlib
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from descend.exceptions import ModelFileError
from descend.io import atomic
from descend.model.modelfile import checksum, load_model, save_model

SRC = Path(__file__).parent.parent / "src" / "descend"


def train_model(run_cli, folder):
    data = folder / "d.csv"
    data.write_text("a,b,y\n" + "".join(f"{i % 5},{i % 3},{'yes' if i % 5 > i % 3 else 'no'}\n"
                                        for i in range(40)))
    model = folder / "model.json"
    assert run_cli("train", data, "-t", "y", "-o", model, "-q")[0] == 0
    return model, data


def test_a_write_that_fails_midway_leaves_the_previous_file_intact(run_cli, tmp_path,
                                                                      monkeypatch):
    model, data = train_model(run_cli, tmp_path)
    before = model.read_bytes()
    real_write = pathlib.Path.write_bytes

    def half_then_crash(self, payload):
        real_write(self, payload[: len(payload) // 2])
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(pathlib.Path, "write_bytes", half_then_crash)
    code, _, err = run_cli("train", data, "-t", "y", "--C", "0.01", "-o", model, "-q",
                           "--history", tmp_path / "h.csv")
    monkeypatch.undo()
    assert code == 1 and "No space left on device" in err
    assert model.read_bytes() == before
    assert load_model(model).classes == ["no", "yes"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "model.json"]


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1
    atomic.write_text(target, "new")
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_save_model_round_trips_every_bit(run_cli, tmp_path):
    model, _ = train_model(run_cli, tmp_path)
    loaded = load_model(model)
    again = tmp_path / "again.json"
    save_model(loaded, again)
    assert json.loads(again.read_text())["coef"] == json.loads(model.read_text())["coef"]


def test_loaded_model_equals_the_trained_one_bit_for_bit(tmp_path):
    """The file keeps every bit of what training computed (not only what an
    earlier load gave back, which a rounding writer would also reproduce)."""
    from conftest import customers_frame

    import descend
    from descend.data.preprocess import Preprocessor
    from descend.model import TableModel
    frame = customers_frame()
    pre, X = Preprocessor.fit(frame[["age", "income", "plan"]], impute="mean")
    clf = descend.LogisticRegression().fit(X, frame.churn == "yes")
    trained = TableModel(target="churn", classes=["no", "yes"], preprocessor=pre,
                         coef=clf.coef_.ravel(), intercept=float(clf.intercept_[0]))
    path = tmp_path / "m.json"
    save_model(trained, path)
    loaded = load_model(path)
    assert np.array_equal(loaded.coef, clf.coef_.ravel()) and loaded.coef.dtype == np.float64
    assert np.array_equal(loaded.coef, trained.coef)
    assert [c.hex() for c in loaded.coef.tolist()] == [c.hex() for c in trained.coef.tolist()]
    assert loaded.intercept.hex() == float(clf.intercept_[0]).hex()
    for key in ("mean", "scale", "fill"):
        got, want = loaded.preprocessor.numeric[key], trained.preprocessor.numeric[key]
        assert len(want) == 2 and [v.hex() for v in got] == [float(v).hex() for v in want], key
    assert loaded.preprocessor.categorical == trained.preprocessor.categorical
    assert (loaded.classes, loaded.target) == (trained.classes, trained.target)
    frame = customers_frame(80, seed=9)
    pd.testing.assert_frame_equal(loaded.predict_frame(frame), trained.predict_frame(frame),
                                  check_exact=True)


@pytest.mark.parametrize("scale", [0.0, -0.0, -1.5])
def test_model_file_with_a_scale_that_is_not_positive_is_refused(run_cli, tmp_path, scale):
    model, data = train_model(run_cli, tmp_path)
    saved = json.loads(model.read_text())
    saved["preprocessing"]["numeric"]["scale"][1] = scale
    saved["checksum"] = checksum(saved)  # crafted, not damaged: the checksum matches
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(saved))
    with pytest.raises(ModelFileError, match="damaged.*positive scales"):
        load_model(bad)
    code, out, err = run_cli("predict", bad, data, "-o", tmp_path / "p.csv")
    assert code == 1 and out == ""
    assert err.startswith("descend: error: ") and "damaged" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p.csv").exists()


def _record_fsync_and_replace(monkeypatch):
    """Calls of os.fsync (by the inode of the file or folder) and os.replace, in order."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        events.append(("fsync", info.st_ino, stat.S_ISDIR(info.st_mode)))
        return real_fsync(fd)

    def replace(src, dst, *args, **kwargs):
        events.append(("replace", os.stat(src).st_ino, Path(dst)))
        return real_replace(src, dst, *args, **kwargs)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def _check_fsynced_before_rename(events, path, folder):
    """``path``'s data was fsync'ed before it was renamed into place, and the
    folder after."""
    inode = path.stat().st_ino
    renamed = events.index(("replace", inode, path))
    assert ("fsync", inode, False) in events[:renamed], events
    assert ("fsync", folder.stat().st_ino, True) in events[renamed:], events


@pytest.mark.parametrize("write", ["write_text", "batch"])
def test_a_folder_that_may_not_be_written_is_named_with_the_users_path(tmp_path, monkeypatch, write):
    """The temporary file cannot be made: the error names the file the user
    asked for and its folder, never our hidden temporary name. (Root writes
    every folder, so the refusal is simulated; the command line's early
    check is the row read-only-folder of docs/bad-input.md, run as nobody.)"""
    def refuse(prefix, suffix, dir):
        raise PermissionError(13, "Permission denied", os.path.join(dir, f"{prefix}x{suffix}"))
    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    target = tmp_path / "m.json"
    with pytest.raises(PermissionError) as info:
        if write == "batch":
            with atomic.AtomicBatch() as batch:
                batch.reserve(target)
        else:
            atomic.write_text(target, "{}")
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)
    assert f"cannot be written: permission denied in the folder {tmp_path}" in info.value.strerror
    assert list(tmp_path.iterdir()) == []


def test_write_text_fsyncs_the_file_before_the_rename(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    target.write_text("old")
    events = _record_fsync_and_replace(monkeypatch)
    atomic.write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "new"
    _check_fsynced_before_rename(events, target, tmp_path)


def test_atomic_batch_fsyncs_every_file_before_the_first_rename(tmp_path, monkeypatch):
    targets = [tmp_path / "model.json", tmp_path / "history.csv"]
    events = _record_fsync_and_replace(monkeypatch)
    with atomic.AtomicBatch() as batch:
        for target in targets:
            batch.reserve(target).write_text(target.name)
        batch.commit()
    monkeypatch.undo()
    assert [t.read_text() for t in targets] == ["model.json", "history.csv"]
    first_rename = next(i for i, e in enumerate(events) if e[0] == "replace")
    for target in targets:
        _check_fsynced_before_rename(events, target, tmp_path)
        assert ("fsync", target.stat().st_ino, False) in events[:first_rename]


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
FORBIDDEN_ATTRS = {"read_pickle", "to_pickle", "load_pickle"}


def test_no_code_path_in_src_uses_pickle_eval_or_exec():
    problems = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in FORBIDDEN_CALLS:
                problems.append(f"{path.name}:{node.lineno} calls {node.func.id}")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in FORBIDDEN_MODULES for n in names):
                    problems.append(f"{path.name}:{node.lineno} imports {names}")
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRS:
                problems.append(f"{path.name}:{node.lineno} uses {node.attr}")
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                if not (isinstance(node.value, ast.Constant) and node.value.value is False):
                    problems.append(f"{path.name}:{node.lineno} allow_pickle")
    assert problems == []
    assert len(list(SRC.rglob("*.py"))) > 10  # the scan saw the package


def test_a_format_1_model_file_loads_unchecked_but_a_checksum_is_always_checked(run_cli, tmp_path):
    model, data = train_model(run_cli, tmp_path)
    saved = json.loads(model.read_text())
    old = {k: v for k, v in saved.items() if k != "checksum"} | {"format_version": 1}
    (tmp_path / "v1.json").write_text(json.dumps(old))
    assert load_model(tmp_path / "v1.json").classes == ["no", "yes"]
    stale = dict(old, classes=["no", "Yes"], checksum=saved["checksum"])
    (tmp_path / "stale.json").write_text(json.dumps(stale))
    with pytest.raises(ModelFileError, match="checksum does not match"):
        load_model(tmp_path / "stale.json")


def test_checkpoint_vectors_of_different_lengths_are_refused(tmp_path):
    from descend.io.checkpoint import load_checkpoint, save_checkpoint
    from descend.optim.solver import SolverState
    theta = np.array([0.5, -0.25, 1.0])
    state = SolverState(theta=theta, rule_state=[{}], lr=1.0, ref_step=1.0,
                        best_theta=theta[:2], best_grad=theta)
    save_checkpoint(tmp_path, state, {})
    with pytest.raises(ModelFileError, match="differ in length"):
        load_checkpoint(tmp_path)
    save_checkpoint(tmp_path, dataclasses.replace(state, best_theta=theta), {})
    loaded, meta = load_checkpoint(tmp_path)
    assert np.array_equal(loaded.theta, theta) and meta == {}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_solver_state_of_another_problem_is_refused_before_any_step():
    import descend
    from descend.exceptions import DataError
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), np.arange(50) % 2
    state = descend.LogisticRegression(max_iter=3).fit(X, y).solver_state_
    with pytest.raises(DataError, match="theta has 4 values, this problem 3 parameters"):
        descend.LogisticRegression().fit(X[:, :2], y, solver_state=state)
    other_rule = descend.LogisticRegression(solver="adam", max_iter=3).fit(X, y).solver_state_
    with pytest.raises(DataError, match="another rule's"):
        descend.LogisticRegression(solver="gd", learning_rate=0.1).fit(
            X, y, solver_state=other_rule)


@pytest.mark.parametrize("options", [{"features": "ab"}, {"drop": [1]}, {"positive": 1},
                                     {"drop_missing": "yes"}, {"validation": "0.2"},
                                     {"estimator": [1]}, {"dtype": "float16"},
                                     {"estimator": {"class_weight": "all"}}])
def test_train_options_of_the_wrong_type_are_refused(options):
    from descend.exceptions import UsageError
    from descend.model.training import TrainOptions
    with pytest.raises(UsageError):
        TrainOptions(target="y", **options)
