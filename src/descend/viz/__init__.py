"""Pictures: plots (matplotlib), the computation graph (Graphviz), the descent
picture, the HTML report and the lesson page.

``descend.viz.descent(model, X, y)`` draws the descent picture
(:func:`descend.viz.descent_picture.descent`); ``PathRecorder`` is the
callback that keeps a run's iterates. The learning-rate lesson is
:func:`descend.viz.rates.learning_rate_lesson`. (The estimator's notebook
display lives here too, so nothing named here may import the estimator.)
"""
__all__ = ["descent", "PathRecorder"]


def __getattr__(name):
    # Imported on first use: matplotlib is not needed for ``import descend.viz``.
    if name in ("descent", "PathRecorder"):
        from descend.viz import descent_picture
        return getattr(descent_picture, name)
    raise AttributeError(f"module 'descend.viz' has no attribute {name!r}")
