"""descend: logistic regression trained by gradient descent, every number shown.

The core is the lesson's computation graph (:mod:`descend.graph`), the
objective evaluated in one pass over X (:mod:`descend.objective`), update rules
(:mod:`descend.optim`), the loop (:mod:`descend.solver`) and a scikit-learn
estimator (:class:`LogisticRegression`).
"""
from descend.estimator import LogisticRegression
from descend.exceptions import (
           DataError,
           DescendError,
           DivergenceError,
           ModelFileError,
           UsageError,
)
from descend.lesson.step import step

__version__ = "0.1.0"
__all__ = ["LogisticRegression", "step", "DescendError", "DataError", "UsageError",
           "DivergenceError", "ModelFileError", "__version__"]
