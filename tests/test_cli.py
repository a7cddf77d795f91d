"""The command line, end to end, on files the tests write."""
import gzip
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

import descend
from conftest import DESCEND_EXE, customers_frame
from descend.data.preprocess import Preprocessor
from descend.model.modelfile import checksum

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("command", ["train", "predict", "evaluate", "demo", "explain", "report"])
def test_every_command_has_help_with_an_example(run_cli, command):
    code, out, _ = run_cli(command, "--help")
    assert code == 0
    assert "Example" in out and f"descend {command}" in out


def test_python_dash_m_and_console_script():
    out = subprocess.run([sys.executable, "-m", "descend", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "train" in out and "explain" in out
    exe = subprocess.run([DESCEND_EXE, "--version"], capture_output=True, text=True)
    assert exe.returncode == 0 and descend.__version__ in exe.stdout


def test_end_to_end_train_predict_evaluate(run_cli, customers, tmp_path):
    model = tmp_path / "model.json"
    code, out, err = run_cli("train", customers, "--target", "churn", "--drop", "customer_id",
                             "--impute", "median", "-o", model, "--quiet")
    assert code == 0, err
    assert "positive class 'yes'" in out and "converged" in out
    saved = json.loads(model.read_text())
    # The model's training log-loss is that of the estimator on the same matrix.
    frame = customers_frame()
    pre, X = Preprocessor.fit(frame[["age", "income", "plan"]], impute="median")
    y = (frame.churn == "yes").to_numpy(float)
    clf = descend.LogisticRegression().fit(X, y)
    expected = log_loss(y, clf.predict_proba(X)[:, 1])
    assert saved["summary"]["train"]["log_loss"] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(saved["coef"], clf.coef_.ravel(), rtol=1e-9)
    # predict: new rows with an unseen category and reordered, extra columns
    new = frame.head(20).copy()
    new.loc[0, "plan"] = "enterprise"
    new = new[["churn", "plan", "income", "age"]].assign(extra=1)
    new_path = tmp_path / "new.parquet"
    new.to_parquet(new_path)
    out_path = tmp_path / "pred.csv"
    code, _, err = run_cli("predict", model, new_path, "-o", out_path)
    assert code == 0, err
    pred = pd.read_csv(out_path)
    assert list(pred.columns) == [*new.columns, "predicted", "probability_yes"] and len(pred) == 20
    # The probabilities are the estimator's on the same rows (the unseen
    # category encodes as all zeros), and each label is the one they choose.
    X_new = pre.transform(new)
    np.testing.assert_allclose(pred["probability_yes"], clf.predict_proba(X_new)[:, 1],
                               rtol=1e-7, atol=1e-12)
    assert list(pred.predicted) == ["yes" if p > 0.5 else "no" for p in pred["probability_yes"]]
    assert list(pred.predicted) == ["yes" if p == 1 else "no" for p in clf.predict(X_new)]
    assert {"yes", "no"} <= set(pred.predicted)  # both labels occur, so a swap shows
    code, out, _ = run_cli("evaluate", model, customers, "--plot", tmp_path / "roc.png")
    assert code == 0
    for word in ("log-loss", "accuracy", "precision", "recall", "ROC AUC", "confusion matrix"):
        assert word in out
    assert (tmp_path / "roc.png").read_bytes().startswith(PNG_MAGIC)


def test_predict_to_standard_output_leaves_unscorable_rows_empty(run_cli, customers, tmp_path):
    model = tmp_path / "m.json"
    run_cli("train", customers, "-t", "churn", "--drop-missing", "-o", model, "-q")
    code, out, err = run_cli("predict", model, customers)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("predicted,probability_yes") and len(lines) == 401
    assert "5 rows have missing feature values" in err
    assert lines[1 + 3].endswith(",,")  # row 3 has no age: no prediction


def test_csv_gz_and_parquet_inputs_and_positive_choice(run_cli, tmp_path):
    frame = customers_frame().dropna()
    gz = tmp_path / "c.csv.gz"
    with gzip.open(gz, "wt") as handle:
        frame.to_csv(handle, index=False)
    code, out, _ = run_cli("train", gz, "--target", "churn", "--positive", "no", "-q")
    assert code == 0 and "positive class 'no'" in out
    pq = tmp_path / "c.parquet"
    frame.assign(churn=frame.churn == "yes").to_parquet(pq)
    code, out, _ = run_cli("train", pq, "--target", "churn", "--features", "age,plan", "-q")
    assert code == 0 and "positive class 'True'" in out and "2 columns" in out


def test_missing_values_are_listed_with_both_fixes(run_cli, customers, tmp_path):
    code, _, err = run_cli("train", customers, "--target", "churn", "-o", tmp_path / "m.json")
    assert code == 1
    assert "'age': 3" in err and "'plan': 2" in err
    assert "--drop-missing" in err and "--impute" in err
    assert "m.json" not in files_in(tmp_path)
    code, out, _ = run_cli("train", customers, "--target", "churn", "--drop-missing", "-q")
    assert code == 0 and "dropped 5 rows with missing feature values" in out


def test_validation_history_and_plot(run_cli, customers, tmp_path):
    code, out, _ = run_cli("train", customers, "-t", "churn", "--impute", "mean", "-q",
                           "--validation", "0.25", "--history", tmp_path / "h.csv",
                           "--plot", tmp_path / "loss.png", "--class-weight", "balanced",
                           "--solver", "nesterov", "--C", "0.5", "--seed", "3",
                           "-o", tmp_path / "m.json")
    assert code == 0
    assert "validation" in out and "(100 rows)" in out
    history = pd.read_csv(tmp_path / "h.csv")
    assert list(history.columns) == ["iteration", "loss", "grad_norm", "step_size", "elapsed",
                                     "validation_loss"]
    assert history.loss.iloc[-1] < history.loss.iloc[0]
    # The last record is the returned model's: its held-out loss is the summary's.
    summary = json.loads((tmp_path / "m.json").read_text())["summary"]
    assert history.validation_loss.iloc[-1] == pytest.approx(
        summary["validation"]["log_loss"], rel=1e-9)
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_MAGIC)


def test_progress_bar_shows_the_loss_on_a_terminal(customers, monkeypatch):
    import io

    from descend.cli.console import Progress
    from descend.optim.solver import SolverState

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bar = Progress(10, quiet=False)
    state = SolverState(theta=np.zeros(2), rule_state=[], lr=1.0, ref_step=1.0, iteration=3,
                        history=[{"loss": 0.123456}])
    bar(state)
    bar.bar.refresh()
    bar.close()
    assert "3/10" in screen.getvalue() and "loss=0.123456" in screen.getvalue()
    shown = screen.getvalue()
    quiet = Progress(10, quiet=True)
    quiet(state)
    quiet.bar.refresh()
    quiet.close()
    assert screen.getvalue() == shown  # quiet: not one character more, even on a terminal


def test_model_file_is_json_without_pickle_and_tampering_fails(run_cli, customers, tmp_path):
    model = tmp_path / "m.json"
    run_cli("train", customers, "-t", "churn", "--impute", "mean", "-o", model, "-q")
    raw = model.read_bytes()
    data = json.loads(raw)
    assert data["format"] == "descend-model" and data["format_version"] == 3
    assert data["checksum"].startswith("sha256:")
    assert b"\x80\x04" not in raw and b"\x80\x05" not in raw and b"pickle" not in raw
    tampered = tmp_path / "t.json"
    data["coef"] = data["coef"][:-1]
    data["checksum"] = checksum(data)  # a crafted file carries a matching checksum
    tampered.write_text(json.dumps(data))
    code, _, err = run_cli("predict", tampered, customers)
    assert code == 1 and "damaged" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content,code,message", [
    (None, 1, "no such file"),
    ("", 1, "empty"),
    ("a,b,churn\n", 1, "only a header"),
    ("a,b,churn\n1,2,yes\n3,4,yes\n", 1, "only one value ('yes')"),
    ("a,b,churn\n" + "".join(f"{i},{i},{i}\n" for i in range(1001)), 1, "1001 distinct values"),
    ("a,b,churn\n1,2,yes\n3,abc,no\n5,6,no\n7,8,yes\n", 1, "mixes numbers and text"),
    (b"\x00\x01\x02PK\x03\x04binary", 1, "binary"),
])
def test_bad_data_files(run_cli, tmp_path, content, code, message):
    data = tmp_path / "data.csv"
    if isinstance(content, bytes):
        data.write_bytes(content)
    elif content is not None:
        data.write_text(content)
    model = tmp_path / "out.json"
    before = files_in(tmp_path)
    got, out, err = run_cli("train", data, "--target", "churn", "-o", model)
    assert got == code
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert files_in(tmp_path) == before


def test_unknown_target_suggests_close_names(run_cli, customers, tmp_path):
    code, _, err = run_cli("train", customers, "--target", "chrun", "-o", tmp_path / "m.json")
    assert code == 2 and "did you mean 'churn'" in err
    assert "m.json" not in files_in(tmp_path)


@pytest.mark.parametrize("args,message", [
    (["train", "data.xlsx", "--target", "y"], "unknown file type"),
    (["train", "x.csv"], "Missing option '--target'"),
    (["train", "x.csv", "-t", "y", "--validation", "1.5"], "--validation"),
    (["train", "x.csv", "-t", "y", "--learning-rate", "-1"], "must be positive"),
    (["train", "x.csv", "-t", "y", "--solver", "lbfgs"], "lbfgs"),
    (["train", "x.csv", "-t", "y", "--plot", "loss.jpg"], "--plot"),
    (["frobnicate"], "No such command"),
])
def test_wrong_usage_exits_2_with_one_line(run_cli, args, message):
    code, _, err = run_cli(*args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_predict_with_missing_feature_column(run_cli, customers, tmp_path):
    model = tmp_path / "m.json"
    run_cli("train", customers, "-t", "churn", "--impute", "mean", "-o", model, "-q")
    partial = tmp_path / "partial.csv"
    customers_frame().drop(columns=["income"]).to_csv(partial, index=False)
    code, _, err = run_cli("predict", model, partial, "-o", tmp_path / "p.csv")
    assert code == 1 and "missing feature columns ['income']" in err
    assert not (tmp_path / "p.csv").exists()


def test_demo_runs_in_a_subprocess(tmp_path):
    result = subprocess.run([DESCEND_EXE, "demo", "--out-dir", str(tmp_path / "demo")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "converged" in out and "validation" in out and "ROC AUC" in out
    assert "Backward pass" in out and "dz" in out and "db" in out
    assert (tmp_path / "demo" / "loss.png").read_bytes().startswith(PNG_MAGIC)


def test_text_from_the_data_reaches_the_terminal_escaped(run_cli, tmp_path):
    """A column name that would set the window title, in training's warning
    (its --drop advice spells the name raw) and in errors."""
    from descend.cli.console import message_line, printable
    name = "\x1b]0;t\x07id\x9b"
    data = tmp_path / "d.csv"
    data.write_text(f"a,{name},y\n" + "".join(f"{i % 7},c{i},{'yes' if i % 3 else 'no'}\n"
                                              for i in range(60)))
    code, out, err = run_cli("train", data, "-t", "y", "-q")
    assert code == 0 and f"--drop {printable(name)}" in err
    assert not any(c in out + err for c in "\x1b\x07\x9b")
    assert printable("a\tb\x7f\u202e\u2028") == "a\\x09b\\x7f\\u202e\\u2028"
    line = message_line("x: value '" + "v" * 10_000 + "' is long; fix it")
    assert len(line) < 500 and line.endswith("' is long; fix it") and "characters cut" in line
