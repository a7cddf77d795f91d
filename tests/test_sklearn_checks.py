"""scikit-learn's own estimator checks."""
from sklearn.utils.estimator_checks import parametrize_with_checks

import descend


@parametrize_with_checks([descend.LogisticRegression()])
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)
