"""The JSON-kept preprocessing replays scikit-learn's fitted transformation."""
import json

import numpy as np
import pandas as pd
import pytest

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from conftest import customers_frame
from descend.data.preprocess import Preprocessor


def _column_transformer(numeric, categorical, impute):
    """scikit-learn's own pipeline for what descend's preprocessing does."""
    num_steps = [StandardScaler()]
    cat_steps = [OneHotEncoder(handle_unknown="ignore", sparse_output=False)]
    if impute:
        num_steps.insert(0, SimpleImputer(strategy=impute))
        cat_steps.insert(0, SimpleImputer(strategy="most_frequent"))
    return ColumnTransformer([("num", make_pipeline(*num_steps), numeric),
                              ("cat", make_pipeline(*cat_steps), categorical)],
                             sparse_threshold=0.0)


def _as_categories(frame, categorical):
    """Categorical columns as text (missing stays missing), as descend reads them."""
    frame = frame.copy()
    for col in categorical:
        frame[col] = frame[col].astype(object).where(frame[col].isna(), frame[col].astype(str))
    return frame


@pytest.mark.parametrize("impute", [None, "mean", "median", "most_frequent"])
def test_replay_equals_scikit_learns_transform_on_new_rows(impute):
    frame = customers_frame(300, seed=1)[["age", "income", "plan"]]
    train = frame if impute else frame.dropna()
    pre, X = Preprocessor.fit(train, impute=impute)
    # Through JSON and back, as a model file keeps it.
    pre = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_allclose(pre.transform(train), X, rtol=0, atol=1e-12)
    sk = _column_transformer(["age", "income"], ["plan"], impute)
    sk.fit(_as_categories(train, ["plan"]))
    new = customers_frame(80, seed=2)[["plan", "income", "age"]]   # reordered columns
    new.loc[0, "plan"] = "enterprise"                              # unseen category
    if not impute:
        new = new.dropna()
    expected = sk.transform(_as_categories(new[["age", "income", "plan"]], ["plan"]))
    np.testing.assert_allclose(pre.transform(new), expected, rtol=0, atol=1e-12)
    assert pre.transform(new)[0, 2:].sum() == 0  # unseen: all zeros, no crash
    assert pre.feature_names == ["age", "income", "plan=basic", "plan=pro", "plan=team"]


def test_each_categorical_column_is_filled_with_its_own_most_frequent_value():
    """Two categorical columns whose most frequent values differ, with missing
    cells in both at transform time: scikit-learn's imputer fills each column
    with its own value."""
    rng = np.random.default_rng(5)
    m = 200
    train = pd.DataFrame({
        "age": rng.normal(40, 10, m),
        "plan": rng.choice(["basic", "pro", "team"], m, p=[0.6, 0.3, 0.1]),
        "region": rng.choice(["north", "south", "east"], m, p=[0.1, 0.2, 0.7]),
    })
    train.loc[[1, 4], "plan"] = None
    train.loc[[2, 9, 11], "region"] = None
    pre, X = Preprocessor.fit(train, impute="most_frequent")
    assert pre.categorical["fill"] == ["basic", "east"]
    pre = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    new = pd.DataFrame({"age": [30.0, np.nan, 50.0, 41.0],
                        "plan": [None, "team", None, "pro"],
                        "region": ["south", None, None, "north"]})
    sk = _column_transformer(["age"], ["plan", "region"], "most_frequent")
    sk.fit(_as_categories(train, ["plan", "region"]))
    expected = sk.transform(_as_categories(new, ["plan", "region"]))
    got = pre.transform(new)
    np.testing.assert_allclose(pre.transform(train), X, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    names = pre.feature_names
    assert names == ["age", "plan=basic", "plan=pro", "plan=team",
                     "region=east", "region=north", "region=south"]
    # Row 2 has neither plan nor region: basic and east.
    assert [n for n, v in zip(names[1:], got[2, 1:]) if v == 1] == ["plan=basic", "region=east"]
