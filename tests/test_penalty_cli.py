"""``descend train --penalty``, ``--C cv`` and ``--plot-path``, as a user runs them."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import descend
from descend.data.preprocess import Preprocessor


@pytest.fixture
def wide(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((800, 12))
    y = X[:, 0] - 2 * X[:, 1] + 0.5 * X[:, 2] + rng.standard_normal(800) > 0
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(12)])
    frame["label"] = np.where(y, "yes", "no")
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_l1_model_matches_the_library_and_reports_its_zeros(run_cli, wide, tmp_path):
    path, frame = wide
    model = tmp_path / "m.json"
    code, out, err = run_cli("train", path, "-t", "label", "--penalty", "l1", "--C", "0.01",
                             "-o", model, "-q")
    assert code == 0, err
    _, X = Preprocessor.fit(frame.drop(columns="label"))
    clf = descend.LogisticRegression(penalty="l1", C=0.01).fit(X, frame.label == "yes")
    saved = json.loads(model.read_text())
    np.testing.assert_allclose(saved["coef"], clf.coef_.ravel(), rtol=1e-9, atol=1e-12)
    nonzero = int(np.count_nonzero(clf.coef_))
    assert 0 < nonzero < 12 and f"{nonzero} of 12 coefficients non-zero" in out
    assert saved["params"]["penalty"] == "l1"


def test_c_cv_prints_the_choice_and_draws_the_path(wide, tmp_path):
    path, frame = wide
    picture = tmp_path / "path.png"
    done = subprocess.run([sys.executable, "-m", "descend", "train", str(path), "-t", "label",
                           "--C", "cv", "--cv", "4", "--penalty", "l1", "--plot-path",
                           str(picture), "-q"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _, X = Preprocessor.fit(frame.drop(columns="label"))
    cv = descend.LogisticRegressionCV(Cs=20, cv=4, penalty="l1", scoring="neg_log_loss")
    cv.fit(X, np.where(frame.label == "yes", "yes", "no"))
    assert f"C chosen by 4-fold cross-validation: {cv.C_[0]:.4g}" in done.stdout
    assert f"{np.count_nonzero(cv.coef_)} of 12 coefficients non-zero" in done.stdout
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000


@pytest.mark.parametrize("args, message", [
    (["--penalty", "l1", "--l1-ratio", "0.5"], "--l1-ratio is only used with --penalty"),
    (["--penalty", "elasticnet"], "--l1-ratio"),
    (["--penalty", "l1", "--solver", "adam"], "--solver"),
    (["--C", "abc"], "'abc' is not a number or 'cv'"),
    (["--C", "-1"], "--C must be a positive number"),
    (["--plot-path", "p.png"], "--plot-path draws the path of --C cv"),
    (["--C", "cv", "--plot-path", "p.txt"], "--plot-path p.txt: use a file ending in .png"),
    (["--C", "cv", "--penalty", "none"], "--C 'cv' chooses the strength of a penalty"),
    (["--C", "cv", "--learning-rate", "0.1"], "--learning-rate cannot be set with --C 'cv'"),
])
def test_bad_penalty_options_are_one_line_exit_2(run_cli, wide, tmp_path, args, message):
    path, _ = wide
    code, out, err = run_cli("train", path, "-t", "label", "-q", *args)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.png"))
