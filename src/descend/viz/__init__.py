"""Pictures: plots (matplotlib), the computation graph (Graphviz), the descent
picture, the HTML report and the lesson page.

``descend.viz.descent(model, X, y)`` draws the descent picture
(:func:`descend.viz.descent_picture.descent`); ``PathRecorder`` is the
callback that keeps a run's iterates.
"""
__all__ = ["descent", "PathRecorder", "learning_rate_lesson"]


def __getattr__(name):
    # Imported on first use: matplotlib is not needed for ``import descend.viz``.
    if name in ("descent", "PathRecorder"):
        from descend.viz import descent_picture
        return getattr(descent_picture, name)
    if name == "learning_rate_lesson":
        from descend.viz.rates import learning_rate_lesson
        return learning_rate_lesson
    raise AttributeError(f"module 'descend.viz' has no attribute {name!r}")
