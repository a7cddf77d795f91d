"""descend: logistic regression trained by gradient descent, every number shown.

The core is the lesson's computation graph (:mod:`descend.engine.graph`), the
objective evaluated in one pass over X (:mod:`descend.engine.objective`),
update rules (:mod:`descend.optim.rules`), the loop (:mod:`descend.optim.solver`)
and a scikit-learn estimator (:class:`LogisticRegression`).

The names below are imported on first use, so that ``descend --help`` does
not wait for scikit-learn and the compiled kernels.
"""
from descend.exceptions import (
    DataError,
    DescendError,
    DivergenceError,
    ModelFileError,
    UsageError,
)

__version__ = "0.1.0"
__all__ = ["LogisticRegression", "LogisticRegressionCV", "step", "DescendError", "DataError", "UsageError",
           "DivergenceError", "ModelFileError", "__version__"]


def __getattr__(name):
    if name == "LogisticRegression":
        from descend.estimator import LogisticRegression
        return LogisticRegression
    if name == "LogisticRegressionCV":
        from descend.cv import LogisticRegressionCV
        return LogisticRegressionCV
    if name == "step":
        from descend.lesson.one_step import step
        return step
    raise AttributeError(f"module 'descend' has no attribute {name!r}")
