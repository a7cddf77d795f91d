"""Categorical codes beside a dense block: the codes route gives the one-hot
route's numbers (objective, gradient, moments, fits, predictions), through the
library and through the command line, without writing the one-hot columns."""
import json
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import descend
from conftest import DESCEND_EXE
from descend.data.preprocess import CODES_MIN_LEVELS, Preprocessor, choose_encoding
from descend.engine.codes import CodedMatrix, code_dtype
from descend.engine.codes_objective import CodesMultinomialObjective, CodesObjective
from descend.engine.multinomial import MultinomialObjective
from descend.engine.objective import Objective
from descend.exceptions import DataError

LEVELS = (3, 40, 300)


def coded_problem(m=2000, levels=LEVELS, p=4, seed=0, dtype=np.float64, unknown=True,
                  classes=2):
    """A CodedMatrix (some codes −1 when ``unknown``), its dense one-hot
    matrix, labels from a logistic model and weights."""
    rng = np.random.default_rng(seed)
    numeric = (rng.standard_normal((m, p)) * 2 + 0.5).astype(dtype)
    low = -1 if unknown else 0
    codes = np.stack([rng.integers(low, L, m) for L in levels], axis=1).astype(code_dtype(levels))
    X = CodedMatrix(numeric, codes, levels)
    dense = np.ascontiguousarray(np.asarray(X))
    z = dense.astype(np.float64) @ rng.standard_normal((X.shape[1], classes)) * 0.5
    y = np.argmax(z + rng.gumbel(size=z.shape), axis=1)
    y = y.astype(float) if classes == 2 else y
    return X, dense, y, rng.random(m) + 0.5


def test_coded_matrix_is_the_one_hot_matrix():
    X, dense, _, _ = coded_problem(m=50)
    assert X.shape == dense.shape == (50, 4 + sum(LEVELS))
    assert X.codes.dtype == np.int16 and X.nbytes == 50 * (4 * 8 + 3 * 2)
    # each one-hot block has a single 1, or none for an unknown code
    blocks = np.split(dense[:, 4:], np.cumsum(LEVELS)[:-1], axis=1)
    for block, codes in zip(blocks, X.codes.T):
        assert np.array_equal(block.sum(axis=1), (codes >= 0).astype(float))
        assert np.array_equal(np.argmax(block, axis=1)[codes >= 0], codes[codes >= 0])
    assert np.array_equal(X.tocsr().toarray(), dense)
    rng = np.random.default_rng(1)
    w, W = rng.standard_normal(X.shape[1]), rng.standard_normal((X.shape[1], 3))
    np.testing.assert_allclose(X @ w, dense @ w, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(X @ W, dense @ W, rtol=1e-13, atol=1e-13)
    rows = np.array([3, 7, 11])
    assert np.array_equal(np.asarray(X[rows]), dense[rows])
    assert np.array_equal(np.asarray(X[5:9]), dense[5:9])
    assert np.array_equal(X[4], dense[4]) and np.array_equal(X[-1], dense[-1])
    np.testing.assert_array_equal(X.level_sums(), dense[:, 4:].sum(axis=0))


@pytest.mark.parametrize("levels, dtype", [((3, 127), np.int8), ((128,), np.int16),
                                           ((40_000, 2), np.int32)])
def test_codes_take_the_smallest_integer_type_that_holds_them(levels, dtype):
    assert code_dtype(levels) == dtype


def test_bad_codes_are_refused_in_one_line():
    numeric, codes = np.zeros((4, 1)), np.array([[0], [1], [2], [0]], dtype=np.int8)
    with pytest.raises(DataError, match="code column 0 holds codes outside −1 … 1"):
        CodesObjective(CodedMatrix(numeric, codes, [2]), np.zeros(4))
    with pytest.raises(DataError, match="one row per example"):
        CodedMatrix(numeric, codes[:3], [3])
    with pytest.raises(DataError, match="signed integer"):
        CodedMatrix(numeric, codes.astype(float), [3])
    with pytest.raises(DataError, match="positive number of levels"):
        CodedMatrix(numeric, codes, [3, 4])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_codes_objective_equals_the_dense_one_hot_objective(dtype, weighted, fit_intercept):
    X, dense, y, s = coded_problem(dtype=dtype)
    s = s if weighted else None
    theta = np.random.default_rng(2).standard_normal(X.shape[1] + int(fit_intercept)) * 0.3
    ours = CodesObjective(X, y, s, l2=0.01, fit_intercept=fit_intercept)
    theirs = Objective(dense, y, s, l2=0.01, fit_intercept=fit_intercept)
    tol = 1e-10 if dtype == np.float64 else 2e-6
    (loss, grad), (ref_loss, ref_grad) = ours.loss_grad(theta), theirs.loss_grad(theta)
    assert abs(loss - ref_loss) <= tol
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=tol)
    rows = np.arange(3, 2000, 7)
    np.testing.assert_allclose(ours.loss_grad(theta, rows)[1], theirs.loss_grad(theta, rows)[1],
                               rtol=0, atol=tol)
    for a, b in zip(ours.column_moments(), theirs.column_moments()):
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-10,
                                   atol=1e-12)
    # the dense one in X's dtype, ours compiled in float64; at θ and the bound's
    for at in (theta, None):
        np.testing.assert_allclose(ours.curvature(at), theirs.curvature(at),
                                   rtol=1e-10 if dtype == np.float64 else 1e-6,
                                   atol=1e-12 if dtype == np.float64 else 1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_codes_multinomial_objective_equals_the_dense_one_hot_objective(dtype):
    X, dense, y, s = coded_problem(classes=4, dtype=dtype)
    theta = np.random.default_rng(3).standard_normal(4 * (X.shape[1] + 1)) * 0.3
    ours = CodesMultinomialObjective(X, y, 4, s, l2=0.01)
    theirs = MultinomialObjective(dense, y, 4, s, l2=0.01)
    tol = 1e-10 if dtype == np.float64 else 2e-6
    (loss, grad), (ref_loss, ref_grad) = ours.loss_grad(theta), theirs.loss_grad(theta)
    assert abs(loss - ref_loss) <= tol
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=tol)
    rows = np.arange(0, 2000, 5)
    np.testing.assert_allclose(ours.loss_grad(theta, rows)[1], theirs.loss_grad(theta, rows)[1],
                               rtol=0, atol=tol)


@pytest.mark.parametrize("classes", [2, 3])
def test_codes_gradient_matches_finite_differences(classes):
    X, _, y, s = coded_problem(m=300, levels=(4, 9), p=2, classes=classes)
    objective = (CodesObjective(X, y, s, l2=0.05) if classes == 2 else
                 CodesMultinomialObjective(X, y, classes, s, l2=0.05))
    theta = np.random.default_rng(4).standard_normal(objective.n_params) * 0.5
    _, grad = objective.loss_grad(theta)
    h, numeric = 1e-6, np.empty_like(theta)
    for k in range(len(theta)):
        e = np.zeros_like(theta)
        e[k] = h
        numeric[k] = (objective.loss_grad(theta + e)[0] - objective.loss_grad(theta - e)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_the_sums_do_not_depend_on_the_threads():
    # built without its one-hot matrix (that would be 10 GB)
    m, rng = 1_300_000, np.random.default_rng(5)
    codes = np.stack([rng.integers(-1, L, m) for L in (30, 1000)], axis=1).astype(np.int16)
    X = CodedMatrix(rng.standard_normal((m, 3)), codes, (30, 1000))
    y = (rng.random(m) < 0.4).astype(float)
    theta = np.random.default_rng(5).standard_normal(X.shape[1] + 1) * 0.1
    one, two = (CodesObjective(X, y, l2=1e-4, n_threads=t) for t in (1, 2))
    assert two.n_threads == 2
    (l1, g1), (l2, g2) = one.loss_grad(theta), two.loss_grad(theta)
    assert l1 == l2 and np.array_equal(g1, g2)
    assert np.array_equal(one.curvature(theta), two.curvature(theta))


def test_auto_factors_the_curvature_of_few_parameters_only():
    # two classes and up to MAX_FULL_PARAMS parameters: "full", as for dense X
    from descend.optim.precondition import MAX_FULL_PARAMS
    from descend.optim.solver import Solver
    X, _, y, _ = coded_problem(m=500, levels=(3, 40))
    wide, _, y_wide, _ = coded_problem(m=500, levels=(3, MAX_FULL_PARAMS))
    _, _, y3, _ = coded_problem(m=500, levels=(3, 40), classes=3)
    solver = Solver()
    assert solver.choose_preconditioner(CodesObjective(X, y)) == "full"
    assert solver.choose_preconditioner(CodesObjective(wide, y_wide)) == "diagonal"
    assert solver.choose_preconditioner(CodesMultinomialObjective(X, y3, 3)) == "diagonal"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("classes", [2, 3])
def test_fits_on_codes_reach_the_one_hot_optimum(dtype, classes):
    X, dense, y, _ = coded_problem(m=3000, levels=(3, 40), dtype=dtype, classes=classes)
    ours = descend.LogisticRegression(C=1.0, tol=1e-14, max_iter=3000).fit(X, y)
    one_hot = descend.LogisticRegression(C=1.0, tol=1e-14, max_iter=3000).fit(dense, y)
    sk = SkLogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(dense.astype(float), y)
    tol = 1e-5 if dtype == np.float64 else 2e-3
    assert ours.coef_.dtype == dtype
    np.testing.assert_allclose(ours.coef_, one_hot.coef_, atol=tol)
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=tol)
    np.testing.assert_allclose(ours.intercept_, sk.intercept_, atol=tol)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(dense), atol=tol)
    assert ours.score(X, y) == one_hot.score(dense, y)


def test_codes_take_every_estimator_option():
    X, dense, y, s = coded_problem(m=1500, levels=(5, 20))
    for options in ({"batch_size": 100, "max_iter": 20, "random_state": 0},
                    {"preconditioner": "full"}, {"solver": "gd", "learning_rate": 0.5,
                                                 "max_iter": 50}):
        ours = descend.LogisticRegression(**options).fit(X, y, sample_weight=s)
        theirs = descend.LogisticRegression(**options).fit(dense, y, sample_weight=s)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-8, err_msg=str(options))
    clf = descend.LogisticRegression().fit(X[:1000], y[:1000], eval_set=(X[1000:], y[1000:]))
    assert "validation_loss" in clf.history_[-1]
    clf = descend.LogisticRegression()
    for part in (slice(0, 700), slice(700, 1500)):
        clf.partial_fit(X[part], y[part], classes=[0.0, 1.0])
    assert clf.coef_.shape == (1, X.shape[1])
    with pytest.raises(ValueError, match="expecting 29 features"):
        clf.predict(CodedMatrix(X.numeric, X.codes[:, :1], [5]))


# -- the table path ----------------------------------------------------------

def levels_frame(m=6000, levels=1000, seed=0):
    """Numbers, a ``levels``-level text column and a 3-level one, labels yes/no."""
    rng = np.random.default_rng(seed)
    city = rng.permutation(np.arange(m) % levels)   # every level seen
    effect = rng.standard_normal(levels)
    frame = pd.DataFrame({"x1": rng.standard_normal(m), "x2": rng.normal(5, 2, m),
                          "city": [f"c{c}" for c in city],
                          "plan": rng.choice(["basic", "pro", "team"], m)})
    z = 0.8 * frame.x1 + effect[city] + 0.5 * (frame.plan == "pro")
    frame["y"] = np.where(rng.random(m) < 1 / (1 + np.exp(-z)), "yes", "no")
    return frame


def test_auto_takes_codes_for_many_levels_or_a_large_one_hot_block():
    assert choose_encoding([3, CODES_MIN_LEVELS], 1000) == "onehot"
    assert choose_encoding([3, CODES_MIN_LEVELS + 1], 1000) == "codes"
    assert choose_encoding([20, 20], 10_000_000) == "codes"      # 3.2 GB of one-hot
    assert choose_encoding([], 10_000_000) == "onehot"
    assert choose_encoding([500], 10, "onehot") == "onehot"
    assert choose_encoding([2], 10, "codes") == "codes"


def test_preprocessor_codes_are_its_one_hot_matrix():
    frame = levels_frame(m=500, levels=60)
    table = frame.drop(columns="y")
    pre, dense = Preprocessor.fit(table)
    assert pre.encoding == "codes"                           # 60 levels > 32
    X = pre.transform(table)
    assert isinstance(X, CodedMatrix) and X.codes.dtype == np.int8
    assert np.array_equal(np.asarray(X), dense)
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert again.encoding == "codes" and np.array_equal(np.asarray(again.transform(table)), dense)
    older = pre.to_dict()
    del older["encoding"]                                    # a model file from before
    assert Preprocessor.from_dict(older).encoding == "onehot"
    new_level = table.head(3).assign(city=["c1", "nowhere", "c2"])
    X = pre.transform(new_level)
    assert X.codes[1, 0] == -1 and np.array_equal(np.asarray(X), Preprocessor.from_dict(
        older).transform(new_level))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A Parquet file with a 1,000-level column, trained on through the CLI
    both ways (codes by default, --categorical onehot)."""
    folder = tmp_path_factory.mktemp("codes")
    frame = levels_frame()
    frame.to_parquet(folder / "train.parquet")
    test = frame.head(300).copy()
    test.loc[0, "city"] = "never-seen"
    test.to_csv(folder / "test.csv", index=False)
    for name, flags in (("codes", []), ("onehot", ["--categorical", "onehot"])):
        done = subprocess.run([DESCEND_EXE, "train", folder / "train.parquet", "-t", "y", "-q",
                               "-o", folder / f"{name}.json", "--tol", "1e-14", *flags],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    return folder, frame


def test_cli_round_trip_with_a_thousand_level_column(trained):
    folder, frame = trained
    codes, onehot = (json.loads((folder / f"{n}.json").read_text()) for n in ("codes", "onehot"))
    assert codes["preprocessing"]["encoding"] == "codes"
    assert onehot["preprocessing"]["encoding"] == "onehot"
    assert len(codes["preprocessing"]["categorical"]["categories"][0]) == 1000
    assert codes["summary"]["features_out"] == 2 + 1000 + 3
    assert len(codes["coef"]) == len(codes["feature_names"]) == 1005
    # the same optimum: J to 1e-10; the weights to what the stopping rule leaves in
    # the flat directions (each one-hot block sums to 1, as the intercept's column)
    assert abs(codes["history"][-1]["loss"] - onehot["history"][-1]["loss"]) < 1e-10
    np.testing.assert_allclose(codes["coef"], onehot["coef"], atol=1e-3)
    predictions = {}
    for name in ("codes", "onehot"):
        out = folder / f"{name}.csv"
        done = subprocess.run([DESCEND_EXE, "predict", folder / f"{name}.json",
                               folder / "test.csv", "-o", out], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        predictions[name] = pd.read_csv(out)
    np.testing.assert_allclose(predictions["codes"].probability_yes,
                               predictions["onehot"].probability_yes, atol=1e-6)
    # the unseen level adds nothing: z is the rest of the row's terms
    names, coef = codes["feature_names"], np.array(codes["coef"])
    pre = codes["preprocessing"]["numeric"]
    row = frame.iloc[0]
    z = codes["intercept"] + coef[names.index("plan=" + row.plan)] + sum(
        coef[j] * (row[c] - pre["mean"][j]) / pre["scale"][j] for j, c in enumerate(["x1", "x2"]))
    assert predictions["codes"].probability_yes[0] == pytest.approx(1 / (1 + np.exp(-z)), abs=1e-12)
    done = subprocess.run([DESCEND_EXE, "evaluate", folder / "codes.json", folder / "test.csv"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "ROC AUC" in done.stdout


def test_explain_shows_the_weight_of_the_rows_level(trained, run_cli):
    folder, frame = trained
    model = json.loads((folder / "codes.json").read_text())
    code, out, err = run_cli("explain", "--model", folder / "codes.json", "--data",
                             folder / "test.csv", "--row", 5)
    assert code == 0, err
    level = f"city={frame.city[5]}"
    j = model["feature_names"].index(level)
    assert re.search(rf"^  x{j + 1} \({level}\) += +1 ", out, re.M)
    # the level's own weight, in the update w ← w − α·dw
    assert re.search(rf"^  w{j + 1} = {model['coef'][j]:.6g} − 0.1·", out, re.M)
    code, out, _ = run_cli("explain", "--model", folder / "codes.json", "--data",
                           folder / "test.csv", "--row", 5, "--json")
    payload = json.loads(out)
    assert payload["x"][j] == 1 and sum(payload["x"][2:1002]) == 1


def test_the_lesson_on_a_coded_row_lists_its_non_zero_terms_by_name(trained, run_cli):
    folder, frame = trained
    model = json.loads((folder / "codes.json").read_text())
    names, coef = model["feature_names"], model["coef"]
    code, out, err = run_cli("explain", "--model", folder / "codes.json", "--data",
                             folder / "test.csv", "--row", 5)
    assert code == 0, err
    inputs = out[out.index("Inputs"):out.index("Forward pass")]
    shown = [int(j) - 1 for j in re.findall(r"^  x(\d+) ", inputs, re.M)]
    # the two numbers and the row's two levels; none of the 1,001 zeros
    levels = [f"city={frame.city[5]}", f"plan={frame.plan[5]}"]
    assert sorted(shown) == sorted([0, 1] + [names.index(v) for v in levels])
    for level in levels:
        j = names.index(level)
        assert re.search(rf"^  x{j + 1} \({re.escape(level)}\) += +1 ", inputs, re.M)
    forward = re.search(r"^  z = (.*)\n    = (.*) = (\S+)$", out, re.M)
    assert forward.group(1) == " + ".join(f"w{j + 1}x{j + 1}" for j in shown) + " + b"
    # the terms shown are z: each (wⱼ)(xⱼ) with the model's wⱼ, then b
    pairs = re.findall(r"\((\S+)\)\((\S+)\)", forward.group(2))
    assert [float(w) for w, _ in pairs] == pytest.approx([coef[j] for j in shown], rel=1e-5)
    total = sum(float(w) * float(x) for w, x in pairs) + model["intercept"]
    assert total == pytest.approx(float(forward.group(3)), abs=1e-5)
    assert "(1001 of the 1005 inputs are 0: their terms add nothing to z" in out
    assert "Backward pass (the 4 non-zero dwᵢ; --all lists all 1005)" in out
    update = out[out.index("Update"):]
    assert len(re.findall(r"^  w\d+ = ", update, re.M)) == 4
    code, out, _ = run_cli("explain", "--model", folder / "codes.json", "--data",
                           folder / "test.csv", "--row", 5, "--all")
    assert len(re.findall(r"^  w\d+ = ", out[out.index("Update"):], re.M)) == 1005
    # the graph draws the same inputs: the row's levels, none of the zeros
    code, _, err = run_cli("explain", "--model", folder / "codes.json", "--data",
                           folder / "test.csv", "--row", 5, "--graph", folder / "row.dot")
    assert code == 0, err
    drawn = re.findall(r"\b(?:city|plan)=\w+", (folder / "row.dot").read_text())
    assert sorted(set(drawn)) == sorted(levels)


def test_the_report_names_the_levels(trained, run_cli):
    folder, frame = trained
    model = json.loads((folder / "codes.json").read_text())
    names, coef = model["feature_names"], np.abs(model["coef"])
    code, _, err = run_cli("report", folder / "codes.json", folder / "test.csv", "--row", 5,
                           "-o", folder / "report.html")
    assert code == 0, err
    page = (folder / "report.html").read_text()
    largest = names[int(np.argmax(coef))]
    assert largest.startswith("city=") and largest in page   # the coefficients figure
    lesson = page[page.index("The lesson on row 5"):]
    lesson = lesson[lesson.index("<pre>"):lesson.index("</pre>")]
    assert f"(city={frame.city[5]})" in lesson and "1001 of the 1005 inputs are 0" in lesson
    assert len(re.findall(r"\(city=", lesson)) == 2      # its level only: inputs, dw table


def test_predict_refuses_what_it_refused_before(trained, run_cli):
    folder, _ = trained
    bad = pd.read_csv(folder / "test.csv").head(5)
    bad.loc[2, "city"] = None
    bad.to_csv(folder / "gap.csv", index=False)
    code, out, err = run_cli("predict", folder / "codes.json", folder / "gap.csv")
    assert code == 0 and "1 rows have missing feature values and no prediction" in err
    assert pd.read_csv(folder / "gap.csv").shape[0] == 5
    bad.drop(columns="city").to_csv(folder / "nocity.csv", index=False)
    code, _, err = run_cli("predict", folder / "codes.json", folder / "nocity.csv")
    assert code == 1 and "missing feature columns ['city']" in err and "Traceback" not in err


def test_train_with_a_memory_limit_maps_the_numbers_beside_the_codes(tmp_path, run_cli):
    levels_frame(m=20_000, levels=200).to_csv(tmp_path / "t.csv", index=False)
    code, out, err = run_cli("train", tmp_path / "t.csv", "-t", "y", "-q", "-o",
                             tmp_path / "m.json", "--memory-limit", "200KB")
    assert code == 0, err
    model = json.loads((tmp_path / "m.json").read_text())
    assert model["summary"].get("design_matrix") == "memory-mapped file"
    assert model["preprocessing"]["encoding"] == "codes"
    code, _, err = run_cli("train", tmp_path / "t.csv", "-t", "y", "--categorical", "dense")
    assert code == 2 and "--categorical" in err
