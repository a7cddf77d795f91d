"""The command line on a three-class CSV with text labels, end to end, as
real subprocesses; and model files of earlier formats."""
import html
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

import descend
from descend.model.modelfile import load_model

DATA = Path(__file__).parent / "data"
SPECIES = np.array(["Adelie", "Chinstrap", "Gentoo"])


def descend_cli(*args):
    """``python -m descend ARGS`` in a subprocess: (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "descend", *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    """A three-class CSV: two numeric columns, one text column, string labels."""
    rng = np.random.default_rng(0)
    m = 450
    X = rng.standard_normal((m, 3))
    y = np.argmax(X @ (2 * np.eye(3)) + rng.gumbel(size=(m, 3)), axis=1)
    frame = pd.DataFrame({"bill": X[:, 0] * 5 + 40, "flipper": X[:, 1] * 10 + 200,
                          "island": np.where(X[:, 2] > 0, "Biscoe", "Dream"),
                          "species": SPECIES[y]})
    path = tmp_path_factory.mktemp("penguins") / "penguins.csv"
    frame.to_csv(path, index=False)
    return path, frame


@pytest.fixture(scope="module")
def trained(penguins, tmp_path_factory):
    path, _ = penguins
    model = tmp_path_factory.mktemp("model") / "model.json"
    code, out, err = descend_cli("train", path, "--target", "species", "-o", model)
    assert code == 0, err
    return model, out


def test_train_names_the_classes_and_writes_format_3(trained):
    model, out = trained
    assert "3 classes (multinomial): 'Adelie', 'Chinstrap', 'Gentoo'" in out
    data = json.loads(model.read_text())
    assert data["format_version"] == 3 and data["classes"] == SPECIES.tolist()
    assert np.shape(data["coef"]) == (3, 4) and len(data["intercept"]) == 3
    assert abs(sum(data["intercept"])) < 1e-12


def test_predict_writes_predicted_and_a_probability_column_per_class(penguins, trained,
                                                                    tmp_path):
    path, frame = penguins
    out = tmp_path / "predictions.csv"
    code, _, err = descend_cli("predict", trained[0], path, "-o", out)
    assert code == 0, err
    got = pd.read_csv(out)
    columns = [f"probability_{s}" for s in SPECIES]
    assert list(got.columns) == list(frame.columns) + ["predicted"] + columns
    P = got[columns].to_numpy()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(got["predicted"], SPECIES[np.argmax(P, axis=1)])
    # the library on the same table gives the same probabilities
    model = load_model(trained[0])
    np.testing.assert_allclose(P, model.score(frame).proba, rtol=1e-12)


def test_evaluate_prints_scikit_learns_k_class_metrics(penguins, trained):
    path, frame = penguins
    code, out, err = descend_cli("evaluate", trained[0], path)
    assert code == 0, err
    scores = load_model(trained[0]).score(frame)
    y, P = scores.y.astype(int), scores.proba
    pred = np.argmax(P, axis=1)
    assert f"log-loss   {metrics.log_loss(y, P):.6f}" in out
    assert f"accuracy   {metrics.accuracy_score(y, pred):.4f}" in out
    assert f"ROC AUC    {metrics.roc_auc_score(y, P, multi_class='ovr'):.4f}" in out
    p, r, f, s = metrics.precision_recall_fscore_support(y, pred)
    for k, name in enumerate(SPECIES):
        line = next(line for line in out.splitlines() if line.strip().startswith(name)
                    and "." in line)
        assert f"{p[k]:.4f}" in line and f"{r[k]:.4f}" in line and f"{f[k]:.4f}" in line
    for avg in ("macro", "weighted"):
        line = next(line for line in out.splitlines() if line.strip().startswith(avg))
        assert f"{metrics.f1_score(y, pred, average=avg):.4f}" in line
    confusion = metrics.confusion_matrix(y, pred)
    rows = out.split("confusion matrix (rows: true, columns: predicted)")[1].splitlines()[2:]
    assert [list(map(int, row.split()[1:])) for row in rows] == confusion.tolist()


def test_evaluate_plot_draws_the_confusion_heat_map(penguins, trained, tmp_path):
    plot = tmp_path / "confusion.png"
    code, out, err = descend_cli("evaluate", trained[0], penguins[0], "--plot", plot)
    assert code == 0, err
    assert f"confusion matrix written to {plot}" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_draws_the_confusion_heat_map(penguins, trained, tmp_path):
    path, _ = penguins
    page = tmp_path / "report.html"
    code, _, err = descend_cli("report", trained[0], path, "-o", page, "--row", 4)
    assert code == 0, err
    text = page.read_text()
    assert "Confusion matrix" in text and "pred Gentoo" in text and "Coefficients by class" in text
    assert "dz_k = a_k − y_k" in text


def test_explain_shows_the_k_class_lesson_table(penguins, trained):
    path, frame = penguins
    code, out, err = descend_cli("explain", "--model", trained[0], "--data", path, "--row", 7)
    assert code == 0, err
    assert f"y = '{frame.species[7]}'" in out and "L = −log a_y" in out
    code, js, err = descend_cli("explain", "--model", trained[0], "--data", path, "--row", 7,
                                "--json")
    assert code == 0, err
    got = json.loads(js)
    model = load_model(trained[0])
    scores = model.score(frame.iloc[7:8])
    want = descend.step(scores.X[0], int(scores.y[0]), model.coef, model.intercept, 0.1)
    np.testing.assert_allclose(got["a"], want.a, rtol=1e-15)
    np.testing.assert_allclose(got["dz"], want.a - np.eye(3)[want.y], rtol=1e-14, atol=1e-16)
    assert got["classes"] == SPECIES.tolist()
    # the largest |dW| entry heads the table
    k, i = np.unravel_index(np.argmax(np.abs(want.dW)), want.dW.shape)
    first = out.split("Code variable")[1].splitlines()[2]
    assert f"dW[{k}, {i}]" in first


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed "
                    "(apt-get install graphviz, or make system-deps)")
def test_explain_draws_the_k_class_graph_with_the_library_numbers(penguins, trained, tmp_path):
    path, frame = penguins
    svg, dot = tmp_path / "graph.svg", tmp_path / "graph.dot"
    code, out, err = descend_cli("explain", "--model", trained[0], "--data", path, "--row", 7,
                                 "--graph", svg)
    assert code == 0, err
    assert f"graph written to {svg}" in out
    model = load_model(trained[0])
    scores = model.score(frame.iloc[7:8])
    want = descend.step(scores.X[0], int(scores.y[0]), model.coef, model.intercept, 0.1)
    text = html.unescape(svg.read_text())  # Graphviz writes '-' as &#45;
    assert "a = softmax(z)" in text and "L = −log a_y" in text
    for k, label in enumerate(SPECIES):
        assert f"z{k + 1} ({label})" in text
        assert f"value {want.z[k]:.4g}" in text and f"a{k + 1} = {want.a[k]:.4g}" in text
        assert f"grad dz{k + 1} = a{k + 1} − y{k + 1} = {want.dz[k]:.4g}" in text
    k, i = np.unravel_index(np.argmax(np.abs(want.dW)), want.dW.shape)
    assert f"dW {want.dW[k, i]:.4g}" in text
    assert f"class {want.y + 1} ({frame.species[7]})" in text
    assert descend_cli("explain", "--model", trained[0], "--data", path, "--row", 7,
                       "--graph", dot)[0] == 0
    assert dot.read_text().startswith("digraph lesson")


def test_explain_k_class_graph_without_dot_falls_back_to_text(penguins, trained, tmp_path):
    path, frame = penguins
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # a PATH with no dot
    done = subprocess.run([sys.executable, "-m", "descend", "explain", "--model", str(trained[0]),
                           "--data", str(path), "--row", "7", "--graph", str(tmp_path / "g.svg")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "apt-get install graphviz" in done.stderr
    assert "a = softmax(z), L = −log a_y" in done.stderr and "z3 (Gentoo)" in done.stderr
    assert not (tmp_path / "g.svg").exists()


def test_positive_with_three_classes_is_a_usage_error(penguins, tmp_path):
    code, _, err = descend_cli("train", penguins[0], "-t", "species", "--positive", "Gentoo",
                               "-o", tmp_path / "m.json")
    assert code == 2 and "--positive" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.json").exists()


def test_a_binary_model_file_written_by_format_2_still_loads_and_predicts(tmp_path):
    """tests/data/binary_model_v2.json was written by descend before format 3
    (commit 12d1139), with its predictions beside it."""
    assert json.loads((DATA / "binary_model_v2.json").read_text())["format_version"] == 2
    out = tmp_path / "predictions.csv"
    code, _, err = descend_cli("predict", DATA / "binary_model_v2.json", DATA / "binary_v2.csv",
                               "-o", out)
    assert code == 0, err
    got, recorded = pd.read_csv(out), pd.read_csv(DATA / "binary_v2_predictions.csv")
    pd.testing.assert_frame_equal(got, recorded)
    code, out, _ = descend_cli("evaluate", DATA / "binary_model_v2.json", DATA / "binary_v2.csv")
    assert code == 0 and "precision" in out
