"""scikit-learn's own estimator checks."""
from sklearn.utils.estimator_checks import parametrize_with_checks

import descend


@parametrize_with_checks([descend.LogisticRegression(),
                          descend.LogisticRegression(penalty="l1", C=0.5),
                          descend.LogisticRegression(penalty="elasticnet", l1_ratio=0.5)])
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)
