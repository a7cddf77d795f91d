"""Every row of docs/bad-input.md: its exit code and its message."""
import json
import os
import pickle  # only to craft a hostile file; descend never loads pickle
import re
import signal
import stat
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import descend
from conftest import customers_frame
from interrupt import run_interrupted

TABLE = Path(__file__).parent.parent / "docs" / "bad-input.md"


def table_rows():
    rows = {}
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("id", "---"):
            rows[cells[0]] = {"where": cells[2], "exit": cells[3], "message": cells[4].strip("`")}
    return rows


ROWS = table_rows()
GOOD = "a,b,y\n1,2,yes\n3,4,no\n5,1,yes\n2,7,no\n"


def write(tmp, name, content):
    path = tmp / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def trained_model(tmp, run_cli):
    data = write(tmp, "good.csv", "a,b,y\n" + "".join(
        f"{i % 7},{(i * 3) % 5},{'yes' if (i % 7) + (i * 3) % 5 > 5 else 'no'}\n" for i in range(60)))
    model = tmp / "model.json"
    assert run_cli("train", data, "-t", "y", "-o", model, "-q")[0] == 0
    return model, data


def model_json(tmp, run_cli):
    model, data = trained_model(tmp, run_cli)
    return model, data, json.loads(model.read_text())


class Hostile:
    """A pickle that would run a command if anything ever unpickled it."""

    def __reduce__(self):
        import os
        return (os.system, ("touch PWNED",))


#: Rows whose situation is a library call.
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
#: Extra options of the training rows that give them.
TRAINING_OPTIONS = {"latin1-with-encoding": ["--encoding", "latin-1"],
                    "thousands-given": ["--thousands", ","],
                    "bool-gap-impute": ["--impute", "most_frequent"]}
#: Options refused before any data is read (the data file does not even exist).
EARLY_OPTIONS = {"option-c-zero": ["--C", "0"], "option-c-nan": ["--C", "nan"],
                 "option-tol-nan": ["--tol", "nan"],
                 "option-rate-inf": ["--learning-rate", "inf"],
                 "option-seed-negative": ["--seed", "-1"],
                 "option-features-twice": ["--features", "a,a,b"]}
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
    "decimal-comma": "h;w;y\n" + "".join(f"{70 + i % 30},{i % 10};1,{60 + i % 40};"
                                         f"{'ja' if i % 3 else 'nein'}\n" for i in range(60)),
    "thousands-separators": THOUSANDS,
    "ragged-late": "a,b,y\n" + "".join(f"{i},{i % 7},{'yes' if i % 3 else 'no'}\n"
                                       for i in range(3499)) + "1,2\n5,6,no\n",
    "form-feed-in-field": "a,b,y\n1,x\x0cy,yes\n2,z,no\n3,\x85w,yes\n4,z,no\n",
    "bool-gap-impute": "a,flag,y\n1,true,yes\n2,,no\n3,false,yes\n4,true,no\n5,false,no\n",
    "features-missing": "a,b,y\n1,,yes\n3,4,no\n5,6,no\n",
    "no-features": "y\nyes\nno\n",
}
#: Rows set up one by one in ``case``.
OTHER_CASES = {
    "no-such-file", "folder", "unreadable", "unknown-type", "no-target-column", "bad-option",
    "diverging", "predict-missing-column", "predict-extra-columns", "predict-reordered",
    "evaluate-unknown-label", "model-corrupt", "model-truncated", "model-newer",
    "model-pickle", "model-crafted", "checkpoint-other-data", "latin1-with-encoding",
    "thousands-given", "gzip-truncated", "gzip-corrupt", *EARLY_OPTIONS,
}


# -- model files, checkpoints, text from the data on the terminal, explain/report --------

#: Control characters a terminal acts on (newline aside): never in what descend prints.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
#: Labels and a column name that would clear the screen, set the window title, …
ESCAPE_YES, ESCAPE_NO, ESCAPE_COLUMN = "\x1b]0;owned\x07yes", "\x1b[2Jno", "\x1b]0;t\x07b\x9b"


def good_data(tmp):
    return write(tmp, "good.csv", "a,b,y\n" + "".join(
        f"{i % 7},{(i * 3) % 5},{'yes' if (i % 7) + (i * 3) % 5 > 5 else 'no'}\n"
        for i in range(60)))


def edited_model(tmp, run_cli, edit, sign=True):
    """The trained model file, its JSON changed by ``edit`` (re-signed when
    ``sign``: crafted, not damaged), as ``bad-model.json``."""
    from descend.model.modelfile import checksum
    model, data, saved = model_json(tmp, run_cli)
    edit(saved)
    if sign and "checksum" in saved:
        saved["checksum"] = checksum(saved)
    target = tmp / "bad-model.json"
    target.write_text(json.dumps(saved))
    return target, data


def model_bytes_case(tmp, run_cli, change):
    """``predict`` with the trained model file's bytes changed by ``change(path)``."""
    model, data = trained_model(tmp, run_cli)
    target = tmp / "bad-model.json"
    change(model, target)
    return ["predict", target, data, "-o", tmp / "p_out.csv"]


def flip_a_bit(model, target):
    raw = bytearray(model.read_bytes())
    raw[raw.index(b'"no"') + 1] ^= 0x20  # "no" → "No": one bit
    target.write_bytes(bytes(raw))


def checkpoint_case(tmp, run_cli, change):
    """``train --resume`` from a checkpoint whose file ``change(path)`` damaged."""
    data = good_data(tmp)
    folder = tmp / "ck"
    assert run_cli("train", data, "-t", "y", "--checkpoint", folder, "-q")[0] == 0
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


def escaped_training(tmp, run_cli, header="a,b,y", yes=ESCAPE_YES, no=ESCAPE_NO):
    data = write(tmp, "esc.csv", header + "\n" + "".join(
        f"{i % 7},{(i * 3) % 5},{yes if (i % 7) + (i * 3) % 5 > 5 else no}\n" for i in range(60)))
    model = tmp / "esc.json"
    assert run_cli("train", data, "-t", "y", "-o", model, "-q")[0] == 0
    return model, data


def report_case(tmp, run_cli, *options):
    model, data = trained_model(tmp, run_cli)
    return ["report", model, data, "-o", tmp / "r.html", *options]


INLINE_OVERFLOW = ["explain", "--x", "1e3,2", "--y", "0", "--w", "1,1"]
HARDENING_CASES = {
    "model-bit-flip": lambda tmp, run_cli: model_bytes_case(tmp, run_cli, flip_a_bit),
    "model-no-checksum": lambda tmp, run_cli: ["predict", edited_model(
        tmp, run_cli, lambda m: m.pop("checksum"))[0], tmp / "good.csv"],
    "model-version-1": lambda tmp, run_cli: ["predict", edited_model(
        tmp, run_cli, lambda m: (m.pop("checksum"), m.update(format_version=1)))[0],
        tmp / "good.csv", "-o", tmp / "p_out.csv"],
    "model-dev-zero": lambda tmp, run_cli: model_bytes_case(
        tmp, run_cli, lambda model, target: target.symlink_to("/dev/zero")),
    "model-fifo": lambda tmp, run_cli: model_bytes_case(
        tmp, run_cli, lambda model, target: os.mkfifo(target)),
    "model-too-large": lambda tmp, run_cli: model_bytes_case(
        tmp, run_cli, lambda model, target: (target.write_bytes(model.read_bytes()),
                                             os.truncate(target, 300 * 2**20))),
    "model-huge-int": lambda tmp, run_cli: model_bytes_case(
        tmp, run_cli, lambda model, target: target.write_text(model.read_text().replace(
            '"max_iter": 1000', '"max_iter": ' + "9" * 5000))),
    "model-huge-coef": lambda tmp, run_cli: ["evaluate", edited_model(
        tmp, run_cli, lambda m: m.update(coef=[1e308, 1e308]))[0], tmp / "good.csv"],
    "predict-overflow": lambda tmp, run_cli: ["predict", trained_model(tmp, run_cli)[0], write(
        tmp, "p.csv", "a,b\n1.7e308,1\n1,2\n"), "-o", tmp / "p_out.csv"],
    "checkpoint-fifo": lambda tmp, run_cli: checkpoint_case(tmp, run_cli, replace_with_fifo),
    "checkpoint-too-large": lambda tmp, run_cli: checkpoint_case(
        tmp, run_cli, lambda path: os.truncate(path, 1100 * 2**20)),
    "checkpoint-deep": lambda tmp, run_cli: checkpoint_case(
        tmp, run_cli, lambda path: path.write_text("[" * 100_000 + "]" * 100_000)),
    "checkpoint-meta-not-object": lambda tmp, run_cli: checkpoint_case(
        tmp, run_cli, edit_json(lambda c: c.update(meta=[1, 2]))),
    "checkpoint-no-data-sha": lambda tmp, run_cli: checkpoint_case(
        tmp, run_cli, edit_json(lambda c: c["meta"].pop("data_sha256"))),
    "checkpoint-unknown-option": lambda tmp, run_cli: checkpoint_case(
        tmp, run_cli, edit_json(lambda c: c["meta"]["train_options"].update(bogus=1))),
    "checkpoint-theta-shape": lambda tmp, run_cli: checkpoint_case(
        tmp, run_cli, edit_json(shorten_state)),
    "checkpoint-theta-nan": lambda tmp, run_cli: checkpoint_case(
        tmp, run_cli, lambda path: path.write_text(re.sub(
            r'("theta": \{"__array__": \[)[^,\]]+', r"\1NaN", path.read_text()))),
    "evaluate-label-escapes": lambda tmp, run_cli: ["evaluate", *escaped_training(tmp, run_cli)],
    "explain-name-escapes": lambda tmp, run_cli: [
        "explain", "--model", *escaped_training(tmp, run_cli, f"a,{ESCAPE_COLUMN},y", "yes", "no")
        [:1], "--data", tmp / "esc.csv", "--all"],
    "error-escapes": lambda tmp, run_cli: ["predict", trained_model(tmp, run_cli)[0], write(
        tmp, "p.csv", "a,b\n1,2\n\x1b]0;x\x07abc\x9b,3\n"), "-o", tmp / "p_out.csv"],
    "error-long-value": lambda tmp, run_cli: ["predict", trained_model(tmp, run_cli)[0], write(
        tmp, "p.csv", "a,b\n1,2\n" + "x" * 1_000_000 + ",3\n"), "-o", tmp / "p_out.csv"],
    "explain-json-overflow": lambda tmp, run_cli: [*INLINE_OVERFLOW, "--json"],
    "explain-x-nan": lambda tmp, run_cli: ["explain", "--x", "nan,1", "--y", "0", "--w", "1,1"],
    "explain-alpha-inf": lambda tmp, run_cli: [*INLINE_OVERFLOW, "--alpha", "inf"],
    "report-alpha-negative": lambda tmp, run_cli: report_case(tmp, run_cli, "--alpha", "-1"),
    "report-row-negative": lambda tmp, run_cli: report_case(tmp, run_cli, "--row", "-5"),
    "report-row-past-end": lambda tmp, run_cli: report_case(tmp, run_cli, "--row", "500"),
}
OTHER_CASES |= set(HARDENING_CASES)
#: Rows run as a real process: a read that never ends or blocks must not take
#: the test run with it, and Python's warnings must reach standard error.
SUBPROCESS_ROWS = {"model-dev-zero", "model-fifo", "checkpoint-fifo", "explain-json-overflow"}


def run_process(*args):
    """``python -m descend ARGS`` with a memory limit and a timeout."""
    import resource
    import subprocess

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
    done = subprocess.run([sys.executable, "-m", "descend", *map(str, args)],
                          capture_output=True, text=True, timeout=60, preexec_fn=limit)
    return done.returncode, done.stdout, done.stderr


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


#: Accepted rows that are neither training nor predictions: what their output shows.
ACCEPTED = {
    "evaluate-label-escapes": lambda out, err: check_escaped(out, ESCAPE_YES, ESCAPE_NO),
    "explain-name-escapes": lambda out, err: check_escaped(out, ESCAPE_COLUMN),
    "explain-json-overflow": check_explain_json,
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
        "form-feed-in-field": lambda: pre["categorical"]["categories"] == [
            ["x\x0cy", "z", "\x85w"]] and model["summary"]["rows"] == 4,
        "bool-gap-impute": lambda: pre["categorical"]["categories"] == [["False", "True"]]
        and pre["categorical"]["fill"] == ["False"] and model["summary"]["rows"] == 5,
    }[row_id]
    assert expected(), pre


def case(row_id, tmp, run_cli, monkeypatch):
    """Set up the row's situation; return the CLI arguments (or a callable)."""
    train = lambda path, *extra: ["train", path, "-t", "y", "-o", tmp / "out.json", *extra]  # noqa: E731
    if row_id in LIBRARY_CALLS:
        return LIBRARY_CALLS[row_id]
    if row_id in HARDENING_CASES:
        return HARDENING_CASES[row_id](tmp, run_cli)
    if row_id in WRITING_CASES:
        return WRITING_CASES[row_id](row_id, tmp, run_cli)
    if row_id in TRAINING_CSV:
        return train(write(tmp, "d.csv", TRAINING_CSV[row_id]), *TRAINING_OPTIONS.get(row_id, []))
    if row_id in EARLY_OPTIONS:
        return train(tmp / "not-read.csv", *EARLY_OPTIONS[row_id])
    if row_id == "latin1-with-encoding":
        return train(write(tmp, "d.csv", LATIN1), *TRAINING_OPTIONS[row_id])
    if row_id == "thousands-given":
        return train(write(tmp, "d.csv", THOUSANDS), *TRAINING_OPTIONS[row_id])
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
    if row_id == "unreadable":
        path = write(tmp, "d.csv", GOOD)
        real_open = open

        def deny(file, *args, **kwargs):
            if Path(str(file)) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)
        monkeypatch.setattr("builtins.open", deny)  # root reads everything: simulate
        return train(path)
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
    model, data = trained_model(tmp, run_cli)
    if row_id == "predict-missing-column":
        return ["predict", model, write(tmp, "p.csv", "a,y\n1,yes\n"), "-o", tmp / "p_out.csv"]
    if row_id == "predict-extra-columns":
        return ["predict", model, write(tmp, "p.csv", "z,a,b,w\n0,1,2,9\n7,6,4,8\n0,3,1,7\n"),
                "-o", tmp / "p_out.csv"]
    if row_id == "predict-reordered":
        return ["predict", model, write(tmp, "p.csv", "b,a\n2,1\n4,6\n1,3\n"), "-o", tmp / "p_out.csv"]
    if row_id == "evaluate-unknown-label":
        return ["evaluate", model, write(tmp, "e.csv", "a,b,y\n1,2,yes\n3,4,maybe\n")]
    target = tmp / "bad-model.json"
    if row_id == "model-corrupt":
        target.write_bytes(np.random.default_rng(0).bytes(500))
    elif row_id == "model-truncated":
        raw = model.read_bytes()
        target.write_bytes(raw[: len(raw) // 2])
    elif row_id == "model-newer":
        data_ = json.loads(model.read_text())
        data_["format_version"] = 99
        target.write_text(json.dumps(data_))
    elif row_id == "model-pickle":
        target.write_bytes(pickle.dumps(Hostile()))
    elif row_id == "model-crafted":
        data_ = json.loads(model.read_text())
        data_["coef"] = [{"__reduce__": "os.system"}, "rm -rf /"]
        target.write_text(json.dumps(data_))
    elif row_id == "checkpoint-other-data":
        ck = tmp / "ck"
        assert run_cli("train", data, "-t", "y", "--checkpoint", ck, "-q")[0] == 0
        return ["train", write(tmp, "other.csv", GOOD), "-t", "y", "--resume", ck]
    else:
        raise KeyError(row_id)
    return ["predict", target, data, "-o", tmp / "p_out.csv"]


def outputs_case(row_id, tmp, run_cli):
    """An output that is an input or another output: the arguments."""
    model, data = trained_model(tmp, run_cli)
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
        assert run_cli(*train, "--checkpoint", tmp / "ck", "-q")[0] == 0
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
                  "resume-max-iter-below": ["--max-iter", "50"]}


def resume_case(row_id, tmp, run_cli):
    """``--resume`` given with options, or a folder without a checkpoint."""
    _, data = trained_model(tmp, run_cli)
    if row_id in ("resume-no-checkpoint", "resume-missing-folder"):
        if row_id == "resume-no-checkpoint":
            (tmp / "ck").mkdir()  # a run killed before its first checkpoint
        return ["train", data, "-t", "y", *CHECKPOINTED, "--resume", tmp / "ck",
                "-o", tmp / "out.json"]
    code, _, err = run_cli("train", data, "-t", "y", *CHECKPOINTED, "--max-iter", "100",
                           "--checkpoint", tmp / "ck", "-q")
    assert code == 0, err
    return ["train", data, "-t", "y", "--resume", tmp / "ck", "-o", tmp / "out.json",
            *RESUME_OPTIONS[row_id]]


def stale_temporary_case(row_id, tmp, run_cli):
    """A writer killed by SIGKILL, a temporary file of a live process, and
    files of other names: the next run removes only the first."""
    _, data = trained_model(tmp, run_cli)
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


def mode_case(row_id, tmp, run_cli):
    """A private model file of another owner, replaced by a new model."""
    model, data = trained_model(tmp, run_cli)
    target = tmp / "out.json"
    target.write_bytes(model.read_bytes())
    os.chmod(target, 0o600)
    if os.geteuid() == 0:
        os.chown(target, 4321, 4322)
    return ["train", data, "-t", "y", "--C", "0.5", "-o", target]


def clash_case(row_id, tmp, run_cli):
    model, _ = trained_model(tmp, run_cli)
    return ["predict", model, write(tmp, "p.csv", "a,predicted,b,probability_yes\n"
                                    "1,x,2,0.25\n6,y,4,0.5\n3,,1,\n"), "-o", tmp / "p_out.csv"]


#: Rows run as a real process that the signal hits while the model is written.
SIGNAL_ROWS = {"sigterm-while-writing": "SIGTERM", "sigint-while-writing": "SIGINT"}


def signal_case(row_id, tmp, run_cli):
    _, data = trained_model(tmp, run_cli)
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
    "mode-kept": mode_case,
    "predict-column-clash": clash_case,
}


def coefficients(path):
    saved = json.loads(Path(path).read_text())
    return saved["coef"] + [saved["intercept"]]


def check_resumed(tmp, args, run_cli, iterations):
    """The resumed (or started) run's model is the uninterrupted run's, bit for bit."""
    code, _, err = run_cli("train", tmp / "good.csv", "-t", "y", *CHECKPOINTED, "--max-iter",
                           iterations, "-o", tmp / "whole.json", "-q")
    assert code == 0, err
    assert coefficients(tmp / "out.json") == coefficients(tmp / "whole.json")
    assert json.loads((tmp / "out.json").read_text())["summary"]["iterations"] == iterations
    from descend.io.checkpoint import load_checkpoint
    state, meta = load_checkpoint(tmp / "ck")
    assert state.iteration == iterations and meta["train_options"]["estimator"]["max_iter"] == \
        iterations


def check_stale_removed(tmp, args, run_cli):
    names = sorted(p.name for p in tmp.iterdir() if ".tmp." in p.name)
    assert names == sorted([f".out.json.{os.getpid()}.abcd1234.tmp.json",
                            ".out.json.abcd1234.tmp.json", "notes.12.abcd1234.tmp.json"]), names
    assert json.loads((tmp / "out.json").read_text())["classes"] == ["no", "yes"]


def check_mode_kept(tmp, args, run_cli):
    info = (tmp / "out.json").stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (4321, 4322)
    assert json.loads((tmp / "out.json").read_text())["params"]["C"] == 0.5


def check_clash(tmp, args, run_cli):
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
    code, _, err = run_cli("predict", tmp / "model.json", tmp / "p_out.csv", "-o", tmp / "again.csv")
    assert code == 0 and "'predicted_2', 'probability_yes_2'" in err
    assert list(pd.read_csv(tmp / "again.csv").columns)[-2:] == ["predicted_2", "probability_yes_2"]


#: Checks of accepted rows about writing: what the command wrote, beyond its exit code.
ACCEPTED_CHECKS = {
    "resume-max-iter": lambda tmp, args, run_cli: check_resumed(tmp, args, run_cli, 300),
    "resume-no-checkpoint": lambda tmp, args, run_cli: check_resumed(tmp, args, run_cli, 1000),
    "resume-missing-folder": lambda tmp, args, run_cli: check_resumed(tmp, args, run_cli, 1000),
    "stale-temporary": check_stale_removed,
    "mode-kept": check_mode_kept,
    "predict-column-clash": check_clash,
}


def test_every_row_of_the_table_has_a_case_and_every_case_a_row():
    assert len(ROWS) >= 30
    cases = [*LIBRARY_CALLS, *TRAINING_CSV, *OTHER_CASES, *WRITING_CASES]
    assert len(cases) == len(set(cases))
    assert set(cases) == set(ROWS)


CASE_IDS = list(ROWS)


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
    """Every file under ``folder`` (hidden ones too) and its bytes (large
    files: size, time and inode; pipes and devices: nothing, never read)."""
    def content(path):
        if not path.is_file():
            return None
        info = path.stat()
        if info.st_size > 1 << 20:
            return info.st_size, info.st_mtime_ns, info.st_ino
        return path.read_bytes()
    return {str(p.relative_to(folder)): content(p) for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("row_id", CASE_IDS)
def test_bad_input_row(row_id, tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    row = ROWS[row_id]
    args = case(row_id, tmp_path, run_cli, monkeypatch)
    if callable(args):
        with pytest.raises(ValueError, match=row["message"].replace("(", r"\(").replace(")", r"\)")):
            args()
        return
    before = sorted(p.name for p in tmp_path.iterdir())
    files = contents(tmp_path)
    if row_id in SIGNAL_ROWS:
        code, out, err = run_interrupted(SIGNAL_ROWS[row_id], "model", args, tmp_path)
    else:
        code, out, err = (run_process if row_id in SUBPROCESS_ROWS else run_cli)(*args)
    monkeypatch.undo()
    assert code == int(row["exit"]), err[:2000]
    if code == 0:
        assert row["message"] in err  # an accepted row's note, if any
    if code == 0 and row_id in ACCEPTED_CHECKS:
        ACCEPTED_CHECKS[row_id](tmp_path, args, run_cli)
        return
    if code == 0 and row_id in ACCEPTED:
        ACCEPTED[row_id](out, err)
        return
    if code == 0 and args[0] == "train":
        check_trained(row_id, args[args.index("-o") + 1])
        return
    if code == 0:
        check_predictions(tmp_path, model=args[1], data=args[2], output=args[4])
        return
    assert row["message"] in err, err[:2000]
    assert err.startswith("descend: error: ") and len(err.strip().splitlines()) == 1
    assert not CONTROL.search(err) and len(err) < 2100, err[:2000]
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert contents(tmp_path) == files  # nothing changed, inside folders too
    assert not (tmp_path / "PWNED").exists()
