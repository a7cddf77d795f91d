"""The descent picture of a trained table model (``explain --descent``, the report).

The model file keeps the estimator's parameters; the run is made again on
the table's preprocessed rows with a :class:`~descend.viz.descent_picture.PathRecorder`.
"""
from descend.estimator import LogisticRegression
from descend.viz.descent_picture import descent_path


def model_descent_path(model, X, y):
    """The :class:`~descend.viz.descent_picture.DescentPath` of a trained table
    model's settings on its preprocessed rows X (m, n) and 0/1 labels y: the
    same rule, rate, C and iterations, run afresh in w and b's own coordinates."""
    allowed = LogisticRegression().get_params()
    params = {k: v for k, v in model.params.items() if k in allowed and k != "callback"}
    return descent_path(LogisticRegression(**params), X, y, model.preprocessor.feature_names)
