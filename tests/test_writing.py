"""The files commands write, as real processes: never over an input, resumed
only with the checkpoint's options, nothing left behind by a signal, the
mode of a replaced file kept, column names that descend reads back."""
import json
import os
import signal
import stat
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from conftest import DESCEND_EXE
from descend.exceptions import UsageError
from descend.io import atomic
from descend.io.outputs import check_outputs
from interrupt import run_interrupted


def in_process(*args):
    """Exit code of ``descend ARGS`` run in this process (set-ups and references)."""
    from descend.cli.main import main
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    return exit_info.value.code


def descend(*args, cwd=None):
    result = subprocess.run([DESCEND_EXE, *map(str, args)], capture_output=True, text=True,
                            cwd=cwd, timeout=120, check=False)
    return result.returncode, result.stdout, result.stderr


def contents(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


def one_line_error(err, *parts):
    assert err.startswith("descend: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, err


TRAIN_CSV = "a,b,y\n" + "".join(f"{i % 7},{(i * 3) % 5},{'yes' if (i % 7) + (i * 3) % 5 > 5 else 'no'}\n"
                                for i in range(60))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    (folder / "good.csv").write_text(TRAIN_CSV)
    assert in_process("train", folder / "good.csv", "-t", "y", "-o", folder / "model.json",
                      "-q") == 0
    return folder / "model.json", folder / "good.csv"


# -- outputs that are inputs ---------------------------------------------------

GARBAGE = bytes(range(256)) * 8  # read as data: "binary file"; as a model: "not a model"


def clobber_case(name, tmp):
    """(arguments, options the refusal names) of each way to overwrite an input;
    whatever the command would read first is garbage, so reading it first
    would fail differently (exit 1)."""
    (tmp / "m.json").write_bytes(GARBAGE)
    (tmp / "tr.csv").write_bytes(GARBAGE)
    (tmp / "in.csv").write_text(TRAIN_CSV)
    (tmp / "d").mkdir()
    (tmp / "d" / "part.csv").write_text(TRAIN_CSV)
    (tmp / "view.svg").symlink_to(tmp / "in.csv")
    return {
        "train-output": (["train", "tr.csv", "--target", "y", "-o", "tr.csv"], ["--output", "DATA"]),
        "train-history": (["train", "tr.csv", "-t", "y", "--history", "./tr.csv"],
                          ["--history", "DATA"]),
        "train-two-outputs": (["train", "tr.csv", "-t", "y", "-o", "out.png", "--plot",
                               tmp / "out.png"], ["--output", "--plot"]),
        "train-glob": (["train", "*.csv", "-t", "y", "-o", "new.csv"], ["--output", "DATA"]),
        "predict-output": (["predict", "m.json", "in.csv", "-o", "in.csv"], ["--output", "DATA"]),
        "predict-model": (["predict", "tr.csv", "in.csv", "-o", "tr.csv"], ["--output", "MODEL"]),
        "evaluate-plot": (["evaluate", "m.json", "d", "--plot", "d/roc.png"], ["--plot", "DATA"]),
        "report-output": (["report", "m.json", "d/**/*", "-o", "d/sub/r.html"],
                          ["--output", "DATA"]),
        "explain-graph": (["explain", "--model", "m.json", "--data", "in.csv", "--graph",
                           "view.svg"], ["--graph", "--data"]),
    }[name]


@pytest.mark.parametrize("name", ["train-output", "train-history", "train-two-outputs",
                                  "train-glob", "predict-output", "predict-model",
                                  "evaluate-plot", "report-output", "explain-graph"])
def test_an_output_that_is_an_input_or_another_output_is_refused_before_reading(
        name, tmp_path):
    args, named = clobber_case(name, tmp_path)
    if name == "report-output":
        (tmp_path / "d" / "sub").mkdir()
    before = contents(tmp_path)
    code, _, err = descend(*args, cwd=tmp_path)
    assert code == 2, err
    one_line_error(err, *named)
    assert contents(tmp_path) == before


def test_outputs_elsewhere_are_accepted(tmp_path, trained):
    model, _ = trained
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "part.csv").write_text(TRAIN_CSV)
    code, _, err = descend("predict", model, tmp_path / "d", "-o", tmp_path / "p.csv")
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "p.csv")) == 60


@pytest.mark.parametrize("output,pattern,clash", [
    ("d/new.csv", "d/*.csv", True),            # does not exist yet: the next run would read it
    ("d/.hidden.csv", "d/*.csv", False),       # glob leaves hidden files out
    ("d/a/b/c.csv", "d/**/*.csv", True),
    ("d/c.csv", "d/**/*.csv", True),           # ** matches no folder too
    ("e/c.csv", "d/**/*.csv", False),
    ("d/c.json", "d/*.csv", False),
    ("d/x/c.csv", "d/*.csv", False),
    ("link/c.csv", "d/*.csv", True),           # link -> d
])
def test_a_glob_input_counts_every_file_it_matches_or_would(output, pattern, clash, tmp_path,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "d")
    outputs = {"--output": output}
    if clash:
        with pytest.raises(UsageError, match="--output matches the input pattern DATA"):
            check_outputs({"DATA": pattern}, outputs)
    else:
        check_outputs({"DATA": pattern}, outputs)
        check_outputs({"DATA": str(tmp_path / pattern)}, outputs)


# -- resume --------------------------------------------------------------------

GD = ["--solver", "gd", "--learning-rate", "0.1", "--tol", "0"]


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory, trained):
    """A checkpoint of 100 iterations of gradient descent with --C 1 (never
    resumed in place: each test copies it)."""
    _, data = trained
    folder = tmp_path_factory.mktemp("checkpointed")
    assert in_process("train", data, "-t", "y", *GD, "--C", "1", "--max-iter", "100",
                      "--checkpoint", folder / "ck", "-q") == 0
    return folder / "ck"


@pytest.fixture
def checkpoint(checkpointed, tmp_path):
    import shutil
    return shutil.copytree(checkpointed, tmp_path / "ck")


def coefficients(path):
    saved = json.loads(path.read_text())
    return saved["coef"] + [saved["intercept"]]


def test_resume_refuses_every_option_that_differs_from_the_checkpoint(checkpoint, trained,
                                                                      tmp_path):
    _, data = trained
    before = contents(tmp_path)
    code, _, err = descend("train", data, "-t", "y", "--resume", checkpoint, "-o",
                           tmp_path / "m.json", "--C", "0.001", "--features", "a,b",
                           "--solver", "adam", "--positive", "no", "--drop-missing")
    assert code == 2, err
    one_line_error(err, "--C 0.001 (checkpoint: 1.0)", "--features a,b (checkpoint: unset)",
                   "--solver adam (checkpoint: gd)", "--positive no (checkpoint: unset)",
                   "--drop-missing (the checkpoint was made without it)")
    assert contents(tmp_path) == before


def test_resume_takes_options_not_given_and_equal_ones_from_the_checkpoint(
        checkpoint, trained, tmp_path):
    _, data = trained
    code, _, err = descend("train", data, "-t", "y", "--resume", checkpoint, "-o",
                           tmp_path / "m.json", "--C", "1", "--solver", "gd", "--seed", "0", "-q")
    assert code == 0, err
    assert "note" not in err
    whole = tmp_path / "whole.json"
    assert in_process("train", data, "-t", "y", *GD, "--max-iter", "100", "-o", whole, "-q") == 0
    assert coefficients(tmp_path / "m.json") == coefficients(whole)


def test_resume_with_a_larger_max_iter_goes_on_to_it_and_says_so(checkpoint, trained,
                                                                  tmp_path):
    _, data = trained
    code, _, err = descend("train", data, "-t", "y", "--resume", checkpoint, "-o",
                           tmp_path / "m.json", "--max-iter", "250", "-q")
    assert code == 0, err
    assert "descend: note: resuming with --max-iter 250 (checkpoint: 100)" in err
    whole = tmp_path / "whole.json"
    assert in_process("train", data, "-t", "y", *GD, "--max-iter", "250", "-o", whole, "-q") == 0
    assert coefficients(tmp_path / "m.json") == coefficients(whole)


def test_resume_with_a_smaller_tol_goes_on_from_a_converged_checkpoint(trained, tmp_path):
    _, data = trained
    ck = tmp_path / "ck"
    assert in_process("train", data, "-t", "y", "--tol", "1e-2", "--checkpoint", ck, "-q") == 0
    from descend.io.checkpoint import load_checkpoint
    loose, _ = load_checkpoint(ck)
    assert loose.converged
    code, _, err = descend("train", data, "-t", "y", "--resume", ck, "--tol", "1e-12", "-o",
                           tmp_path / "m.json", "-q")
    assert code == 0, err
    assert "resuming with --tol 1e-12 (checkpoint: 0.01)" in err
    tight, _ = load_checkpoint(ck)
    assert tight.converged and tight.iteration > loose.iteration
    assert in_process("train", data, "-t", "y", "--tol", "1e-12", "-o", tmp_path / "w.json",
                      "-q") == 0
    np.testing.assert_allclose(coefficients(tmp_path / "m.json"),
                               coefficients(tmp_path / "w.json"), rtol=1e-7)
    assert not np.allclose(coefficients(tmp_path / "m.json"), loose.theta, rtol=1e-7)


@pytest.mark.parametrize("made", [True, False])
def test_resume_without_a_checkpoint_starts_from_the_beginning(made, trained, tmp_path):
    """A run killed before its first checkpoint left an empty folder, or none."""
    _, data = trained
    ck = tmp_path / "ck"
    if made:
        ck.mkdir()
    code, _, err = descend("train", data, "-t", "y", *GD, "--max-iter", "60", "--resume", ck,
                           "-o", tmp_path / "m.json", "-q")
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("descend: note")]
    assert notes == [(f"descend: note: no checkpoint in {ck} yet; starting from the "
                      f"beginning, with checkpoints saved in {ck}")]
    from descend.io.checkpoint import load_checkpoint
    assert load_checkpoint(ck)[0].iteration == 60
    assert in_process("train", data, "-t", "y", *GD, "--max-iter", "60", "-o",
                      tmp_path / "w.json", "-q") == 0
    assert coefficients(tmp_path / "m.json") == coefficients(tmp_path / "w.json")


# -- signals -------------------------------------------------------------------

@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("what", ["model", "predictions", "model-checkpointed"])
def test_a_signal_while_writing_leaves_no_temporary_file(signame, what, trained, tmp_path):
    model, data = trained
    out = tmp_path / ("out.csv" if what == "predictions" else "out.json")
    out.write_text("the previous output")
    if what == "predictions":
        args = ["predict", model, data, "-o", out]
    else:
        args = ["train", data, "-t", "y", "-o", out, "--history", tmp_path / "h.csv", "-q"]
        if what == "model-checkpointed":
            args += ["--checkpoint", tmp_path / "ck"]
    code, _, err = run_interrupted(signame, what.split("-")[0], args, tmp_path)
    sig = getattr(signal, signame)
    assert code == 128 + sig, err
    one_line_error(err, f"interrupted by {signame}")
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "ck")
    assert left == [out.name], left
    assert out.read_text() == "the previous output"


def dead_pid():
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_temporary_files_of_killed_runs_are_removed_by_the_next_run(trained, tmp_path):
    model, data = trained
    out = tmp_path / "p.csv"
    code, _, _ = run_interrupted("SIGKILL", "predictions", ["predict", model, data, "-o", out],
                                 tmp_path)
    assert code == -signal.SIGKILL
    [stale] = tmp_path.glob(".p.csv.*.tmp.csv")
    assert stale.stat().st_size > 0 and not out.exists()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        kept = [f".p.csv.{sleeper.pid}.abcd1234.tmp.csv",  # its writer still runs
                ".p.csv.abcd1234.tmp.csv",                  # no PID: not ours to judge
                f".q.csv.{dead_pid()}.abcd1234.tmp.json",   # not a name we make
                f"p.csv.{dead_pid()}.abcd1234.tmp.csv"]     # not hidden
        for name in kept:
            (tmp_path / name).write_text("keep")
        code, _, err = descend("predict", model, data, "-o", out)
        assert code == 0, err
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["p.csv"])
        assert len(pd.read_csv(out)) == 60
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_stale_temporary_file_in_the_checkpoint_folder_is_removed(checkpoint, trained,
                                                                    tmp_path):
    _, data = trained
    stale = checkpoint / f".checkpoint.json.{dead_pid()}.abcd1234.tmp.json"
    stale.write_text('{"format": "desc')
    old = time.time() - 30
    os.utime(stale, (old, old))
    code, _, err = descend("train", data, "-t", "y", "--resume", checkpoint, "-q")
    assert code == 0, err
    assert sorted(p.name for p in checkpoint.iterdir()) == ["checkpoint.json"]


def test_stale_temporaries_only_older_than_the_run_and_of_dead_writers(tmp_path):
    pid = dead_pid()
    names = {f".m.json.{pid}.abcd1234.tmp.json": True, f".m.{pid}.abcd1234.tmp": True,
             f".m.json.{pid}.abcd1234.tmp.csv": False, f".m.json.{os.getpid()}.abcd1234.tmp.json": False,
             f".m.json.{pid}.ABCD1234.tmp.json": False}
    for name in names:
        (tmp_path / name).write_text("x")
    (tmp_path / f".new.json.{pid}.abcd1234.tmp.json").write_text("after the start")
    (tmp_path / f".dir.json.{pid}.abcd1234.tmp.json").mkdir()
    started = time.time()
    for name in names:
        os.utime(tmp_path / name, (started - 10, started - 10))
    os.utime(tmp_path / f".new.json.{pid}.abcd1234.tmp.json", (started + 10, started + 10))
    removed = atomic.remove_stale_temporaries(tmp_path, started)
    assert sorted(removed) == sorted(n for n, stale in names.items() if stale)
    assert not any((tmp_path / n).exists() for n in removed)


# -- the mode of a replaced file ------------------------------------------------

def test_a_replaced_output_keeps_its_mode_and_owner(trained, tmp_path):
    model, data = trained
    out, history, predictions = tmp_path / "m.json", tmp_path / "h.csv", tmp_path / "p.csv"
    for path, mode in ((out, 0o600), (history, 0o640), (predictions, 0o604)):
        path.write_text("old")
        os.chmod(path, mode)
        if os.geteuid() == 0:
            os.chown(path, 4321, 4322)
    assert descend("train", data, "-t", "y", "-o", out, "--history", history, "-q")[0] == 0
    assert in_process("predict", model, data, "-o", predictions) == 0
    for path, mode in ((out, 0o600), (history, 0o640), (predictions, 0o604)):
        info = path.stat()
        assert stat.S_IMODE(info.st_mode) == mode, path
        if os.geteuid() == 0:
            assert (info.st_uid, info.st_gid) == (4321, 4322), path
        assert path.read_text() != "old"
    new = tmp_path / "new.json"
    assert in_process("train", data, "-t", "y", "-o", new, "-q") == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask


# -- predict's column names ----------------------------------------------------

def test_predictions_get_names_the_data_does_not_use_and_descend_reads_them_back(
        trained, tmp_path):
    model, _ = trained
    data = tmp_path / "in.csv"
    data.write_text("predicted,a,b,probability_yes,predicted_1,y\n"
                    "old,1,2,0.5,older,yes\nold,6,4,0.25,older,no\n")
    result = subprocess.run([DESCEND_EXE, "predict", model, data], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert ("descend: note: " + str(data) + " already has columns named 'predicted', "
            "'probability_yes'; the predictions are in 'predicted_2', 'probability_yes_1'"
            ) in result.stderr
    out = tmp_path / "out.csv"
    out.write_text(result.stdout)
    got = pd.read_csv(out)
    assert list(got.columns) == ["predicted", "a", "b", "probability_yes", "predicted_1", "y",
                                 "predicted_2", "probability_yes_1"]
    assert list(got.predicted) == ["old", "old"] and list(got.predicted_1) == ["older"] * 2
    assert in_process("predict", model, out, "-o", tmp_path / "again.parquet") == 0
    again = pd.read_parquet(tmp_path / "again.parquet")
    assert list(again.columns[-2:]) == ["predicted_3", "probability_yes_2"]
    np.testing.assert_array_equal(again.probability_yes_2, got.probability_yes_1)
    assert in_process("evaluate", model, out, "--target", "y") == 0
