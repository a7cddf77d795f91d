"""Every row of docs/bad-input.md: its exit code and its message, one line on
standard error, no traceback, no Python warning, no file left behind or changed.

Every command-line row runs as a real process of the installed ``descend``
console script (the two signal rows: of ``interrupt.py``'s script, which
signals the process from inside its writer). The rows' inputs are set up
first, in this process, and what many rows need (a trained model, a
checkpoint) is made once and copied into each row's folder; then the
processes run a few at a time. Each row is still its own test and its own
failure. Library rows (``where`` is ``library``) are Python calls, made here.
"""
import contextlib
import io
import json
import os
import pickle  # only to craft a hostile file; descend never loads pickle
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pytest

import descend
from conftest import DESCEND_EXE, customers_frame
from descend.io.atomic import TEMPORARY_NAME
from interrupt import SCRIPT as INTERRUPT_SCRIPT
from interrupt import run_interrupted

TABLE = Path(__file__).parent.parent / "docs" / "bad-input.md"
#: Processes run at once: a start costs ~1–2 s of one core, mostly imports.
WORKERS = min(8, (os.cpu_count() or 1) + 1)
#: A row's process is killed after this long (a read that never ends).
TIMEOUT_S = 180
#: Address space of a row's process: memory that grows without bound fails fast.
MEMORY_LIMIT = 4 * 2**30


def table_rows():
    rows = {}
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("id", "---"):
            rows[cells[0]] = {"where": cells[2], "exit": cells[3], "message": cells[4].strip("`")}
    return rows


ROWS = table_rows()
LIBRARY_IDS = [row_id for row_id, row in ROWS.items() if row["where"] == "library"]
CLI_IDS = [row_id for row_id in ROWS if row_id not in LIBRARY_IDS]
GOOD = "a,b,y\n1,2,yes\n3,4,no\n5,1,yes\n2,7,no\n"
GOOD_60 = "a,b,y\n" + "".join(f"{i % 7},{(i * 3) % 5},{'yes' if (i % 7) + (i * 3) % 5 > 5 else 'no'}\n"
                              for i in range(60))


def write(tmp, name, content):
    path = tmp / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def in_process(*args):
    """(exit code, stdout, stderr) of ``descend ARGS`` run in this process: for
    set-ups and references, never for what a row checks."""
    from descend.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            return exc.code, out.getvalue(), err.getvalue()
    raise AssertionError("descend's main() returned instead of exiting")


class Setup:
    """What rows are set up with: ``descend`` run in this process, and folders
    that many rows need, made once and copied into each row's folder (a copy:
    a row may damage its own)."""

    def __init__(self, folder):
        self.folder = folder

    def cli(self, *args):
        code, out, err = in_process(*args)
        assert code == 0, err
        return out, err

    def shared(self, name, make, tmp):
        source = self.folder / name
        if not source.exists():
            building = self.folder / f"{name}.building"
            building.mkdir()
            make(building)
            building.rename(source)  # only a whole set-up is shared
        shutil.copytree(source, tmp, symlinks=True, dirs_exist_ok=True)


def trained_model(tmp, setup):
    """``good.csv`` (60 rows, columns a, b, y) and ``model.json`` trained on it."""
    def make(folder):
        write(folder, "good.csv", GOOD_60)
        setup.cli("train", folder / "good.csv", "-t", "y", "-o", folder / "model.json", "-q")
    setup.shared("trained", make, tmp)
    return tmp / "model.json", tmp / "good.csv"


def checkpointed(tmp, setup):
    """``good.csv`` and the folder ``ck`` with a checkpoint of a run on it."""
    def make(folder):
        write(folder, "good.csv", GOOD_60)
        setup.cli("train", folder / "good.csv", "-t", "y", "--checkpoint", folder / "ck", "-q")
    setup.shared("checkpointed", make, tmp)
    return tmp / "good.csv", tmp / "ck"


def model_json(tmp, setup):
    model, data = trained_model(tmp, setup)
    return model, data, json.loads(model.read_text())


class Hostile:
    """A pickle that would run a command if anything ever unpickled it."""

    def __reduce__(self):
        import os
        return (os.system, ("touch PWNED",))


#: Rows whose situation is a library call: Python API errors, made in this process.
LIBRARY_CALLS = {
    "nan-library": lambda: descend.LogisticRegression().fit([[1.0, np.nan], [2.0, 1.0]], [0, 1]),
    "inf-library": lambda: descend.LogisticRegression().fit([[1.0, np.inf], [2.0, 1.0]], [0, 1]),
    "huge-library": lambda: descend.LogisticRegression().fit(
        [[1e200, 1.0], [-2e200, 2.0], [3e200, 0.0], [1e199, 1.0]], [0, 1, 0, 1]),
    "huge-sample-weight": lambda: descend.LogisticRegression().fit(
        [[1.0, 2.0], [2.0, 1.0], [0.0, 1.0], [1.0, 1.0]], [0, 1, 0, 1],
        sample_weight=[1e308] * 4),
}
LATIN1 = "city,x,y\nM\xfcnchen,1,yes\nM\xf6nchen,2,no\nBerlin,3,yes\nM\xfcnchen,4,no\n".encode(
    "latin-1")
THOUSANDS = 'a,b,y\n"1,200",3,yes\n"2,500",1,no\n"10,300",2,yes\n"1,100",5,no\n'
DECIMAL_COMMA = "h;w;y\n" + "".join(f"{70 + i % 30},{i % 10};1,{60 + i % 40};"
                                    f"{'ja' if i % 3 else 'nein'}\n" for i in range(60))
RAGGED_LATE = "".join(f"{i},{i % 7},{'yes' if i % 3 else 'no'}\n" for i in range(3499))
BOOL_GAP = "a,flag,y\n1,true,yes\n2,,no\n3,false,yes\n4,true,no\n5,false,no\n"
#: Extra options of the training rows that give them.
TRAINING_OPTIONS = {"latin1-with-encoding": ["--encoding", "latin-1"],
                    "thousands-given": ["--thousands", ","],
                    "decimal-given": ["--decimal", ","],
                    "bool-gap-impute": ["--impute", "most_frequent"],
                    "bool-gap-drop-missing": ["--drop-missing"],
                    "codes-read-as-text": ["--impute", "most_frequent"],
                    "ragged-late-target-first": ["--impute", "mean"]}
#: Options refused before any data is read (the data file does not even exist).
EARLY_OPTIONS = {"option-c-zero": ["--C", "0"], "option-c-nan": ["--C", "nan"],
                 "option-tol-nan": ["--tol", "nan"],
                 "option-rate-inf": ["--learning-rate", "inf"],
                 "option-seed-negative": ["--seed", "-1"],
                 "option-features-twice": ["--features", "a,a,b"],
                 "option-plot-path-without-cv": ["--plot-path", "path.png"],
                 "option-cv-checkpoint": ["--C", "cv", "--checkpoint", "ck"],
                 "option-l1-ratio-without-elasticnet": ["--l1-ratio", "0.5"],
                 "option-elasticnet-without-ratio": ["--penalty", "elasticnet"],
                 "option-dask-address": ["--dask", "nowhere"],
                 "option-dask-memory-limit": ["--dask", "local", "--memory-limit", "1GB"]}
#: Rows whose situation is `descend train` on a CSV file with this content.
TRAINING_CSV = {
    "text-in-numeric": "a,b,y\n1,2,yes\n3,abc,no\n5,6,no\n7,8,yes\n",
    "huge-csv": "a,b,y\n1e200,1,yes\n2e200,2,no\n-3e200,3,yes\n1,1,no\n",
    "inf-csv": "a,b,y\n1,inf,yes\n2,3,no\n4,5,yes\n6,1,no\n",
    "wrong-delimiter": "a;b;y\n1,2,yes\n3,4,no\n",
    "ragged-rows": "a,b,y\n1,2,yes\n3,4,no,9\n5,6,yes\n",
    "duplicate-columns": "a,a,y\n1,2,yes\n3,4,no\n",
    "empty-file": "",
    "header-only": "a,b,y\n",
    "binary-file": bytes(range(256)) * 4,
    "target-one-value": "a,b,y\n1,2,yes\n3,4,yes\n",
    "target-identifier": "a,b,y\n" + "".join(f"{i},{i % 7},id{i}\n" for i in range(1001)),
    "target-missing": "a,b,y\n1,2,yes\n3,4,\n5,6,no\n",
    "latin1-text": LATIN1,
    "latin1-with-encoding": LATIN1,
    "decimal-comma": DECIMAL_COMMA,
    "decimal-given": DECIMAL_COMMA,
    "thousands-separators": THOUSANDS,
    "thousands-given": THOUSANDS,
    "ragged-late": "a,b,y\n" + RAGGED_LATE + "1,2\n5,6,no\n",
    "ragged-late-target-first": "y,a,b\n" + "".join(
        f"{line.split(',')[2]},{line.split(',')[0]},{line.split(',')[1]}\n"
        for line in RAGGED_LATE.splitlines()) + "no,2\nno,5,6\n",
    "form-feed-in-field": "a,b,y\n1,x\x0cy,yes\n2,z,no\n3,\x85w,yes\n4,z,no\n",
    "bool-gap-impute": BOOL_GAP,
    "bool-gap-drop-missing": BOOL_GAP,
    "codes-read-as-text": "x,grade,y\n" + "".join(
        f"{i % 5},{'ABC1'[i % 4]},{'yes' if (i % 5 + i % 4) % 2 else 'no'}\n"
        for i in range(60)) + "4,,no\n",
    "id-like-column": "id,x,y\n" + "".join(f"c{i:04d},{i % 5},{'yes' if i % 3 else 'no'}\n"
                                            for i in range(60)),
    "features-missing": "a,b,y\n1,,yes\n3,4,no\n5,6,no\n",
    "no-features": "y\nyes\nno\n",
}


def parquet_file(tmp, name, **columns):
    """``name`` as a Parquet file of columns a (numbers), y (labels) and ``columns``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.table({"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "b": [3.0, 1.0, 2.0, 5.0, 4.0, 6.0],
                      "y": ["yes", "no"] * 3, **columns})
    pq.write_table(table, tmp / name)
    return tmp / name


def pandas_metadata_file(tmp):
    """Parquet whose pandas metadata names ``os.system`` as a column's NumPy type."""
    import pyarrow.parquet as pq
    path = parquet_file(tmp, "meta.parquet")
    table = pq.read_table(path)
    meta = {"index_columns": [], "column_indexes": [], "pandas_version": "2.0",
            "columns": [{"name": name, "field_name": name, "pandas_type": "float64",
                         "numpy_type": "os.system", "metadata": None} for name in ("a", "b")]}
    pq.write_table(table.replace_schema_metadata({b"pandas": json.dumps(meta).encode()}), path)
    return path


def parquet_cases():
    """Rows whose situation is `descend train` on a Parquet file."""
    import datetime
    import decimal

    import pyarrow as pa
    return {
        "parquet-list": lambda tmp: parquet_file(tmp, "d.parquet", l=pa.array([[1, 2]] * 6)),
        "parquet-map": lambda tmp: parquet_file(tmp, "d.parquet", m=pa.array(
            [[("k", 1)]] * 6, type=pa.map_(pa.string(), pa.int64()))),
        "parquet-decimal": lambda tmp: parquet_file(tmp, "d.parquet", d=pa.array(
            [decimal.Decimal("1.5")] * 6, type=pa.decimal128(5, 2))),
        "parquet-timestamp": lambda tmp: parquet_file(tmp, "d.parquet", t=pa.array(
            [datetime.datetime(2020, 1, i + 1) for i in range(6)])),
        "parquet-pandas-metadata": pandas_metadata_file,
    }


PARQUET_CASES = {"parquet-list", "parquet-map", "parquet-decimal", "parquet-timestamp",
                 "parquet-pandas-metadata"}
#: Rows set up one by one in ``case``.
OTHER_CASES = {
    "no-such-file", "folder", "unknown-type", "no-target-column", "bad-option",
    "diverging", "predict-missing-column", "predict-extra-columns", "predict-reordered",
    "evaluate-unknown-label", "evaluate-empty-label", "evaluate-single-class", "model-corrupt",
    "model-truncated", "model-newer", "model-pickle", "model-crafted", "checkpoint-other-data",
    "gzip-truncated", "gzip-corrupt", *EARLY_OPTIONS, *PARQUET_CASES,
}
#: Rows about permissions, run as a user whom permissions bind (see ``Unprivileged``).
PERMISSION_CASES = {"unreadable", "read-only-folder"}


# -- model files, checkpoints, text from the data on the terminal, explain/report --------

#: Control characters a terminal acts on (newline aside): never in what descend prints.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
#: Labels and a column name that would clear the screen, set the window title, …
ESCAPE_YES, ESCAPE_NO, ESCAPE_COLUMN = "\x1b]0;owned\x07yes", "\x1b[2Jno", "\x1b]0;t\x07b\x9b"
#: A column name that is Graphviz label syntax and a category that is mathtext.
ODD_COLUMN, ODD_CATEGORY = "income <50k", "$_$"


def edited_model(tmp, setup, edit, sign=True):
    """The trained model file, its JSON changed by ``edit`` (re-signed when
    ``sign``: crafted, not damaged), as ``bad-model.json``."""
    from descend.model.modelfile import checksum
    model, data, saved = model_json(tmp, setup)
    edit(saved)
    if sign and "checksum" in saved:
        saved["checksum"] = checksum(saved)
    target = tmp / "bad-model.json"
    target.write_text(json.dumps(saved))
    return target, data


def model_bytes_case(tmp, setup, change):
    """``predict`` with the trained model file's bytes changed by ``change(path)``."""
    model, data = trained_model(tmp, setup)
    target = tmp / "bad-model.json"
    change(model, target)
    return ["predict", target, data, "-o", tmp / "p_out.csv"]


def flip_a_bit(model, target):
    raw = bytearray(model.read_bytes())
    raw[raw.index(b'"no"') + 1] ^= 0x20  # "no" → "No": one bit
    target.write_bytes(bytes(raw))


def checkpoint_case(tmp, setup, change):
    """``train --resume`` from a checkpoint whose file ``change(path)`` damaged."""
    data, folder = checkpointed(tmp, setup)
    change(folder / "checkpoint.json")
    return ["train", data, "-t", "y", "--resume", folder, "-q"]


def edit_json(edit):
    def change(path):
        saved = json.loads(path.read_text())
        edit(saved)
        path.write_text(json.dumps(saved))
    return change


def shorten_state(saved):
    state = saved["state"]
    for name in ("theta", "best_theta", "best_grad", "curvature_at"):
        if state[name] is not None:
            state[name]["__array__"] = state[name]["__array__"][:-1]
    for link in state["rule_state"]:
        for value in link.values():
            if isinstance(value, dict):
                value["__array__"] = value["__array__"][:-1]


def replace_with_fifo(path):
    path.unlink()
    os.mkfifo(path)


def escaped_training(tmp, setup, header="a,b,y", yes=ESCAPE_YES, no=ESCAPE_NO):
    """``esc.csv`` of that header and labels, and ``esc.json`` trained on it."""
    def make(folder):
        write(folder, "esc.csv", header + "\n" + "".join(
            f"{i % 7},{(i * 3) % 5},{yes if (i % 7) + (i * 3) % 5 > 5 else no}\n"
            for i in range(60)))
        setup.cli("train", folder / "esc.csv", "-t", "y", "-o", folder / "esc.json", "-q")
    setup.shared(f"escaped-{header}-{yes}-{no}".encode().hex(), make, tmp)
    return tmp / "esc.json", tmp / "esc.csv"


def report_case(tmp, setup, *options):
    model, data = trained_model(tmp, setup)
    return ["report", model, data, "-o", tmp / "r.html", *options]


def odd_names_case(tmp, setup):
    """``report`` on a model whose column and category names are markup."""
    data = write(tmp, "odd.csv", f"{ODD_COLUMN},cat,y\n" + "".join(
        f"{i % 7},{[ODD_CATEGORY, 'a', 'b'][i % 3]},{'yes' if i % 7 + i % 3 > 4 else 'no'}\n"
        for i in range(60)))
    setup.cli("train", data, "-t", "y", "-o", tmp / "odd.json", "-q")
    return ["report", tmp / "odd.json", data, "-o", tmp / "r.html"]


HUGE_COEF = lambda m: m.update(coef=[1e308, 1e308])  # noqa: E731
INLINE_OVERFLOW = ["explain", "--x", "1e3,2", "--y", "0", "--w", "1,1"]
HARDENING_CASES = {
    "model-bit-flip": lambda tmp, setup: model_bytes_case(tmp, setup, flip_a_bit),
    "model-no-checksum": lambda tmp, setup: ["predict", edited_model(
        tmp, setup, lambda m: m.pop("checksum"))[0], tmp / "good.csv"],
    "model-version-1": lambda tmp, setup: ["predict", edited_model(
        tmp, setup, lambda m: (m.pop("checksum"), m.update(format_version=1)))[0],
        tmp / "good.csv", "-o", tmp / "p_out.csv"],
    "model-dev-zero": lambda tmp, setup: model_bytes_case(
        tmp, setup, lambda model, target: target.symlink_to("/dev/zero")),
    "model-fifo": lambda tmp, setup: model_bytes_case(
        tmp, setup, lambda model, target: os.mkfifo(target)),
    "model-too-large": lambda tmp, setup: model_bytes_case(
        tmp, setup, lambda model, target: (target.write_bytes(model.read_bytes()),
                                           os.truncate(target, 300 * 2**20))),
    "model-huge-int": lambda tmp, setup: model_bytes_case(
        tmp, setup, lambda model, target: target.write_text(model.read_text().replace(
            '"max_iter": 1000', '"max_iter": ' + "9" * 5000))),
    "model-huge-coef": lambda tmp, setup: ["evaluate", edited_model(
        tmp, setup, HUGE_COEF)[0], tmp / "good.csv"],
    "model-huge-coef-predict": lambda tmp, setup: ["predict", edited_model(
        tmp, setup, HUGE_COEF)[0], tmp / "good.csv", "-o", tmp / "p_out.csv"],
    "model-huge-coef-report": lambda tmp, setup: ["report", edited_model(
        tmp, setup, HUGE_COEF)[0], tmp / "good.csv", "-o", tmp / "r.html"],
    "predict-overflow": lambda tmp, setup: ["predict", trained_model(tmp, setup)[0], write(
        tmp, "p.csv", "a,b\n1.7e308,1\n1,2\n"), "-o", tmp / "p_out.csv"],
    "checkpoint-fifo": lambda tmp, setup: checkpoint_case(tmp, setup, replace_with_fifo),
    "checkpoint-too-large": lambda tmp, setup: checkpoint_case(
        tmp, setup, lambda path: os.truncate(path, 1100 * 2**20)),
    "checkpoint-deep": lambda tmp, setup: checkpoint_case(
        tmp, setup, lambda path: path.write_text("[" * 100_000 + "]" * 100_000)),
    "checkpoint-meta-not-object": lambda tmp, setup: checkpoint_case(
        tmp, setup, edit_json(lambda c: c.update(meta=[1, 2]))),
    "checkpoint-no-data-sha": lambda tmp, setup: checkpoint_case(
        tmp, setup, edit_json(lambda c: c["meta"].pop("data_sha256"))),
    "checkpoint-unknown-option": lambda tmp, setup: checkpoint_case(
        tmp, setup, edit_json(lambda c: c["meta"]["train_options"].update(bogus=1))),
    "checkpoint-theta-shape": lambda tmp, setup: checkpoint_case(
        tmp, setup, edit_json(shorten_state)),
    "checkpoint-theta-nan": lambda tmp, setup: checkpoint_case(
        tmp, setup, lambda path: path.write_text(re.sub(
            r'("theta": \{"__array__": \[)[^,\]]+', r"\1NaN", path.read_text()))),
    "evaluate-label-escapes": lambda tmp, setup: ["evaluate", *escaped_training(tmp, setup)],
    "explain-name-escapes": lambda tmp, setup: [
        "explain", "--model", escaped_training(tmp, setup, f"a,{ESCAPE_COLUMN},y", "yes", "no")[0],
        "--data", tmp / "esc.csv", "--all"],
    "error-escapes": lambda tmp, setup: ["predict", trained_model(tmp, setup)[0], write(
        tmp, "p.csv", "a,b\n1,2\n\x1b]0;x\x07abc\x9b,3\n"), "-o", tmp / "p_out.csv"],
    "error-long-value": lambda tmp, setup: ["predict", trained_model(tmp, setup)[0], write(
        tmp, "p.csv", "a,b\n1,2\n" + "x" * 1_000_000 + ",3\n"), "-o", tmp / "p_out.csv"],
    "explain-json-overflow": lambda tmp, setup: [*INLINE_OVERFLOW, "--json"],
    "explain-x-nan": lambda tmp, setup: ["explain", "--x", "nan,1", "--y", "0", "--w", "1,1"],
    "explain-alpha-inf": lambda tmp, setup: [*INLINE_OVERFLOW, "--alpha", "inf"],
    "report-alpha-negative": lambda tmp, setup: report_case(tmp, setup, "--alpha", "-1"),
    "report-row-negative": lambda tmp, setup: report_case(tmp, setup, "--row", "-5"),
    "report-row-past-end": lambda tmp, setup: report_case(tmp, setup, "--row", "500"),
    "report-odd-names": odd_names_case,
}
OTHER_CASES |= set(HARDENING_CASES)


def check_escaped(out, *texts):
    """``out`` shows each of ``texts`` escaped and holds no control character."""
    from descend.cli.console import printable
    assert not CONTROL.search(out), out
    for text in texts:
        assert printable(text) in out, (printable(text), out)


def check_explain_json(out, err):
    got = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert got["da"] is None and got["dz_chain"] is None and got["a"] == 1.0
    assert got["non_finite"] == {"da": "Infinity", "dz_chain": "NaN"}
    assert err == ""  # no RuntimeWarning


def check_single_class(out, err):
    """One class: the metrics that need two are shown as nan, without a warning."""
    assert re.search(r"^ROC AUC\s+nan$", out, re.M) and re.search(r"^rows\s+2$", out, re.M), out
    assert err == ""


#: Accepted rows that write nothing: what their output shows.
ACCEPTED = {
    "evaluate-label-escapes": lambda out, err: check_escaped(out, ESCAPE_YES, ESCAPE_NO),
    "explain-name-escapes": lambda out, err: check_escaped(out, ESCAPE_COLUMN),
    "explain-json-overflow": check_explain_json,
    "evaluate-single-class": check_single_class,
}


def check_trained(row_id, model_path):
    """An accepted training file: the model's columns are what the file holds."""
    model = json.loads(Path(model_path).read_text())
    pre = model["preprocessing"]
    expected = {
        "latin1-with-encoding": lambda: pre["categorical"]["categories"] == [
            ["Berlin", "Mönchen", "München"]],
        "thousands-given": lambda: pre["numeric"]["columns"] == ["a", "b"]
        and pre["numeric"]["mean"][0] == np.mean([1200, 2500, 10300, 1100]),
        "decimal-given": lambda: pre["numeric"]["columns"] == ["h", "w"] and np.allclose(
            pre["numeric"]["mean"], [np.mean([70 + i % 30 + (i % 10) / 10 for i in range(60)]),
                                     np.mean([1 + (60 + i % 40) / 100 for i in range(60)])],
            rtol=1e-12),
        "form-feed-in-field": lambda: pre["categorical"]["categories"] == [
            ["x\x0cy", "z", "\x85w"]] and model["summary"]["rows"] == 4,
        "bool-gap-impute": lambda: pre["categorical"]["categories"] == [["False", "True"]]
        and pre["categorical"]["fill"] == ["False"] and model["summary"]["rows"] == 5,
        "bool-gap-drop-missing": lambda: pre["categorical"]["categories"] == [["False", "True"]]
        and model["summary"]["rows"] == 4,
        "codes-read-as-text": lambda: pre["categorical"]["columns"] == ["grade"]
        and pre["categorical"]["categories"] == [["1", "A", "B", "C"]]
        and model["summary"]["rows"] == 61,
        "id-like-column": lambda: pre["categorical"]["columns"] == ["id"]
        and len(pre["categorical"]["categories"][0]) == 60,
        "parquet-pandas-metadata": lambda: pre["numeric"]["columns"] == ["a", "b"]
        and model["summary"]["rows"] == 6,
    }[row_id]
    assert expected(), pre


def data_case(row_id, tmp):
    """The rows whose situation is the data file (or an option) given to ``train``."""
    train = lambda path, *extra: ["train", path, "-t", "y", "-o", tmp / "out.json", *extra]  # noqa: E731
    if row_id in TRAINING_CSV:
        return train(write(tmp, "d.csv", TRAINING_CSV[row_id]), *TRAINING_OPTIONS.get(row_id, []))
    if row_id in PARQUET_CASES:
        return train(parquet_cases()[row_id](tmp))
    if row_id in EARLY_OPTIONS:
        return train(tmp / "not-read.csv", *EARLY_OPTIONS[row_id])
    if row_id in ("gzip-truncated", "gzip-corrupt"):
        import gzip
        raw = bytearray(gzip.compress("a,b,y\n".encode() + "".join(
            f"{i},{i % 7},{'yes' if i % 3 else 'no'}\n" for i in range(20000)).encode()))
        raw = raw[: len(raw) // 2] if row_id == "gzip-truncated" else raw
        if row_id == "gzip-corrupt":
            raw[len(raw) // 2] ^= 0xFF
        return train(write(tmp, "d.csv.gz", bytes(raw)))
    if row_id == "no-such-file":
        return train(tmp / "nothing.csv")
    if row_id == "folder":
        (tmp / "dir.csv").mkdir()
        return train(tmp / "dir.csv")
    if row_id == "unknown-type":
        return train(write(tmp, "d.xlsx", GOOD))
    if row_id == "no-target-column":
        return ["train", write(tmp, "d.csv", GOOD.replace("a,b,y", "a,b,yy")), "-t", "y"]
    if row_id == "bad-option":
        return train(write(tmp, "d.csv", GOOD), "--learning-rate", "-1")
    if row_id == "diverging":
        path = tmp / "d.csv"
        customers_frame().dropna().to_csv(path, index=False)
        return ["train", path, "-t", "churn", "--solver", "gd", "--learning-rate", "1e6",
                "--C", "1e12", "-o", tmp / "out.json", "-q"]
    return None


def case(row_id, tmp, setup):
    """Set up the row's situation in ``tmp``; return the CLI arguments."""
    if row_id in HARDENING_CASES:
        return HARDENING_CASES[row_id](tmp, setup)
    if row_id in WRITING_CASES:
        return WRITING_CASES[row_id](row_id, tmp, setup)
    args = data_case(row_id, tmp)
    if args is not None:
        return args
    model, data = trained_model(tmp, setup)
    if row_id == "predict-missing-column":
        return ["predict", model, write(tmp, "p.csv", "a,y\n1,yes\n"), "-o", tmp / "p_out.csv"]
    if row_id == "predict-extra-columns":
        return ["predict", model, write(tmp, "p.csv", "z,a,b,w\n0,1,2,9\n7,6,4,8\n0,3,1,7\n"),
                "-o", tmp / "p_out.csv"]
    if row_id == "predict-reordered":
        return ["predict", model, write(tmp, "p.csv", "b,a\n2,1\n4,6\n1,3\n"), "-o", tmp / "p_out.csv"]
    if row_id == "evaluate-unknown-label":
        return ["evaluate", model, write(tmp, "e.csv", "a,b,y\n1,2,yes\n3,4,maybe\n")]
    if row_id == "evaluate-empty-label":
        return ["evaluate", model, write(tmp, "e.csv", "a,b,y\n1,2,yes\n3,4,\n5,1,no\n")]
    if row_id == "evaluate-single-class":
        return ["evaluate", model, write(tmp, "e.csv", "a,b,y\n1,2,yes\n3,4,yes\n")]
    if row_id == "checkpoint-other-data":
        _, ck = checkpointed(tmp, setup)
        return ["train", write(tmp, "other.csv", GOOD), "-t", "y", "--resume", ck]
    target = tmp / "bad-model.json"
    if row_id == "model-corrupt":
        target.write_bytes(np.random.default_rng(0).bytes(500))
    elif row_id == "model-truncated":
        raw = model.read_bytes()
        target.write_bytes(raw[: len(raw) // 2])
    elif row_id == "model-newer":
        saved = json.loads(model.read_text())
        saved["format_version"] = 99
        target.write_text(json.dumps(saved))
    elif row_id == "model-pickle":
        target.write_bytes(pickle.dumps(Hostile()))
    elif row_id == "model-crafted":
        saved = json.loads(model.read_text())
        saved["coef"] = [{"__reduce__": "os.system"}, "rm -rf /"]
        target.write_text(json.dumps(saved))
    else:
        raise KeyError(row_id)
    return ["predict", target, data, "-o", tmp / "p_out.csv"]


def outputs_case(row_id, tmp, setup):
    """An output that is an input or another output: the arguments."""
    model, data = trained_model(tmp, setup)
    train = ["train", data, "-t", "y"]
    if row_id in ("output-in-data-folder", "evaluate-plot-in-data-folder",
                  "report-output-matches-glob"):
        (tmp / "d").mkdir()
        (tmp / "d" / "part.csv").write_bytes(data.read_bytes())
    if row_id == "predict-output-hard-link":
        os.link(data, tmp / "link.csv")
    if row_id == "explain-graph-is-data":
        (tmp / "view.svg").symlink_to(data)
    if row_id == "output-is-checkpoint":
        checkpointed(tmp, setup)
    return {
        "output-is-data": [*train, "-o", data],
        "history-is-data": [*train, "--history", data],
        "plot-is-output": [*train, "-o", tmp / "out.png", "--plot", tmp / "out.png"],
        "output-in-data-folder": ["train", tmp / "d", "-t", "y", "-o", tmp / "d" / "m.json"],
        "output-is-checkpoint": [*train, "--resume", tmp / "ck", "-o", tmp / "ck" / "checkpoint.json"],
        "predict-output-is-data": ["predict", model, data, "-o", data],
        "predict-output-hard-link": ["predict", model, data, "-o", tmp / "link.csv"],
        "evaluate-plot-in-data-folder": ["evaluate", model, tmp / "d", "--plot", tmp / "d" / "roc.png"],
        "report-output-matches-glob": ["report", model, f"{tmp}/d/*", "-o", tmp / "d" / "r.html"],
        "explain-graph-is-data": ["explain", "--model", model, "--data", data,
                                  "--graph", tmp / "view.svg"],
    }[row_id]


#: The checkpoint resumed by the rows below: plain gradient descent, 100 iterations.
CHECKPOINTED = ["--solver", "gd", "--learning-rate", "0.1", "--tol", "0", "--C", "1"]
#: Options given with --resume, by row.
RESUME_OPTIONS = {"resume-other-c": ["--C", "0.001"], "resume-other-features": ["--features", "a"],
                  "resume-other-solver": ["--solver", "adam"],
                  "resume-other-positive": ["--positive", "no"],
                  "resume-max-iter": ["--max-iter", "300"],
                  "resume-tol": ["--tol", "1e-6"],
                  "resume-max-iter-below": ["--max-iter", "50"]}


#: The converged checkpoint resumed with a smaller --tol: it stopped at 1e-3.
CONVERGED = [*CHECKPOINTED[:-4], "--C", "1", "--tol", "1e-3"]


def converged_checkpoint(folder, setup):
    write(folder, "good.csv", GOOD_60)
    setup.cli("train", folder / "good.csv", "-t", "y", *CONVERGED, "--checkpoint", folder / "ck",
              "-q")


def resume_case(row_id, tmp, setup):
    """``--resume`` given with options, or a folder without a checkpoint."""
    def make(folder):
        write(folder, "good.csv", GOOD_60)
        setup.cli("train", folder / "good.csv", "-t", "y", *CHECKPOINTED, "--max-iter", "100",
                  "--checkpoint", folder / "ck", "-q")
    data = tmp / "good.csv"
    if row_id in ("resume-no-checkpoint", "resume-missing-folder"):
        write(tmp, "good.csv", GOOD_60)
        if row_id == "resume-no-checkpoint":
            (tmp / "ck").mkdir()  # a run killed before its first checkpoint
        return ["train", data, "-t", "y", *CHECKPOINTED, "--resume", tmp / "ck",
                "-o", tmp / "out.json"]
    if row_id == "resume-tol":
        setup.shared("converged", lambda folder: converged_checkpoint(folder, setup), tmp)
    else:
        setup.shared("resumable", make, tmp)
    return ["train", data, "-t", "y", "--resume", tmp / "ck", "-o", tmp / "out.json",
            *RESUME_OPTIONS[row_id]]


def stale_temporary_case(row_id, tmp, setup):
    """A writer killed by SIGKILL, a temporary file of a live process, and
    files of other names: the next run removes only the first."""
    _, data = trained_model(tmp, setup)
    code, _, _ = run_interrupted("SIGKILL", "model", ["train", data, "-t", "y", "-q",
                                                       "-o", tmp / "out.json"], tmp)
    assert code == -signal.SIGKILL
    stale = [p.name for p in tmp.glob(".out.json.*.tmp.json")]
    assert len(stale) == 1 and not (tmp / "out.json").exists()
    old = time.time() - 60
    os.utime(tmp / stale[0], (old, old))
    for name in (f".out.json.{os.getpid()}.abcd1234.tmp.json", ".out.json.abcd1234.tmp.json",
                 "notes.12.abcd1234.tmp.json"):
        (tmp / name).write_text("not ours to remove")
        os.utime(tmp / name, (old, old))
    return ["train", data, "-t", "y", "-o", tmp / "out.json"]


def dead_pid():
    """The PID of a process that has ended (a run killed with SIGKILL, say)."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


def stale_checkpoint_case(row_id, tmp, setup):
    """A checkpoint folder with the temporary file a run killed while
    checkpointing left: the next run checkpointing there removes it."""
    data, ck = checkpointed(tmp, setup)
    stale = ck / f".checkpoint.json.{dead_pid()}.k1ll3d00.tmp.json"
    stale.write_text('{"state": {"theta"')
    old = time.time() - 60
    os.utime(stale, (old, old))
    return ["train", data, "-t", "y", "--checkpoint", ck, "-q"]


def mode_case(row_id, tmp, setup):
    """A private model file of another owner, replaced by a new model."""
    model, data = trained_model(tmp, setup)
    target = tmp / "out.json"
    target.write_bytes(model.read_bytes())
    os.chmod(target, 0o600)
    if os.geteuid() == 0:
        os.chown(target, 4321, 4322)
    return ["train", data, "-t", "y", "--C", "0.5", "-o", target]


def clash_case(row_id, tmp, setup):
    model, _ = trained_model(tmp, setup)
    if row_id == "parquet-output-clash":
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.table({"a": [1.0, 6.0, 3.0], "predicted": ["x", "y", None],
                                 "b": [2.0, 4.0, 1.0], "probability_yes": [0.25, 0.5, None]}),
                       tmp / "p.parquet")
        return ["predict", model, tmp / "p.parquet", "-o", tmp / "p_out.parquet"]
    return ["predict", model, write(tmp, "p.csv", "a,predicted,b,probability_yes\n"
                                    "1,x,2,0.25\n6,y,4,0.5\n3,,1,\n"), "-o", tmp / "p_out.csv"]


#: Rows run as a process that the signal hits while the model is written.
SIGNAL_ROWS = {"sigterm-while-writing": "SIGTERM", "sigint-while-writing": "SIGINT"}


def signal_case(row_id, tmp, setup):
    _, data = trained_model(tmp, setup)
    return ["train", data, "-t", "y", "-o", tmp / "out.json", "-q"]


#: Rows about the files a command writes, each set up by its function.
WRITING_CASES = {
    **dict.fromkeys(["output-is-data", "history-is-data", "plot-is-output",
                     "output-in-data-folder", "output-is-checkpoint", "predict-output-is-data",
                     "predict-output-hard-link", "evaluate-plot-in-data-folder",
                     "report-output-matches-glob", "explain-graph-is-data"], outputs_case),
    **dict.fromkeys([*RESUME_OPTIONS, "resume-no-checkpoint", "resume-missing-folder"],
                    resume_case),
    **dict.fromkeys(SIGNAL_ROWS, signal_case),
    "stale-temporary": stale_temporary_case,
    "stale-temporary-checkpoint": stale_checkpoint_case,
    "mode-kept": mode_case,
    "predict-column-clash": clash_case,
    "parquet-output-clash": clash_case,
}


def coefficients(path):
    saved = json.loads(Path(path).read_text())
    return saved["coef"] + [saved["intercept"]]


def check_resumed(tmp, args, iterations):
    """The resumed (or started) run's model is the uninterrupted run's, bit for bit."""
    code, _, err = in_process("train", tmp / "good.csv", "-t", "y", *CHECKPOINTED, "--max-iter",
                              iterations, "-o", tmp / "whole.json", "-q")
    assert code == 0, err
    assert coefficients(tmp / "out.json") == coefficients(tmp / "whole.json")
    assert json.loads((tmp / "out.json").read_text())["summary"]["iterations"] == iterations
    from descend.io.checkpoint import load_checkpoint
    state, meta = load_checkpoint(tmp / "ck")
    assert state.iteration == iterations and meta["train_options"]["estimator"]["max_iter"] == \
        iterations


def check_resumed_tol(tmp, args):
    """The converged run goes on to the new tolerance: the coefficients of one
    uninterrupted run with it, bit for bit, and the checkpoint records it."""
    from descend.io.checkpoint import load_checkpoint
    code, _, err = in_process("train", tmp / "good.csv", "-t", "y", *CONVERGED[:-1], "1e-6",
                              "-o", tmp / "whole.json", "-q")
    assert code == 0, err
    assert coefficients(tmp / "out.json") == coefficients(tmp / "whole.json")
    assert json.loads((tmp / "out.json").read_text())["params"]["tol"] == 1e-6
    _, meta = load_checkpoint(tmp / "ck")
    assert meta["train_options"]["estimator"]["tol"] == 1e-6


def check_stale_removed(tmp, args):
    names = sorted(p.name for p in tmp.iterdir() if ".tmp." in p.name)
    assert names == sorted([f".out.json.{os.getpid()}.abcd1234.tmp.json",
                            ".out.json.abcd1234.tmp.json", "notes.12.abcd1234.tmp.json"]), names
    assert json.loads((tmp / "out.json").read_text())["classes"] == ["no", "yes"]


def check_stale_checkpoint_removed(tmp, args):
    from descend.io.checkpoint import load_checkpoint
    assert sorted(p.name for p in (tmp / "ck").iterdir()) == ["checkpoint.json"]
    state, _ = load_checkpoint(tmp / "ck")
    assert state.iteration > 0


def check_mode_kept(tmp, args):
    info = (tmp / "out.json").stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (4321, 4322)
    assert json.loads((tmp / "out.json").read_text())["params"]["C"] == 0.5


def check_clash(tmp, args):
    import pandas as pd

    from descend.model.modelfile import load_model
    got = pd.read_csv(tmp / "p_out.csv", keep_default_na=False, dtype=str)
    assert list(got.columns) == ["a", "predicted", "b", "probability_yes", "predicted_1",
                                 "probability_yes_1"]
    assert list(got.predicted) == ["x", "y", ""] and list(got.probability_yes) == ["0.25", "0.5", ""]
    want = load_model(tmp / "model.json").predict_frame(pd.read_csv(tmp / "p.csv")[["a", "b"]])
    assert list(got.predicted_1) == list(want.predicted)
    np.testing.assert_allclose(got.probability_yes_1.astype(float), want.probability_yes, rtol=1e-12)
    # descend reads its own output again
    code, _, err = in_process("predict", tmp / "model.json", tmp / "p_out.csv", "-o",
                              tmp / "again.csv")
    assert code == 0 and "'predicted_2', 'probability_yes_2'" in err
    assert list(pd.read_csv(tmp / "again.csv").columns)[-2:] == ["predicted_2", "probability_yes_2"]


def check_parquet_clash(tmp, args):
    import pyarrow.parquet as pq

    from descend.model.modelfile import load_model
    got = pq.read_table(tmp / "p_out.parquet")
    assert got.column_names == ["a", "predicted", "b", "probability_yes", "predicted_1",
                                "probability_yes_1"]
    assert got["predicted"].to_pylist() == ["x", "y", None]
    assert got["probability_yes"].to_pylist() == [0.25, 0.5, None]
    want = load_model(tmp / "model.json").predict_frame(got.select(["a", "b"]).to_pandas())
    assert got["predicted_1"].to_pylist() == list(want.predicted)
    np.testing.assert_allclose(got["probability_yes_1"].to_numpy(), want.probability_yes,
                               rtol=1e-12)


def check_odd_names_report(tmp, args):
    """The page shows the names as written, and its pictures were drawn."""
    import html
    page = (tmp / "r.html").read_text()
    assert html.escape(ODD_COLUMN) in page and f"<td>{ODD_CATEGORY}</td>" in page
    assert page.count("<svg") >= 4  # loss, confusion, ROC, coefficients (and the graph)


#: Checks of accepted rows that write files: what the command wrote, beyond its exit code.
ACCEPTED_CHECKS = {
    "resume-max-iter": lambda tmp, args: check_resumed(tmp, args, 300),
    "resume-tol": check_resumed_tol,
    "resume-no-checkpoint": lambda tmp, args: check_resumed(tmp, args, 1000),
    "resume-missing-folder": lambda tmp, args: check_resumed(tmp, args, 1000),
    "stale-temporary": check_stale_removed,
    "stale-temporary-checkpoint": check_stale_checkpoint_removed,
    "mode-kept": check_mode_kept,
    "predict-column-clash": check_clash,
    "parquet-output-clash": check_parquet_clash,
    "report-odd-names": check_odd_names_report,
}


def check_predictions(tmp, model, data, output):
    """The rows of ``data`` with the label and probability that the estimator,
    fitted on the standardised training file, gives them by column name."""
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    from descend.model.modelfile import load_model
    train = pd.read_csv(tmp / "good.csv")
    scaler = StandardScaler().fit(train[["a", "b"]])
    clf = descend.LogisticRegression().fit(scaler.transform(train[["a", "b"]]), train.y == "yes")
    new = pd.read_csv(data)
    got = pd.read_csv(output)
    assert list(got.columns) == [*new.columns, "predicted", "probability_yes"]
    pd.testing.assert_frame_equal(got[new.columns], new)
    want = clf.predict_proba(scaler.transform(new[["a", "b"]]))[:, 1]
    np.testing.assert_allclose(got.probability_yes, want, rtol=1e-6)
    assert list(got.predicted) == ["yes" if p > 0.5 else "no" for p in want]
    assert {"yes", "no"} <= set(got.predicted)
    # The model file, loaded, gives the same table.
    again = load_model(model).predict_frame(new)
    assert list(again.predicted) == list(got.predicted)
    np.testing.assert_allclose(again.probability_yes, got.probability_yes, rtol=1e-12)


def contents(folder):
    """Every file under ``folder`` (hidden ones too), its mode and its bytes
    (large files: size, time and inode; pipes and devices: nothing, never read)."""
    def content(path):
        if not path.is_file():
            return None
        info = path.stat()
        if info.st_size > 1 << 20 or not os.access(path, os.R_OK):
            return info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino
        return info.st_mode, path.read_bytes()
    return {str(p.relative_to(folder)): content(p) for p in sorted(folder.rglob("*"))}


# -- permissions: as a user whom they bind -----------------------------------------------

#: Runs the rest of the command line as nobody, with no supplementary group.
SETPRIV = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


class Unprivileged:
    """Where and as whom the permission rows run. Root may read and write
    everything, so when the tests run as root these rows run as ``nobody``
    (uid 65534) in folders under the system's temporary folder (the tests'
    own are private to root); otherwise as this user. ``skip`` says why it
    cannot be arranged, once the probe (``descend`` run as that user) ended."""

    UID = 65534

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="descend-permissions-"))
        os.chmod(self.base, 0o755)
        self.as_root = os.geteuid() == 0
        self.skip, self.probe = None, None
        self.env, self.prefix, self.popen_identity = None, [], {}
        if not self.as_root:
            return
        # Numba caches compiled code beside the sources, which nobody may not
        # write: it needs a home of its own to cache in.
        home = self.base / "home"
        home.mkdir()
        os.chown(home, self.UID, self.UID)
        self.env = {**os.environ, "HOME": str(home)}
        self.probe = self.start_probe(home)

    def start_probe(self, home):
        """``descend`` as the user, started by Popen's own switch of user or,
        where that cannot exec the interpreter (it lies in a folder only root
        may enter, yet setpriv's process may), by setpriv. It warms the
        user's cache while the other rows are set up."""
        reasons = []
        for prefix, identity in (([], {"user": self.UID, "group": self.UID, "extra_groups": []}),
                                 (SETPRIV, {})):
            try:
                probe = subprocess.Popen(
                    [*prefix, DESCEND_EXE, "train", "nothing.csv", "-t", "y"], cwd=home,
                    env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True, **identity)
            except OSError as exc:
                reasons.append(f"{' '.join(prefix) or 'Popen(user=...)'}: {exc}")
                continue
            self.prefix, self.popen_identity = prefix, identity
            return probe
        self.skip = f"cannot start a process as uid {self.UID}: {'; '.join(reasons)}"
        return None

    def identity(self):
        """The arguments of Popen that make the process unprivileged."""
        return self.popen_identity

    def ready(self):
        """Wait for the probe; say why the rows cannot run (None: they can)."""
        if self.probe is not None:
            _, err = self.probe.communicate(timeout=TIMEOUT_S)
            if "no such file" not in err:
                self.skip = f"descend does not run as uid {self.UID} here: {err.strip()[:500]}"
            self.probe = None
        return self.skip

    def folder(self, name):
        path = self.base / name
        path.mkdir()
        os.chmod(path, 0o755)
        return path

    def close(self):
        for path in [self.base, *self.base.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, 0o755)
        shutil.rmtree(self.base, ignore_errors=True)


def permission_case(row_id, tmp, unprivileged):
    """A data file the user may not read; an output in a folder the user may
    read but not write. ``pytest.skip`` when permissions do not bind here."""
    data = write(tmp, "d.csv", GOOD)
    if row_id == "unreadable":
        os.chmod(data, 0o000 if not unprivileged.as_root else 0o600)
        if unprivileged.as_root:
            os.chown(tmp, unprivileged.UID, unprivileged.UID)  # outputs may be written
        elif os.access(data, os.R_OK):
            pytest.skip("this user reads files whatever their mode (CAP_DAC_OVERRIDE?)")
        return ["train", data, "-t", "y", "-o", tmp / "out.json"]
    if not unprivileged.as_root:
        os.chmod(tmp, 0o555)
        if os.access(tmp, os.W_OK):
            pytest.skip("this user writes folders whatever their mode (CAP_DAC_OVERRIDE?)")
    return ["train", "d.csv", "-t", "y", "-o", "m.json"]


# -- running the rows ---------------------------------------------------------------------

def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class Row:
    """A command-line row: its folder, its command, and what running it gave."""

    def __init__(self, row_id):
        self.id, self.folder, self.args, self.command = row_id, None, None, None
        self.skip = self.broken = None
        self.env, self.identity = None, {}
        self.before, self.code, self.out, self.err, self.timed_out = None, None, b"", b"", False

    def start(self, logs):
        self.files = [open(logs / f"{self.id}.{name}", "w+b") for name in ("out", "err")]
        self.process = subprocess.Popen(
            self.command, cwd=self.folder, env=self.env, stdin=subprocess.DEVNULL,
            stdout=self.files[0], stderr=self.files[1], preexec_fn=limit_memory, **self.identity)
        self.deadline = time.monotonic() + TIMEOUT_S

    def finished(self):
        """Whether the process has ended (killed when past its time); then
        keep its exit code and output."""
        if self.process.poll() is None:
            if time.monotonic() < self.deadline:
                return False
            self.process.kill()
            self.process.wait()
            self.timed_out = True
        self.code = self.process.returncode
        for handle, name in zip(self.files, ("out", "err")):
            handle.seek(0)
            setattr(self, name, handle.read())
            handle.close()
        return True


def prepare_row(row_id, setup, factory, unprivileged):
    """The row's folder, inputs and command (or why it cannot run)."""
    row = Row(row_id)
    try:
        if row_id in PERMISSION_CASES:
            row.folder = unprivileged.folder(row_id)
            row.env, row.identity = unprivileged.env, unprivileged.identity()
            args = permission_case(row_id, row.folder, unprivileged)
        else:
            row.folder = factory.mktemp(row_id)
            args = case(row_id, row.folder, setup)
        row.args = args
        strings = list(map(str, args))
        prefix = unprivileged.prefix if row_id in PERMISSION_CASES else []
        row.command = ([sys.executable, "-c", INTERRUPT_SCRIPT, SIGNAL_ROWS[row_id], "model",
                        *strings] if row_id in SIGNAL_ROWS else [*prefix, DESCEND_EXE, *strings])
        row.before = contents(row.folder)
    except pytest.skip.Exception as exc:
        row.skip = str(exc)
    except Exception:
        row.broken = traceback.format_exc()
    return row


def run_all(rows, logs, workers):
    """Run the rows' processes, ``workers`` at a time, until every one ended."""
    waiting, running = list(rows), []
    while waiting or running:
        while waiting and len(running) < workers:
            row = waiting.pop(0)
            try:
                row.start(logs)
                running.append(row)
            except OSError:
                row.broken = traceback.format_exc()
        time.sleep(0.02)
        running = [row for row in running if not row.finished()]


@pytest.fixture(scope="session")
def ran_rows(request, tmp_path_factory):
    """Every selected command-line row, set up and run."""
    wanted = [item.callspec.params["row_id"] for item in request.session.items
              if getattr(item, "originalname", None) == "test_bad_input_row"
              and item.module.__name__ == __name__] or CLI_IDS
    setup = Setup(tmp_path_factory.mktemp("shared"))
    unprivileged = Unprivileged() if PERMISSION_CASES & set(wanted) else None
    try:
        rows = {row_id: prepare_row(row_id, setup, tmp_path_factory, unprivileged)
                for row_id in wanted}
        if unprivileged and unprivileged.ready():
            for row_id in PERMISSION_CASES & set(rows):
                rows[row_id].skip = rows[row_id].skip or unprivileged.skip
        run_all([row for row in rows.values() if row.command and not row.skip],
                tmp_path_factory.mktemp("logs"), WORKERS)
        yield rows
    finally:
        if unprivileged:
            unprivileged.close()


# -- the tests ----------------------------------------------------------------------------

def test_every_row_of_the_table_has_a_case_and_every_case_a_row():
    assert len(ROWS) >= 30
    cases = [*LIBRARY_CALLS, *TRAINING_CSV, *OTHER_CASES, *WRITING_CASES, *PERMISSION_CASES]
    assert len(cases) == len(set(cases))
    assert set(cases) == set(ROWS)
    assert set(LIBRARY_IDS) == set(LIBRARY_CALLS)


@pytest.mark.parametrize("row_id", LIBRARY_IDS)
def test_library_row(row_id):
    """A Python API error: a call in this process, there is no command to run."""
    with pytest.raises(ValueError, match=re.escape(ROWS[row_id]["message"])):
        LIBRARY_CALLS[row_id]()


def check_accepted(row, out, err):
    """An accepted row: what it wrote or printed, and no temporary file left."""
    args, tmp = row.args, row.folder
    if row.id != "stale-temporary":
        left = [str(p) for p in tmp.rglob("*") if TEMPORARY_NAME.match(p.name)]
        assert not left, left
    if row.id in ACCEPTED_CHECKS:
        ACCEPTED_CHECKS[row.id](tmp, args)
    elif row.id in ACCEPTED:
        ACCEPTED[row.id](out, err)
    elif args[0] == "train":
        check_trained(row.id, args[args.index("-o") + 1])
    else:
        check_predictions(tmp, model=args[1], data=args[2], output=args[4])


@pytest.mark.parametrize("row_id", CLI_IDS)
def test_bad_input_row(row_id, ran_rows):
    """The row's command, run as a process: exit code, message, one line,
    no traceback or warning, nothing left behind or changed."""
    row, expected = ran_rows[row_id], ROWS[row_id]
    if row.skip:
        pytest.skip(row.skip)
    assert row.broken is None, f"the row could not be set up or started:\n{row.broken}"
    assert not row.timed_out, f"ran past {TIMEOUT_S} s: {row.command}"
    code, out, err = row.code, row.out.decode(), row.err.decode()
    assert code == int(expected["exit"]), err[:2000]
    assert "Traceback" not in err and "Warning:" not in err, err[:2000]  # nor Python's warnings
    if code == 0:
        assert expected["message"] in err, err[:2000]  # an accepted row's note, if any
        check_accepted(row, out, err)
        return
    assert expected["message"] in err, err[:2000]
    assert err.startswith("descend: error: ") and err.count("\n") == 1 and err.endswith("\n"), \
        err[:2000]
    assert not CONTROL.search(err) and len(err) < 2100, err[:2000]
    assert ".tmp." not in err  # our temporary files are never what an error names
    assert contents(row.folder) == row.before  # nothing new, nothing changed, inside folders too
    assert not (row.folder / "PWNED").exists()


@pytest.mark.xfail(strict=True, reason=(
    "optim/solver.py: a converged iteration returns before its step, so the state "
    "keeps the θ it evaluated; resumed with a smaller --tol, the first iteration "
    "evaluates that θ again and counts it: the same coefficients, one iteration more, "
    "and the history holds that loss twice"))
def test_resuming_a_converged_run_with_a_smaller_tol_counts_each_iteration_once(tmp_path):
    converged_checkpoint(tmp_path, Setup(tmp_path))
    for args in (["--resume", tmp_path / "ck", "-o", tmp_path / "resumed.json"],
                 [*CONVERGED, "-o", tmp_path / "whole.json"]):
        code, _, err = in_process("train", tmp_path / "good.csv", "-t", "y", *args, "--tol",
                                  "1e-6", "-q")
        assert code == 0, err
    resumed, whole = (json.loads((tmp_path / name).read_text())
                      for name in ("resumed.json", "whole.json"))
    assert resumed["coef"] == whole["coef"]  # holds today
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in whole["history"]]
    assert resumed["summary"]["iterations"] == whole["summary"]["iterations"]
