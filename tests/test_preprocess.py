"""The JSON-kept preprocessing replays scikit-learn's fitted transformation."""
import json

import numpy as np
import pytest

from conftest import customers_frame
from descend.data.preprocess import Preprocessor, _as_categories, _column_transformer


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
