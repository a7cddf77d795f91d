"""A pandas DataFrame with ``category`` columns: fitted as numbers beside
integer codes (never one-hot), equal to the one-hot route, predicted by
level name."""
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder

import descend
import descend.frame_input as frame_input
import descend.path as path_module
from descend.viz.notebook import coefficient_rows
from descend.engine.codes import CodedMatrix
from descend.exceptions import DataError


def frame_problem(m=1500, classes=2, seed=0, levels=(4, 7), dtype=np.float64):
    """Two numbers around two category columns (a 'city' and a 'plan', the
    frame's own category order not sorted), labels of a softmax model."""
    rng = np.random.default_rng(seed)
    cities = [f"city{k}" for k in range(levels[0])][::-1]
    plans = [f"p{k}" for k in range(levels[1])]
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, m).astype(dtype),
        "city": pd.Categorical(rng.choice(cities, m), categories=cities),
        "income": rng.standard_normal(m).astype(dtype),
        "plan": pd.Categorical(rng.choice(plans, m), categories=plans)})
    dense = pd.get_dummies(frame, dtype=float).to_numpy()
    z = dense @ rng.standard_normal((dense.shape[1], classes)) * 0.3
    z -= z.mean(axis=0)
    y = np.argmax(z + rng.gumbel(size=z.shape), axis=1)
    return frame, y


def one_hot(frame, reference=None):
    """The frame's dense one-hot matrix by OneHotEncoder, laid out as
    get_dummies lays it out (numbers first), unseen levels all zeros."""
    reference = frame if reference is None else reference
    categorical = [c for c in frame if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in frame if c not in categorical]
    encoder = ColumnTransformer(
        [("n", "passthrough", numeric),
         ("c", OneHotEncoder(categories=[list(reference[c].cat.categories) for c in categorical],
                             handle_unknown="ignore", sparse_output=False), categorical)])
    return encoder.fit(reference).transform(frame).astype(np.float64)


@pytest.mark.parametrize("classes, preconditioner", [(2, "diagonal"), (2, "full"),
                                                     (3, "diagonal")])
def test_a_frame_fits_the_one_hot_model(classes, preconditioner, monkeypatch):
    frame, y = frame_problem(classes=classes)
    dense = one_hot(frame)
    assert np.array_equal(dense, pd.get_dummies(frame, dtype=float).to_numpy())
    theirs = descend.LogisticRegression(preconditioner=preconditioner).fit(dense, y)

    def refuse(self, *args, **kwargs):
        raise AssertionError("the one-hot matrix was built")
    monkeypatch.setattr(CodedMatrix, "__array__", refuse)
    ours = descend.LogisticRegression(preconditioner=preconditioner).fit(frame, y)
    assert ours.coef_.shape == theirs.coef_.shape == (1 if classes == 2 else 3, 2 + 4 + 7)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(frame), theirs.predict_proba(dense),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.decision_function(frame), theirs.decision_function(dense),
                               rtol=0, atol=1e-10)
    assert np.array_equal(ours.predict(frame), theirs.predict(dense))
    assert ours.score(frame, y) == theirs.score(dense, y)
    assert ours.n_iter_ == theirs.n_iter_


def test_the_default_fit_is_the_one_hot_fit():
    # two classes: both routes take the factored metric, the same numbers
    frame, y = frame_problem()
    ours = descend.LogisticRegression().fit(frame, y)
    theirs = descend.LogisticRegression().fit(one_hot(frame), y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0, atol=1e-10)


def test_the_default_k_class_fit_reaches_the_one_hot_optimum():
    # K classes: the codes take the diagonal metric (no (K(n + 1))² matrix),
    # the dense one-hot matrix the factored one; the same optimum, by other paths
    frame, y = frame_problem(classes=3)
    ours = descend.LogisticRegression(tol=1e-14, max_iter=5000).fit(frame, y)
    theirs = descend.LogisticRegression(tol=1e-14, max_iter=5000).fit(one_hot(frame), y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)
    assert ours.history_[-1]["loss"] == pytest.approx(theirs.history_[-1]["loss"], abs=1e-10)


def test_the_fitted_attributes_and_the_codes():
    frame, y = frame_problem(levels=(4, 300))
    clf = descend.LogisticRegression().fit(frame, y)
    assert list(clf.feature_names_in_) == ["age", "city", "income", "plan"]
    assert clf.n_features_in_ == 4
    assert clf.is_categorical_.tolist() == [False, True, False, True]
    assert [list(c) for c in clf.categories_] == [list(frame.city.cat.categories),
                                                  list(frame.plan.cat.categories)]
    names = frame_input.coefficient_names(clf)
    assert names[:4] == ["age", "income", "city=city3", "city=city2"]
    assert len(names) == clf.coef_.shape[1] == 2 + 4 + 300
    X = frame_input.to_coded(clf, frame, reset=False)
    assert X.codes.dtype == np.int16 and X.numeric.dtype == np.float64
    assert X.numeric.flags.c_contiguous and np.array_equal(X.numeric[:, 1], frame.income)
    small = descend.LogisticRegression().fit(*frame_problem(levels=(4, 127)))
    assert frame_input.to_coded(small, frame_problem(levels=(4, 127))[0], False).codes.dtype \
        == np.int8
    # the notebook summary names the levels
    assert any("(plan=" in name for name, _ in coefficient_rows(clf))


@pytest.mark.parametrize("classes", [2, 3])
def test_predictions_map_levels_by_name(classes):
    frame, y = frame_problem(classes=classes)
    clf = descend.LogisticRegression().fit(frame, y)
    test = frame.head(8).copy()
    # the same levels in another category order, one column as plain text
    test["city"] = test.city.cat.reorder_categories(test.city.cat.categories[::-1])
    test["plan"] = test.plan.astype(str)
    expected = clf.decision_function(frame.head(8))
    np.testing.assert_allclose(clf.decision_function(test), expected, rtol=0, atol=1e-12)
    # an unseen level and a missing value add nothing to z
    test["city"] = pd.Categorical(["atlantis", None, *frame.city[2:8]])
    test.loc[3, "plan"] = "never-sold"
    dense = one_hot(test.assign(plan=pd.Categorical(test.plan)), reference=frame)
    assert dense[:2, 2:6].sum() == 0 and dense[3, 6:].sum() == 0
    W = clf.coef_.reshape(-1, dense.shape[1])
    z = dense @ W.T + clf.intercept_
    np.testing.assert_allclose(clf.decision_function(test), z.reshape(expected.shape),
                               rtol=0, atol=1e-12)
    proba = clf.predict_proba(test)
    np.testing.assert_allclose(clf.predict_log_proba(test), np.log(proba), atol=1e-12)
    assert np.array_equal(clf.predict(test), clf.classes_[np.argmax(proba, axis=1)])


def test_clone_get_params_and_a_refit_on_other_input():
    frame, y = frame_problem()
    clf = descend.LogisticRegression(C=0.5).fit(frame, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and not hasattr(copy, "categories_")
    assert np.array_equal(copy.fit(frame, y).coef_, clf.coef_)
    numbers = frame[["age", "income"]]
    clf.fit(numbers, y)
    assert not hasattr(clf, "categories_") and clf.coef_.shape == (1, 2)
    assert list(clf.feature_names_in_) == ["age", "income"]
    clf.fit(numbers.to_numpy(), y)
    assert not hasattr(clf, "feature_names_in_") and not hasattr(clf, "is_categorical_")


def test_partial_fit_eval_set_weights_and_float32():
    frame, y = frame_problem(m=2000)
    weights = np.random.default_rng(1).uniform(0.5, 2, len(y))
    ours = descend.LogisticRegression(preconditioner="diagonal").fit(
        frame, y, sample_weight=weights, eval_set=(frame.tail(500), y[-500:]))
    theirs = descend.LogisticRegression(preconditioner="diagonal").fit(
        one_hot(frame), y, sample_weight=weights, eval_set=(one_hot(frame.tail(500)), y[-500:]))
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-10)
    assert ours.history_[-1]["validation_loss"] == pytest.approx(
        theirs.history_[-1]["validation_loss"], abs=1e-12)
    online = descend.LogisticRegression()
    for part in (slice(0, 1000), slice(1000, 2000)):
        online.partial_fit(frame[part], y[part], classes=[0, 1])
    assert online.coef_.shape == (1, 13)
    single = frame.astype({"age": np.float32, "income": np.float32})
    clf = descend.LogisticRegression().fit(single, y)
    assert clf.coef_.dtype == np.float32 and clf.predict_proba(single).dtype == np.float32


def test_bad_frames_are_refused_in_one_line():
    frame, y = frame_problem(m=200)
    clf = descend.LogisticRegression().fit(frame, y)
    with pytest.raises(ValueError, match=r"fitted on a DataFrame with category columns; pass "
                                         r"a DataFrame with its columns \['age'"):
        clf.predict(one_hot(frame))
    with pytest.raises(ValueError, match=r"missing \['plan'\]"):
        clf.predict(frame.drop(columns="plan"))
    with pytest.raises(ValueError, match="another order"):
        clf.predict(frame[["city", "age", "income", "plan"]])
    with pytest.raises(DataError, match=r"numeric columns \['income'\] hold NaN"):
        clf.predict(frame.assign(income=np.where(np.arange(200) == 3, np.nan, 1.0)))
    with pytest.raises(DataError, match=r"columns \['name'\] are neither numbers nor"):
        descend.LogisticRegression().fit(frame.assign(name="x"), y)
    with pytest.raises(DataError, match=r"category columns \['plan'\] have no categories"):
        descend.LogisticRegression().fit(frame.assign(plan=pd.Categorical([None] * 200)), y)
    with pytest.raises(DataError, match="distinct string column names"):
        descend.LogisticRegression().fit(frame.set_axis(["a", "b", "a", "d"], axis=1), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no pandas deprecation on the way
        clf.predict(frame.assign(city=pd.Categorical(["elsewhere"] * 200)))


def test_cross_validation_takes_the_frame_as_its_codes(monkeypatch):
    frame, y = frame_problem(m=800)
    theirs = descend.LogisticRegressionCV(Cs=5).fit(one_hot(frame), y)

    def refuse(self, *args, **kwargs):
        raise AssertionError("the one-hot matrix was built")
    monkeypatch.setattr(CodedMatrix, "__array__", refuse)
    ours = descend.LogisticRegressionCV(Cs=5).fit(frame, y)
    assert ours.C_ == theirs.C_ and list(ours.categories_[0]) == list(frame.city.cat.categories)
    np.testing.assert_allclose(ours.scores_[1], theirs.scores_[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.coefs_paths_[1], theirs.coefs_paths_[1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-10)
    assert np.array_equal(ours.predict(frame), theirs.predict(one_hot(frame)))


def test_an_l1_path_screens_the_levels_of_a_frame(monkeypatch):
    # the strong rule fits on some columns only: the codes' leave as CSR
    screened = []

    def columns(X, keep):
        screened.append(type(X).__name__)
        return take_columns(X, keep)
    take_columns = path_module.columns
    monkeypatch.setattr(path_module, "columns", columns)
    frame, y = frame_problem(m=800)
    options = dict(Cs=np.geomspace(0.005, 1, 12), penalty="l1", preconditioner="diagonal")
    ours = descend.LogisticRegressionCV(**options).fit(frame, y)
    assert "CodedMatrix" in screened
    theirs = descend.LogisticRegressionCV(**options).fit(one_hot(frame), y)
    np.testing.assert_allclose(ours.coefs_paths_[1], theirs.coefs_paths_[1], rtol=0, atol=1e-8)
    assert ours.C_ == theirs.C_
