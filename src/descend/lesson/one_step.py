"""One example, step by step: every number of the lesson's table.

The numbers come from running the library's own graph (the fused graph that
training uses, and the unfused chain for a and da) and its own update rule.
"""
import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np

from descend.engine.graph import fused_graph, unfused_graph
from descend.exceptions import UsageError
from descend.lesson.defaults import DEFAULT_ALPHA, DEFAULT_B
from descend.lesson.softmax_step import softmax_step
from descend.lesson.threshold_step import threshold_step
from descend.optim.rules import make_rule


def check_alpha(alpha):
    """The learning rate of the lesson's update must be a positive, finite number."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or \
            not (math.isfinite(alpha) and alpha > 0):
        raise UsageError(f"{{alpha}} must be a positive, finite number, e.g. 0.1; got {alpha!r}",
                         alpha=None)


def check_row(row, n_rows=None):
    """The example's row must be one of the table's ``n_rows`` (counted from 0):
    refused, never moved to the nearest row."""
    if row < 0 or (n_rows is not None and row >= n_rows):
        where = f"the file's rows 0..{n_rows - 1}" if n_rows else \
            "the file's rows (counted from 0)" if n_rows is None else "a file with no rows"
        raise UsageError(f"{{row}} {row} is outside {where}", row=None)


@dataclass(frozen=True)
class LessonStep:
    """Forward values, derivatives and the update for one example.

    ``print(step)`` prints the lesson's table (forward pass, derivatives,
    update); in a notebook the step shows itself as the graph and the table.

    Attributes
    ----------
    x, w : ndarray of shape (n,)
        The example's features and the weights.
    y : float
        The label, 0 or 1.
    b, alpha : float
        The bias and the learning rate α.
    z, a, loss : float
        ``z = wᵀx + b``, ``a = σ(z)``, ``loss = L(a, y) = −[y log a + (1 − y) log(1 − a)]``.
    da : float
        ``−y/a + (1 − y)/(1 − a)``: ∂L/∂a (infinite when a rounds to 0 or 1).
    dz : float
        ``a − y``: ∂L/∂z as the fused graph computes it (finite for every z).
    dz_chain : float
        ∂L/∂z by the chain rule through a, ``da·a(1 − a)``, as the unfused
        graph computes it: equal to ``dz`` up to rounding, except where a
        rounds to 0 or 1 and da is infinite (why the library fuses σ and L).
    dw : ndarray of shape (n,)
        ``x·dz``.
    db : float
        ``dz``.
    w_new, b_new
        ``w − α·dw`` (shape (n,)) and ``b − α·db``: the update.
    """

    x: np.ndarray
    y: float
    w: np.ndarray
    b: float
    alpha: float
    z: float
    a: float
    loss: float
    da: float
    dz: float
    dz_chain: float
    dw: np.ndarray
    db: float
    w_new: np.ndarray
    b_new: float

    def __str__(self):
        from descend.lesson.text import lesson_text
        return lesson_text(self)

    def _repr_html_(self):
        from descend.viz.notebook import step_html
        return step_html(self)

    def to_dict(self):
        """Plain floats and lists (non-finite values as float inf and nan)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else float(v))
                for k, v in asdict(self).items()}

    def to_json(self):
        """:meth:`to_dict` as strict JSON allows it: a value that is not a finite
        number (da when a rounds to 0 or 1) is null, and ``non_finite`` maps
        its field (``dw[2]`` for an element) to "Infinity", "-Infinity" or "NaN"."""
        notes = {}

        def clean(key, value):
            if math.isfinite(value):
                return value
            notes[key] = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
            return None
        data = {k: [clean(f"{k}[{i}]", x) for i, x in enumerate(v)] if isinstance(v, list)
                else clean(k, v) for k, v in self.to_dict().items()}
        if notes:
            data["non_finite"] = notes
        return data


def step(x, y, w, b=DEFAULT_B, alpha=DEFAULT_ALPHA, l1=None):
    """Run forward, backward and one gradient-descent update on one example.

    Parameters
    ----------
    x : array-like of shape (n,)
    y : {0, 1}, or a class index 0 ≤ y < K when w is K × n
    w : array-like of shape (n,), or (K, n) for K classes (softmax)
    b : float, or array-like of shape (K,) for K classes, default 0.0
    alpha : float, default 0.1
        The learning rate α of ``w ← w − α·dw``, ``b ← b − α·db``. The
        defaults are the command line's (``descend explain``).
    l1 : float or None, default None
        λ of an L1 penalty λ‖w‖₁ (two classes): the step is then followed by
        the threshold, each weight moved α·λ towards zero and set to zero
        when it would cross it.

    Returns
    -------
    LessonStep, :class:`~descend.lesson.softmax_step.SoftmaxStep` for K
    classes, or :class:`~descend.lesson.threshold_step.ThresholdStep` with ``l1``
    """
    if np.ndim(w) == 2:
        if l1 is not None:
            raise UsageError("{l1} shows the threshold for two classes; leave it out for K "
                             "classes", l1=None)
        return _k_class_step(x, y, w, b, alpha)
    x = np.asarray(x, dtype=np.float64).ravel()
    w = np.asarray(w, dtype=np.float64).ravel()
    if x.shape != w.shape:
        raise ValueError(f"x has {x.size} features but w has {w.size}; give one weight per feature")
    if y not in (0, 1):
        raise ValueError(f"y must be 0 or 1, got {y!r}")
    _check_finite(x, w, b)
    check_alpha(alpha)
    # Overflow is part of the lesson (da is infinite when a rounds to 1): the
    # values say so, without a RuntimeWarning.
    with np.errstate(all="ignore"):
        gradient = _step(x, y, w, b, alpha)
    return gradient if l1 is None else threshold_step(gradient, l1)


def _check_finite(x, w, b):
    """x, w and b must be finite: NaN and infinity have no lesson."""
    for name, value in (("x", x), ("w", w), ("b", b)):
        if not np.all(np.isfinite(value)):
            raise UsageError(f"{{{name}}} must be finite numbers; NaN and infinity have no "
                             "lesson", **{name: None})


def _k_class_step(x, y, W, b, alpha):
    """The K-class lesson: W (K, n), b (K,), y a class index."""
    x = np.asarray(x, dtype=np.float64).ravel()
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64).ravel()
    K = W.shape[0]
    if b.size == 1:  # one b for every class (the default b = 0 included)
        b = np.full(K, b[0])
    if W.shape[1] != x.size or b.shape != (K,):
        raise ValueError(f"x has {x.size} features, W is {W.shape[0]} × {W.shape[1]} and b "
                         f"has {b.size} values; give W one row of {x.size} weights and b "
                         "one value per class")
    if isinstance(y, (bool, np.bool_)) or not isinstance(y, (numbers.Integral, np.integer)) \
            or not 0 <= y < K:
        raise ValueError(f"y must be a class index 0..{K - 1}, got {y!r}")
    _check_finite(x, W, b)
    check_alpha(alpha)
    return softmax_step(x, int(y), W, b, alpha)


def _step(x, y, w, b, alpha):
    leaves = dict(x=x[None, :], w=w, b=float(b), y=np.array([float(y)]), s=None, S=1.0)
    fused = fused_graph()
    values = fused.forward(**leaves)
    grads = fused.backward(values)
    chain = unfused_graph()
    chain_values = chain.forward(**leaves)
    chain_grads = chain.backward(chain_values)
    rule, theta = make_rule("gd"), np.append(w, b)
    theta, _ = rule.step(theta, np.append(grads["w"], grads["b"]), rule.init(theta), alpha)
    return LessonStep(
        x=x, y=float(y), w=w, b=float(b), alpha=float(alpha),
        z=float(values["z"][0]), a=float(chain_values["a"][0]), loss=float(values["L"][0]),
        da=float(chain_grads["a"][0]), dz=float(grads["z"][0]),
        dz_chain=float(chain_grads["z"][0]), dw=np.asarray(grads["w"], dtype=np.float64),
        db=float(grads["b"]), w_new=theta[:-1], b_new=float(theta[-1]))
