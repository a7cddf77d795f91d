"""The lesson, literally: two features, a few examples, one cycle, then training.

Prints one forward/backward/update cycle on the first example exactly as the
lesson lays it out, then runs the lesson's plain gradient descent on all the
examples and draws the boundary w₁x₁ + w₂x₂ + b = 0 as it moves.
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
    echo(f"One cycle on example 1: x = ({X[0, 0]:.4g}, {X[0, 1]:.4g}), y = {y[0]}\n")
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
            echo(f"  after {target:>3} steps: loss {loss:.5f}  w = ({w[0]:.4f}, {w[1]:.4f})  b = {b:.4f}")
            lines.append((w.copy(), b, f"after {target} steps"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "lesson-boundary.png"
    save_figure(boundary_figure(X, y, lines, title="The boundary moving as w and b learn"), path)
    echo(f"\nboundary after 1, 5, 20 and 100 steps drawn in {path}")
    return path
