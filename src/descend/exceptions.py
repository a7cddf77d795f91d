"""The errors ``descend`` raises on purpose, each naming what is wrong and the fix."""
import warnings


class DescendError(ValueError):
    """Base of every error ``descend`` raises about its input.

    The message may name the options that fix the problem as ``{name}``,
    with ``name=value`` given as keyword arguments: the library phrases them
    as Python arguments (``impute='mean'``), the command line as its flags
    (``--impute mean``), so the library never speaks the CLI's language.
    A list value offers alternatives; True is a flag; None names the option
    alone.
    """

    def __init__(self, message="", **options):
        self.template, self.options = message, options
        super().__init__(self.phrase(python_argument))

    def phrase(self, spell):
        """The message with each option written by ``spell(name, value)``."""
        text = self.template
        for name, value in self.options.items():
            text = text.replace("{" + name + "}", spell(name, value))
        return text


def python_argument(name, value):
    """An option as a keyword argument: impute='mean' (or 'median')."""
    if value is None:
        return name
    if isinstance(value, list):
        others = ", ".join(map(repr, value[1:]))
        return f"{name}={value[0]!r}" + (f" (or {others})" if others else "")
    return f"{name}={value!r}"


class DescendWarning(UserWarning):
    """Something the user should know, worded like :class:`DescendError`
    (options as ``{name}``, phrased by the library or by the CLI)."""

    def __init__(self, message, **options):
        self.template, self.options = message, options
        super().__init__(self.phrase(python_argument))

    phrase = DescendError.phrase


class DataError(DescendError):
    """The data cannot be used as given (command line: exit code 1)."""


class UsageError(DescendError):
    """An option or argument is wrong (command line: exit code 2)."""


class DivergenceError(DescendError):
    """Training diverged: the loss became non-finite or kept rising."""


class ModelFileError(DataError):
    """A model or checkpoint file is corrupt, truncated or of another format."""


def warn_not_converged(n_iter, measure, tol, separable=False):
    """Tell the user the solver stopped at max_iter and what to change."""
    from sklearn.exceptions import (
        ConvergenceWarning,  # scikit-learn's, so filters apply
    )
    if separable:
        warnings.warn(
            "descend stopped early: the classes are perfectly separable and C=inf, so the "
            "loss has no minimum (the weights would grow forever); the coefficients found "
            "separate the classes; use a finite C such as C=1.0 for a unique optimum",
            ConvergenceWarning, stacklevel=3)
        return
    warnings.warn(
        f"descend stopped after max_iter={n_iter} iterations before reaching "
        f"tol={tol:g} (last stopping measure {measure:.3g}); increase max_iter, "
        "or use the default solver='auto' with learning_rate='auto'.",
        ConvergenceWarning, stacklevel=3)
