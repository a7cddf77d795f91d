"""The lesson on one example (step), its table as text, and the two-feature
walk-through of ``descend demo --lesson``."""
from descend.lesson.step import LessonStep, step

__all__ = ["LessonStep", "step"]
