"""The lesson, literally: two features, a few examples, one cycle, then training.

Prints one forward/backward/update cycle on the first example exactly as the
lesson lays it out, then runs the lesson's plain gradient descent on all the
examples and draws the boundary w₁x₁ + w₂x₂ + b = 0 as it moves, the path
of (w, b) over J's contours, and the learning-rate lesson.
"""
import numpy as np

from descend.engine.objective import Objective
from descend.estimator import LogisticRegression
from descend.lesson.one_step import step
from descend.lesson.text import lesson_text

ALPHA = 0.5
SNAPSHOTS = (1, 5, 20, 100)


def lesson_data(m=12, seed=3):
    """A handful of examples with two features, two overlapping clouds."""
    rng = np.random.default_rng(seed)
    y = np.arange(m) % 2
    X = rng.normal(0, 0.7, (m, 2)) + np.where(y[:, None] == 1, [2.5, 2.0], [0.5, 0.5])
    return X, y


def lesson_walkthrough(out_dir, echo=print):
    """Run the walk-through, print it, write the boundary figure; return its path."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from descend.viz.plots import boundary_figure, save_figure
    X, y = lesson_data()
    echo(f"The lesson with two features and {len(y)} examples; w = (0, 0), b = 0, α = {ALPHA}.\n")
    echo(f"One cycle on row 0: x = ({X[0, 0]:.4g}, {X[0, 1]:.4g}), y = {y[0]}\n")
    echo(lesson_text(step(X[0], int(y[0]), np.zeros(2), 0.0, ALPHA)))
    echo(f"\nNow the same update averaged over all {len(y)} examples "
         "(dw = Xᵀ(a − y)/m, db = mean(a − y)), repeated:")
    lines, w, b = [], np.zeros(2), 0.0
    clf = LogisticRegression(solver="gd", learning_rate=ALPHA, C=np.inf, warm_start=True,
                             max_iter=1)
    done = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for target in SNAPSHOTS:
            clf.max_iter = target - done
            clf.fit(X, y)
            done = target
            w, b = clf.coef_.ravel(), float(clf.intercept_[0])
            loss, _ = Objective(X, y).loss_grad(np.append(w, b))
            steps = f"{target:>3} step" + ("s" if target != 1 else " ")
            echo(f"  after {steps}: loss {loss:.5f}  w = ({w[0]:.4f}, {w[1]:.4f})  b = {b:.4f}")
            lines.append((w.copy(), b, f"after {steps.strip()}"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "lesson-boundary.png"
    save_figure(boundary_figure(X, y, lines, title="The boundary moving as w and b learn"), path)
    echo(f"\nboundary after 1, 5, 20 and 100 steps drawn in {path}")
    return [path, descent_walkthrough(X, y, out_dir, echo), *rates_walkthrough(out_dir, echo)]


def descent_walkthrough(X, y, out_dir, echo=print):
    """The same 100 steps as a path of (w₁, w₂, b) over J's contours."""
    from descend.viz.descent_picture import PathRecorder, descent_figure, descent_path
    from descend.viz.plots import save_figure
    recorder = PathRecorder()
    clf = LogisticRegression(solver="gd", learning_rate=ALPHA, C=np.inf, max_iter=SNAPSHOTS[-1],
                             tol=0.0, callback=recorder)
    _quietly(clf.fit, X, y)
    path = out_dir / "lesson-descent.png"
    save_figure(descent_figure(descent_path((recorder, clf), X, y),
                               f"The {SNAPSHOTS[-1]} steps of gradient descent (α = {ALPHA})"), path)
    echo(f"the path of (w₁, w₂, b) over the contours of J drawn in {path}")
    return path


def rates_walkthrough(out_dir, echo=print):
    """The learning-rate lesson: four step sizes, then four update rules."""
    from descend.viz.plots import save_figure
    from descend.viz.rates import ITERATIONS, learning_rate_lesson
    fig_rates, fig_rules, rates, rules = learning_rate_lesson()
    paths = out_dir / "lesson-rates.png", out_dir / "lesson-rules.png"
    for title, runs, fig, path in (("the learning rate", rates, fig_rates, paths[0]),
                                   ("the update rule", rules, fig_rules, paths[1])):
        echo(f"\nNow {title}: one feature and b, the same start (w, b) = (0, 0), "
             f"{ITERATIONS} iterations each.")
        for run in runs:
            end = "diverged" if run.diverged else f"J = {run.path.losses[-1]:.5f}"
            echo(f"  {run.name:<34} {end}\n      {run.why}")
        save_figure(fig, path)
        echo(f"paths and loss curves side by side drawn in {path}")
    return list(paths)


def _quietly(fit, X, y):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit(X, y)
