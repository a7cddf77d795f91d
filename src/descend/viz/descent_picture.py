"""The descent picture: the objective J as contour lines, the solver's iterates
as a path across them, the optimum marked.

With two parameters (one feature and b, or two features and no b) the axes
are the parameters themselves. With more, the path is drawn in the plane
through the last iterate spanned by the two directions the iterates move
most in (the top two right singular vectors of the iterates' offsets), and
the plot says so; J is then evaluated on that plane.

The path is the solver's real run: :class:`PathRecorder` is a training
callback that keeps each iterate θₖ, and the losses drawn are the run's
``history`` (J(θₖ) as the solver recorded it).
"""
import warnings
from dataclasses import dataclass

import numpy as np

from descend.exceptions import DivergenceError, UsageError
from descend.frame_input import coefficient_names

#: Grid points per axis of the contour plot.
GRID = 60
#: Contour lines drawn.
N_LEVELS = 14


class PathRecorder:
    """A ``callback`` for :class:`~descend.LogisticRegression` that keeps every iterate.

    After a fit, ``points`` has shape (K + 1, p): θ₀ (where J was first
    evaluated) and the point after each of the K iterations; ``history`` is
    the solver's K records, so ``history[k]["loss"]`` is J(``points[k]``).
    The iterates are the parameters [w, b] in the features' own units, which
    needs ``preconditioner="none"`` (what a fixed ``learning_rate`` uses by
    default); :func:`descent` checks it. A run that diverges keeps what it
    recorded up to the error.

    Parameters
    ----------
    then : callable or None
        Another callback, called after recording (a progress bar).
    """

    def __init__(self, then=None):
        self.then = then
        self.points, self.history = [], []
        self.error = None    # the DivergenceError that ended the run, if one did

    def __call__(self, state):
        if state.iteration == 1 or not self.points:
            # After the first iteration, the best point is the one J was evaluated at: θ₀.
            self.points = [np.array(state.best_theta if state.best_theta is not None
                                    else state.theta, dtype=np.float64)]
        self.points.append(np.array(state.theta, dtype=np.float64))
        self.history = state.history
        if self.then is not None:
            self.then(state)

    @property
    def losses(self):
        """J at each evaluated iterate, shape (K,)."""
        return np.array([h["loss"] for h in self.history])


@dataclass
class DescentPath:
    """What the picture draws; every number comes from the run and its objective.

    ``points`` (K + 1, p) are the iterates, ``losses`` (K,) the run's J at the
    first K, ``optimum`` the minimiser θ* (None when J has none: separable
    classes without a penalty), ``names`` the parameters' names.
    """

    points: np.ndarray
    losses: np.ndarray
    optimum: object
    optimum_loss: float
    names: list
    loss: object           # θ ↦ J(θ), the objective the run minimised
    title: str = ""


def _objective_of(clf, X, y):
    """J of the estimator's own objective on (X, y): θ ↦ float."""
    from descend.engine.objective import Objective
    X = np.ascontiguousarray(X, dtype=np.float64)
    y01 = (np.asarray(y) == clf.classes_[1]).astype(np.float64)
    l2 = 0.0 if np.isinf(clf.C) else 1.0 / (clf.C * len(y01))
    objective = Objective(X, y01, l2=l2, fit_intercept=clf.fit_intercept, n_threads=1)
    return lambda theta: objective.loss_grad(np.asarray(theta, dtype=np.float64))[0]


def record_run(clf, X, y):
    """Refit a copy of ``clf`` on (X, y) with a :class:`PathRecorder`; return both.

    The copy keeps the update rule, learning rate, C and iterations, and works
    in the parameters' own coordinates (``preconditioner="none"``). A fixed
    learning rate that diverges is part of the lesson: the run so far is kept.
    """
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    recorder = PathRecorder()
    copy = clone(clf).set_params(preconditioner="none", callback=recorder, warm_start=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            copy.fit(X, y)
        except DivergenceError as exc:
            recorder.error = exc
            copy.classes_ = np.unique(y)
    return copy, recorder


def _optimum(clf, X, y):
    """θ* of the same objective, from a tight fit (None when there is none)."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    best = clone(clf).set_params(solver="auto", learning_rate="auto", preconditioner="auto",
                                 max_iter=2000, tol=1e-14, callback=None, warm_start=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            best.fit(X, y)
        except ConvergenceWarning:
            return None
    theta = best.coef_.ravel()
    return np.append(theta, best.intercept_[0]) if best.fit_intercept else theta


def parameter_names(n_features, fit_intercept, feature_names=None):
    """w1 … wn (with the feature's name when it has one) and b."""
    names = [f"w{i + 1}" + (f" ({feature_names[i]})" if feature_names is not None else "")
             for i in range(n_features)]
    return names + (["b"] if fit_intercept else [])


def descent_path(model_or_history, X, y, feature_names=None):
    """The iterates, losses and optimum of a run on (X, y), as a :class:`DescentPath`.

    ``model_or_history`` is a :class:`~descend.LogisticRegression` (fitted
    with a :class:`PathRecorder` as its callback, whose run is drawn as it
    was, unless its solver worked in preconditioned coordinates; otherwise a
    copy is refitted with one, see :func:`record_run`) or a
    :class:`PathRecorder` together with the estimator it recorded, as a pair
    ``(recorder, estimator)``, which must have run in w and b's own units.
    """
    recorder, clf = None, model_or_history
    if isinstance(model_or_history, tuple):
        recorder, clf = model_or_history
    elif isinstance(getattr(clf, "callback", None), PathRecorder) and clf.callback.points \
            and _in_user_coordinates(clf):
        recorder = clf.callback
    if not (hasattr(clf, "get_params") and hasattr(clf, "preconditioner")):
        raise UsageError("descent() draws a descend.LogisticRegression's run, or a "
                         "(PathRecorder, LogisticRegression) pair; got "
                         f"{type(model_or_history).__name__}")
    if recorder is None:
        clf, recorder = record_run(clf, X, y)
    if not recorder.points:
        raise UsageError("the recorder holds no iterates: fit the estimator with "
                         "callback=PathRecorder() first")
    _check_user_coordinates(clf, recorder)
    names = feature_names if feature_names is not None else coefficient_names(clf)
    points = np.array(recorder.points)
    optimum = _optimum(clf, X, y)
    loss = _objective_of(clf, X, y)
    return DescentPath(points=points, losses=recorder.losses, optimum=optimum,
                       optimum_loss=loss(optimum) if optimum is not None else np.nan,
                       names=parameter_names(points.shape[1] - int(clf.fit_intercept),
                                             clf.fit_intercept, names),
                       loss=loss, title=f"{clf.solver} updates, α = {_rate(clf)}")


def _rate(clf):
    return clf.learning_rate if clf.learning_rate == "auto" else f"{clf.learning_rate:.3g}"


def _in_user_coordinates(clf):
    """Whether the solver's iterates are [w, b] themselves (no change of variables)."""
    return clf.preconditioner == "none" or (clf.preconditioner == "auto"
                                            and clf.learning_rate != "auto")


def _check_user_coordinates(clf, recorder):
    """The iterates must be [w, b] themselves, not preconditioned coordinates."""
    if not _in_user_coordinates(clf):
        raise UsageError("the recorded iterates are in preconditioned coordinates; fit with "
                         "preconditioner='none' to record the path in w and b")


def plane_of(points):
    """(centre (p,), basis (2, p), share of the movement the plane holds)."""
    centre = points[-1]
    offsets = points - centre
    _, s, vt = np.linalg.svd(offsets, full_matrices=False)
    basis = vt[:2] if len(vt) >= 2 else np.vstack([vt[:1], np.zeros_like(vt[:1])])
    share = float((s[:2] ** 2).sum() / max((s ** 2).sum(), 1e-300))
    return centre, basis, share


@dataclass
class Plane:
    """Where the picture's two axes lie in parameter space: θ = centre + u·e₁ + v·e₂."""

    centre: np.ndarray
    basis: np.ndarray      # (2, p)
    labels: tuple
    note: str

    def to_theta(self, u, v):
        """θ of the plane's points (u, v), shape (..., p)."""
        return self.centre + np.multiply.outer(u, self.basis[0]) + np.multiply.outer(v, self.basis[1])

    def coordinates(self, theta):
        """(u, v) of parameter vectors θ (..., p): their projection on the plane."""
        return (np.asarray(theta) - self.centre) @ self.basis.T


def plane_for(path):
    """The parameters themselves for two; the plane of most movement for more."""
    p = path.points.shape[1]
    if p < 2:
        raise UsageError("the descent picture needs two parameters or more (one feature "
                         "with fit_intercept=True, or two features)")
    if p == 2:
        return Plane(np.zeros(2), np.eye(2), tuple(path.names), "")
    centre, basis, share = plane_of(path.points)
    note = (f"{p} parameters, drawn in the plane through the last iterate of the two "
            f"directions the iterates move most in ({share:.1%} of their movement)")
    return Plane(centre, basis, ("direction u₁", "direction u₂"), note)


def contour_levels(path, grid_loss=None):
    """Levels from the lowest loss (the path's or θ*'s) up to the path's highest,
    spaced geometrically above the lowest so that the lines near θ* show."""
    losses = path.losses[np.isfinite(path.losses)]
    lo = float(np.nanmin(np.append(losses, path.optimum_loss)))
    hi = float(losses.max()) if losses.size else lo
    if not hi > lo * (1 + 1e-12) + 1e-15:
        hi = float(np.nanmax(grid_loss)) if grid_loss is not None else lo + 1.0
    return np.unique(np.append(lo, lo + (hi - lo) * np.geomspace(1e-4, 1.0, N_LEVELS - 1)))


def grid_of(path, plane, size=GRID):
    """(U, V, J on the plane's grid) over the path and θ*, with a margin."""
    xy = plane.coordinates(path.points)
    if path.optimum is not None:
        xy = np.vstack([xy, plane.coordinates(path.optimum)])
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    # Neither axis much narrower than the other, so that J's valley shows its shape.
    span = np.maximum(hi - lo, 0.4 * np.max(hi - lo))
    lo, hi = (lo + hi - span) / 2, (lo + hi + span) / 2
    pad = 0.15 * np.maximum(span, 1e-3 * np.maximum(np.abs(hi), 1.0))
    U, V = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], size),
                       np.linspace(lo[1] - pad[1], hi[1] + pad[1], size))
    thetas = plane.to_theta(U, V)
    J = np.array([path.loss(t) for t in thetas.reshape(-1, thetas.shape[-1])]).reshape(U.shape)
    return U, V, J


def draw_descent(ax, path, label="path", color="#d62728"):
    """Contours of J, the path of iterates and θ* on ``ax``; returns the ContourSet.

    With more than two parameters the plane's note (what the axes are) is
    the axes' title; a caller's title goes above it."""
    plane = plane_for(path)
    U, V, J = grid_of(path, plane)
    levels = contour_levels(path, J)
    contours = ax.contour(U, V, J, levels=levels, cmap="viridis", linewidths=0.8)
    xy = plane.coordinates(path.points)
    marker = "o" if len(xy) <= 80 else None
    ax.plot(xy[:, 0], xy[:, 1], color=color, lw=1.2, marker=marker, ms=2.5, label=label)
    ax.plot(*xy[0], "s", color="black", ms=5, label="start θ₀")
    if path.optimum is not None:
        ax.plot(*plane.coordinates(path.optimum), "*", color="gold", mec="black", ms=12,
                label="optimum θ*" + (" (projected)" if plane.note else ""))
    ax.set_xlim(U.min(), U.max())
    ax.set_ylim(V.min(), V.max())
    ax.set_xlabel(plane.labels[0])
    ax.set_ylabel(plane.labels[1])
    if plane.note:
        import textwrap
        ax.set_title("\n".join(textwrap.wrap(plane.note, 62)), fontsize=7.5)
    return contours


def descent_figure(path, title=None):
    """The descent picture and the loss curve beside it, as a Figure."""
    from descend.viz.plots import plt
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(10, 4.2),
                                      gridspec_kw={"width_ratios": [1.35, 1]})
    draw_descent(ax, path)
    heading = title or f"Gradient descent on J ({path.title})"
    ax.set_title("\n".join(filter(None, [heading, ax.get_title()])), fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    draw_losses(ax_loss, path)
    fig.tight_layout()
    return fig


def draw_losses(ax, path, color="#d62728", label=None):
    """J per iteration (log scale when it spans decades), J(θ*) dashed."""
    it = np.arange(len(path.losses))
    ax.plot(it, path.losses, color=color, label=label, marker="." if len(it) <= 80 else None)
    if np.isfinite(path.optimum_loss):
        ax.axhline(path.optimum_loss, color="grey", ls="--", lw=0.8, label="J(θ*)")
    finite = path.losses[np.isfinite(path.losses)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 30:
        ax.set_yscale("log")
    ax.set_xlabel("iteration k")
    ax.set_ylabel("J(θₖ)")
    ax.grid(alpha=0.3)


def descent(model_or_history, X, y, feature_names=None, title=None):
    """The descent picture of a run on (X, y), as a matplotlib Figure.

    Parameters
    ----------
    model_or_history : LogisticRegression or (PathRecorder, LogisticRegression)
        The run to draw (see :func:`descent_path`).
    X : array-like of shape (m, n)
    y : array-like of shape (m,)
    feature_names : list of str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Left: J's contour lines, the iterates θ₀, θ₁, … as a path, θ* starred.
        Right: J(θₖ) per iteration.
    """
    return descent_figure(descent_path(model_or_history, X, y, feature_names), title)
