"""The proximal step for one example: the lesson's step, then the L1 threshold.

With the penalty λ‖w‖₁ the update w ← w − α·dw gains one step: every
weight v = w − α·dw is moved α·λ towards zero, and set to exactly zero when
|v| ≤ α·λ (soft-thresholding, the proximal map of α·λ‖·‖₁). The bias is not
penalised. The numbers come from the library's own update rule: "gd" with
the proximal link that training uses (:mod:`descend.optim.proximal`).
"""
import math
import numbers
from dataclasses import dataclass

import numpy as np

from descend.exceptions import UsageError
from descend.optim.proximal import ProximalStep
from descend.optim.rules import make_rule, with_link_after_step


@dataclass(frozen=True)
class ThresholdStep:
    """One proximal gradient step on one example.

    Attributes
    ----------
    gradient : LessonStep
        The lesson's step: forward values, derivatives and v = w − α·dw
        (``gradient.w_new``), b − α·db (``gradient.b_new``).
    l1 : float
        λ of the penalty λ‖w‖₁.
    threshold : float
        α·λ: how far each weight moves towards zero.
    w_new : ndarray of shape (n,)
        sign(v)·max(|v| − α·λ, 0), each weight of v thresholded.
    b_new : float
        b − α·db (the bias is not thresholded).
    """

    gradient: object  # LessonStep (one_step imports this module)
    l1: float
    threshold: float
    w_new: np.ndarray
    b_new: float

    @property
    def zeroed(self):
        """Which weights the threshold set to zero, shape (n,) of bool."""
        return (self.w_new == 0) & (self.gradient.w_new != 0)

    def __str__(self):
        from descend.lesson.text import lesson_text
        return lesson_text(self.gradient) + "\n\n" + threshold_text(self)


def check_l1(l1):
    """λ must be a finite number ≥ 0."""
    if isinstance(l1, bool) or not isinstance(l1, numbers.Real) or \
            not (math.isfinite(l1) and l1 >= 0):
        raise UsageError(f"{{l1}} must be a finite number ≥ 0, e.g. 0.05; got {l1!r}", l1=None)


def threshold_step(gradient, l1):
    """The proximal step after the lesson's ``gradient`` step (a :class:`LessonStep`)."""
    check_l1(l1)
    link = ProximalStep()
    rule = with_link_after_step(make_rule("gd"), link)
    n = len(gradient.w)
    link.thresholds = np.append(np.full(n, float(l1)), 0.0)  # b: no threshold
    theta = np.append(gradient.w, gradient.b)
    grad = np.append(gradient.dw, gradient.db)
    theta, _ = rule.step(theta, grad, rule.init(theta), gradient.alpha)
    return ThresholdStep(gradient=gradient, l1=float(l1), threshold=gradient.alpha * float(l1),
                         w_new=theta[:-1], b_new=float(theta[-1]))


def threshold_text(step, order=None):
    """The threshold, coefficient by coefficient, as text."""
    num = "{:.6g}".format
    t = step.threshold
    v = step.gradient.w_new
    lines = [f"Proximal step (L1, λ = {num(step.l1)}): each v = w − α·dw moves "
             f"α·λ = {num(t)} towards 0, to exactly 0 when |v| ≤ {num(t)}"]
    for i in (range(len(v)) if order is None else order):
        if step.w_new[i] == 0:
            why = f"|v| = {num(abs(v[i]))} ≤ {num(t)}: set to 0"
        else:
            sign = "−" if v[i] > 0 else "+"
            why = f"{num(v[i])} {sign} {num(t)}"
        lines.append(f"  w{i + 1}: v = {num(v[i])}  →  {why}  =  {num(step.w_new[i])}")
    lines.append(f"  b: not penalised, stays {num(step.b_new)}")
    kept = int(np.count_nonzero(step.w_new))
    lines.append(f"  {kept} of {len(v)} weights non-zero after the step")
    return "\n".join(lines)
