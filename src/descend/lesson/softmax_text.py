"""The lesson's table for one example of K classes, as text.

Formatting only: every number arrives computed by :func:`descend.step`
(a :class:`~descend.lesson.softmax_step.SoftmaxStep`).
"""
from descend.lesson.text import _num, nonzero_inputs


def largest_dW(step, top=None):
    """(k, i) of the dW entries by largest |dW[k, i]| first: all when ``top``
    is None, else the ``top`` largest of those with xᵢ ≠ 0 (the others are 0)."""
    K, n = step.dW.shape
    order = sorted(((k, i) for k in range(K) for i in nonzero_inputs(step, top)),
                   key=lambda ki: -abs(step.dW[ki]))
    return order if top is None else order[:top]


def softmax_lesson_text(step, names=None, classes=None, top=None):
    """Forward (zₖ, aₖ, L), backward (dzₖ = aₖ − yₖ, the largest dW entries,
    db) and the update of one example of K classes."""
    K, n = step.dW.shape
    names = names or [f"x{i + 1}" for i in range(n)]
    classes = [str(c) for c in classes] if classes else [str(k) for k in range(K)]
    width = max(len("class"), *(len(c) for c in classes))
    lines = [f"Forward pass (K = {K} classes, y = {classes[step.y]!r})",
             "  z_k = w_k·x + b_k,  a = softmax(z): a_k = e^(z_k) / Σ_j e^(z_j)",
             f"  {'class':<{width}} | {'z_k':>12} | {'a_k':>12} | y_k | {'dz_k = a_k − y_k':>16}"]
    lines.append(f"  {'-' * width}-+-{'-' * 12}-+-{'-' * 12}-+-----+-{'-' * 16}")
    for k in range(K):
        lines.append(f"  {classes[k]:<{width}} | {_num(step.z[k]):>12} | {_num(step.a[k]):>12} | "
                     f"{int(k == step.y):>3} | {_num(step.dz[k]):>16}")
    lines += [f"  L = −log a_y = logsumexp(z) − z_y = {_num(step.loss)}", ""]
    shown = largest_dW(step, top)
    nonzero = K * len(nonzero_inputs(step, top))
    lines.append("Backward pass: dz = a − y, dW = dz xᵀ, db = dz" + (
        "" if len(shown) == K * n else f" (largest {len(shown)} of {K * n} |dW|)"
        if nonzero == K * n else f" (largest {len(shown)} of the {nonzero} with xᵢ ≠ 0; "
        f"the other {K * n - nonzero} of the {K * n} are 0)"))
    rows = [(f"W[{classes[k]}, {names[i]}]", f"x{i + 1}·dz_{k + 1}", step.dW[k, i], f"dW[{k}, {i}]")
            for k, i in shown]
    rows += [(f"b[{classes[k]}]", f"dz_{k + 1}", step.db[k], f"db[{k}]") for k in range(K)]
    var_width = max(len("Variable"), *(len(r[0]) for r in rows))
    lines.append(f"  {'Variable':<{var_width}} | {'Derivative':<12} | {'Value':>12} | Code variable")
    lines.append(f"  {'-' * var_width}-+-{'-' * 12}-+-{'-' * 12}-+--------------")
    for var, formula, value, code in rows:
        lines.append(f"  {var:<{var_width}} | {formula:<12} | {_num(value):>12} | {code}")
    lines += ["", f"Update (α = {_num(step.alpha)})"]
    for k, i in shown:
        lines.append(f"  W[{classes[k]}, {names[i]}] = {_num(step.W[k, i])} − "
                     f"{_num(step.alpha)}·({_num(step.dW[k, i])}) = {_num(step.W_new[k, i])}")
    for k in range(K):
        lines.append(f"  b[{classes[k]}] = {_num(step.b[k])} − {_num(step.alpha)}·"
                     f"({_num(step.db[k])}) = {_num(step.b_new[k])}")
    return "\n".join(lines)
