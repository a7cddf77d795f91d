"""The learning-rate lesson: one start, four step sizes; then four update rules.

Every path is a real run of :class:`~descend.LogisticRegression` recorded by
:class:`~descend.viz.descent_picture.PathRecorder`, drawn over the same
objective J, with its loss curve below it and one sentence on why it looks
as it does. The step sizes are multiples of 1/L, L the largest curvature of
J at the start (the largest eigenvalue of [X 1]ᵀ[X 1]/4m: at θ = 0 every
a(1 − a) is 1/4, its largest value, so L bounds the curvature everywhere).
"""
import textwrap
from dataclasses import dataclass

import numpy as np

from descend.viz.descent_picture import DescentPath, descent_path, draw_descent, draw_losses, \
    record_run

#: Iterations of every run.
ITERATIONS = 40

#: (name, α as a multiple of 1/L, why the path looks as it does).
RATES = (
    ("too small", 0.1, "Each step is a tenth of what the curvature allows: J falls every "
     "step, but after {n} steps it is still far above J(θ*)."),
    ("about right", 1.0, "1/L is the largest step that the steepest curvature L guarantees "
     "never raises J: a steady slide into the valley."),
    ("too large", 4.0, "Past 2/L a step overshoots the valley along its steepest direction: "
     "the iterates bounce from side to side and J goes up and down."),
    ("far too large", 20.0, "Each overshoot lands higher up the far wall than the last: J "
     "grows until descend stops the run (DivergenceError)."),
)

#: (rule, α as a multiple of 1/L or None for a fixed α, that α, why).
RULES = (
    ("gd", 1.0, None, "w ← w − α∇J follows the steepest slope: quick down the walls, slow "
     "along the valley floor."),
    ("momentum", 1.0, None, "A velocity v ← 0.9v + ∇J builds up along the floor, so it "
     "travels faster, overshoots and swings back."),
    ("nesterov", 1.0, None, "The gradient is taken where the momentum is about to carry θ, "
     "and the momentum restarts when J rises: fast, with little swinging."),
    ("adam", None, 0.1, "Each coordinate's step is divided by its gradient's running size: "
     "steps of about α whatever the slope, not along the gradient."),
)


@dataclass
class Run:
    """One run of the lesson: its name, α, the sentence, the recorded path."""

    name: str
    alpha: float
    why: str
    path: DescentPath
    diverged: bool


def lesson_problem(m=40, seed=0):
    """One feature x (mean 1, sd 1) and labels drawn from σ(1.2x − 1): two
    parameters, w and b, whose valley is long and tilted because x is not centred."""
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 1.0, (m, 1))
    y = (rng.random(m) < 1 / (1 + np.exp(-(1.2 * x[:, 0] - 1.0)))).astype(int)
    return x, y


def smoothness(X, y, fit_intercept=True):
    """L: the largest eigenvalue of J's curvature at θ = 0 (no penalty)."""
    from descend.engine.objective import Objective
    X = np.ascontiguousarray(X, dtype=np.float64)
    curvature = Objective(X, np.asarray(y, dtype=np.float64),
                          fit_intercept=fit_intercept).curvature()
    return float(np.linalg.eigvalsh(curvature).max())


def _run(X, y, solver, alpha, iterations):
    from descend.estimator import LogisticRegression
    clf = LogisticRegression(solver=solver, learning_rate=alpha, C=np.inf, max_iter=iterations,
                             tol=0.0)
    clf, recorder = record_run(clf, X, y)
    return descent_path((recorder, clf), X, y), recorder.error is not None


def rate_runs(X, y, iterations=ITERATIONS):
    """The runs of plain gradient descent at α = 0.1/L, 1/L, 4/L and 20/L."""
    L = smoothness(X, y)
    runs = []
    for name, multiple, why in RATES:
        path, diverged = _run(X, y, "gd", multiple / L, iterations)
        runs.append(Run(f"{name}: α = {multiple:g}/L = {multiple / L:.3g}", multiple / L,
                        why.format(n=iterations), path, diverged))
    return runs


def rule_runs(X, y, iterations=ITERATIONS):
    """gd, momentum and Nesterov at α = 1/L, Adam at α = 0.1, from the same start."""
    L = smoothness(X, y)
    runs = []
    for rule, multiple, fixed, why in RULES:
        alpha = multiple / L if multiple is not None else fixed
        path, diverged = _run(X, y, rule, alpha, iterations)
        runs.append(Run(f"{rule}: α = {alpha:.3g}", alpha, why, path, diverged))
    return runs


def runs_figure(runs, title):
    """Paths over J's contours (top) and J(θₖ) (bottom), one column per run."""
    from descend.viz.plots import plt
    fig, axes = plt.subplots(2, len(runs), figsize=(3.6 * len(runs), 7.2),
                             gridspec_kw={"height_ratios": [1.25, 1]}, squeeze=False)
    for column, run in enumerate(runs):
        top, bottom = axes[0, column], axes[1, column]
        draw_descent(top, run.path)
        top.set_title(run.name + (" (diverged)" if run.diverged else ""), fontsize=9)
        draw_losses(bottom, run.path)
        bottom.set_title("\n".join(textwrap.wrap(run.why, 44)), fontsize=7.5, loc="left")
    axes[0, 0].legend(fontsize=6.5, loc="best")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def learning_rate_lesson(X=None, y=None, iterations=ITERATIONS):
    """The two figures of the lesson and their runs.

    Parameters
    ----------
    X : array-like of shape (m, 1) or (m, 2), optional
        Default :func:`lesson_problem`'s one feature (two parameters, w and b).
    y : array-like of shape (m,), optional

    Returns
    -------
    (rates figure, rules figure, rate runs, rule runs)
    """
    if X is None:
        X, y = lesson_problem()
    rates, rules = rate_runs(X, y, iterations), rule_runs(X, y, iterations)
    return (runs_figure(rates, "The learning rate: the same start, four step sizes "
                        "(plain gradient descent)"),
            runs_figure(rules, "The update rule: the same start, four rules"), rates, rules)
