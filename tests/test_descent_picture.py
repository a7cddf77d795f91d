"""The descent picture and the learning-rate lesson, checked for what they draw."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
import descend.viz
from conftest import make_problem, reference_objective
from descend.viz import descent_picture as dp
from descend.viz import rates


def _gradient_by_hand(X, y, w, b):
    """∇J of the mean log-loss (no penalty), written out: Xᵀ(a − y)/m, mean(a − y)."""
    a = 1 / (1 + np.exp(-(X @ w + b)))
    return X.T @ (a - y) / len(y), np.mean(a - y)


def _fit_recorded(X, y, **params):
    recorder = descend.viz.PathRecorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = descend.LogisticRegression(callback=recorder, **params).fit(X, y)
    return clf, recorder


def test_recorded_points_are_the_gradient_descent_iterates_and_the_history_their_losses():
    X, y = rates.lesson_problem()
    alpha = 0.7
    clf, recorder = _fit_recorded(X, y, solver="gd", learning_rate=alpha, C=np.inf, max_iter=25)
    points = np.array(recorder.points)
    assert points.shape == (26, 2) and len(recorder.history) == 25
    w, b = np.zeros(1), 0.0
    for k in range(25):
        np.testing.assert_allclose(points[k], np.append(w, b), rtol=1e-12, atol=1e-14)
        assert recorder.history[k]["loss"] == pytest.approx(
            reference_objective(X, y, w, b, C=np.inf), rel=1e-12)
        dw, db = _gradient_by_hand(X, y, w, b)
        w, b = w - alpha * dw, b - alpha * db
    np.testing.assert_allclose(points[-1], np.append(clf.coef_.ravel(), clf.intercept_), rtol=1e-15)


def _artists(fig):
    ax = fig.axes[0]
    line = next(line for line in ax.get_lines() if line.get_label() == "path")
    star = next(line for line in ax.get_lines() if line.get_label().startswith("optimum"))
    return ax, line, star


def test_picture_draws_the_history_over_contours_that_bracket_its_losses():
    X, y = rates.lesson_problem()
    clf, recorder = _fit_recorded(X, y, solver="gd", learning_rate=1.0, C=1.0, max_iter=30)
    fig = descend.viz.descent(clf, X, y)
    ax, line, star = _artists(fig)
    # The path drawn is the recorded run, point for point.
    np.testing.assert_array_equal(line.get_xydata(), np.array(recorder.points))
    # Its losses are the history, and J there is the objective (independently written).
    path = dp.descent_path(clf, X, y)
    np.testing.assert_array_equal(path.losses, [h["loss"] for h in clf.history_])
    for point, loss in zip(path.points, path.losses):
        assert reference_objective(X, y, point[:1], point[1], C=1.0) == pytest.approx(loss, rel=1e-12)
    # The contour levels bracket every loss of the path, and lie above J(θ*).
    levels = next(c.levels for c in ax.collections if hasattr(c, "levels"))
    assert levels[0] <= path.losses.min() and levels[-1] >= path.losses.max()
    assert levels[0] >= path.optimum_loss - 1e-12
    # The star is scikit-learn's optimum of the same objective.
    sk = SkLogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(star.get_xydata()[0], [sk.coef_[0, 0], sk.intercept_[0]], atol=1e-5)
    assert ax.get_xlabel() == "w1" and ax.get_ylabel() == "b"


def test_an_unrecorded_model_is_refitted_with_the_same_rule_and_rate():
    X, y = rates.lesson_problem()
    model = descend.LogisticRegression(solver="momentum", learning_rate=0.3, C=np.inf, max_iter=20)
    path = dp.descent_path(model, X, y)
    _, recorder = _fit_recorded(X, y, solver="momentum", learning_rate=0.3, C=np.inf, max_iter=20)
    np.testing.assert_array_equal(path.points, np.array(recorder.points))
    np.testing.assert_array_equal(path.losses, recorder.losses)


def test_more_parameters_are_drawn_in_the_plane_of_most_movement_and_say_so():
    X, y = make_problem(m=200, n=4, seed=1)
    clf, recorder = _fit_recorded(X, y, solver="gd", learning_rate=0.5, max_iter=40)
    fig = descend.viz.descent(clf, X, y)
    ax, line, _ = _artists(fig)
    points = np.array(recorder.points)
    centre, basis, share = dp.plane_of(points)
    np.testing.assert_allclose(basis @ basis.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(line.get_xydata(), (points - centre) @ basis.T, atol=1e-12)
    assert "5 parameters" in ax.get_title() and "two directions the iterates move most" in ax.get_title()
    assert 0.9 < share <= 1.0 + 1e-12
    # The plane holds the path: no other direction carries more of the movement.
    rest = (points - centre) - ((points - centre) @ basis.T) @ basis
    assert np.linalg.norm(rest) ** 2 <= (1 - share) * np.linalg.norm(points - centre) ** 2 + 1e-12


def test_iterates_in_preconditioned_coordinates_are_refused():
    X, y = rates.lesson_problem()
    clf, recorder = _fit_recorded(X, y, max_iter=20)  # auto: a preconditioned solver
    with pytest.raises(descend.UsageError, match="preconditioner='none'"):
        dp.descent_path((recorder, clf), X, y)
    # Given the estimator alone, its run is made again in w and b's own units.
    path = dp.descent_path(clf, X, y)
    assert len(path.losses) == len(path.points) - 1 and path.losses[0] == recorder.losses[0]
    with pytest.raises(descend.UsageError, match="two parameters"):
        descend.viz.descent(descend.LogisticRegression(fit_intercept=False, solver="gd",
                                                       learning_rate=0.5), X, y)


def test_learning_rate_lesson_shows_slow_right_oscillating_and_diverging_runs():
    fig_rates, fig_rules, rate_runs, rule_runs = rates.learning_rate_lesson()
    slow, right, large, huge = (run.path.losses for run in rate_runs)
    L = rates.smoothness(*rates.lesson_problem())
    assert [run.alpha * L for run in rate_runs] == pytest.approx([0.1, 1.0, 4.0, 20.0])
    starts = {tuple(run.path.points[0]) for run in rate_runs + rule_runs}
    assert starts == {(0.0, 0.0)}
    assert np.all(np.diff(slow) < 0) and np.all(np.diff(right) < 0)
    optimum = right[-1]
    assert slow[-1] - optimum > 10 * (right[-1] - rate_runs[1].path.optimum_loss)
    assert np.sum(np.diff(large) > 0) >= 10  # up and down, not converging
    assert large[-1] > slow[-1]
    assert rate_runs[3].diverged and huge[-1] > 5 * huge[0]
    assert not any(run.diverged for run in rate_runs[:3] + rule_runs)
    assert [run.name.split(":")[0] for run in rule_runs] == ["gd", "momentum", "nesterov", "adam"]
    for fig, runs in ((fig_rates, rate_runs), (fig_rules, rule_runs)):
        paths = [line for ax in fig.axes for line in ax.get_lines() if line.get_label() == "path"]
        assert len(paths) == 4
        for line, run in zip(paths, runs):
            np.testing.assert_array_equal(line.get_xydata(), run.path.points)
        titles = " ".join(ax.get_title(loc="left") for ax in fig.axes)
        for run in runs:
            assert run.why.split()[0] in titles


def test_explain_draws_the_descent_of_a_models_settings_on_its_data(run_cli, tmp_path):
    import pandas as pd
    X, y = make_problem(m=150, n=2, seed=3, scales=[10.0, 1.0], offsets=[40.0, 0.0])
    data = tmp_path / "d.csv"
    pd.DataFrame({"age": X[:, 0], "score": X[:, 1], "bought": np.where(y, "yes", "no")}).to_csv(
        data, index=False)
    model = tmp_path / "m.json"
    assert run_cli("train", data, "-t", "bought", "-o", model, "-q", "--solver", "gd",
                   "--learning-rate", "0.5", "--max-iter", "30")[0] == 0
    picture = tmp_path / "path.svg"
    code, out, err = run_cli("explain", "--model", model, "--data", data, "--descent", picture)
    assert code == 0, err
    assert f"descent picture (30 iterations" in out and f"written to {picture}" in out
    assert picture.read_text().lstrip().startswith("<?xml") and "direction u" in picture.read_text()
    code, out, err = run_cli("explain", "--model", model, "--data", data, "--json",
                             "--descent", tmp_path / "p.png")
    assert code == 0 and "descent picture" in err and json_loads(out)["y"] in (0.0, 1.0)
    code, _, err = run_cli("explain", "--x", "1", "--y", "1", "--w", "1", "--descent", "p.png")
    assert code == 2 and "--model and --data" in err
    code, _, err = run_cli("explain", "--model", model, "--data", data, "--descent", "p.gif")
    assert code == 2 and "--descent p.gif" in err


def json_loads(text):
    import json
    return json.loads(text)
