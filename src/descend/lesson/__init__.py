"""The lesson on one example (step), its table as text, and the two-feature
walk-through of ``descend demo --lesson``."""
__all__ = ["LessonStep", "step"]


def __getattr__(name):
    # Imported on first use: the command line's help must not wait for the engine.
    if name in __all__:
        from descend.lesson import one_step as module
        return getattr(module, name)
    raise AttributeError(f"module 'descend.lesson' has no attribute {name!r}")
