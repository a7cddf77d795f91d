"""The lesson's table and its three parts as text, for one example.

Formatting only: every number arrives computed by :func:`descend.step`.
"""


def _num(v):
    return f"{v:.6g}"


def _term(w, x):
    return f"({_num(w)})({_num(x)})"


def lesson_rows(step, names=None, top=None):
    """Rows (variable, formula, value, code variable) of the lesson's table.

    Features are listed by largest |dwᵢ| first when ``top`` limits them.
    """
    n = len(step.dw)
    names = names or [f"x{i + 1}" for i in range(n)]
    order = list(range(n)) if top is None or top >= n else \
        sorted(range(n), key=lambda i: -abs(step.dw[i]))[:top]
    rows = [("a", "−y/a + (1−y)/(1−a)", step.da, "da"),
            ("z", "a − y", step.dz, "dz")]
    for i in order:
        label = f"w{i + 1}" + (f" ({names[i]})" if names[i] != f"x{i + 1}" else "")
        rows.append((label, f"x{i + 1}·(a − y)", step.dw[i], f"dw{i + 1}"))
    rows.append(("b", "a − y", step.db, "db"))
    return rows, order


def inputs_text(step, names, sources, order):
    """Each shown xᵢ as the graph uses it, beside the file's value (see
    :mod:`descend.lesson.units`)."""
    from descend.lesson.units import STANDARDISATION
    labels = [f"x{i + 1}" + (f" ({names[i]})" if names and names[i] != f"x{i + 1}" else "")
              for i in order]
    width = max(map(len, labels))
    values = [_num(step.x[i]) for i in order]
    vwidth = max(map(len, values))
    lines = ["Inputs", f"  {STANDARDISATION}"]
    for label, value, i in zip(labels, values, order):
        lines.append(f"  {label:<{width}} = {value:>{vwidth}}   {sources[i].long}")
    return lines + [""]


def lesson_text(step, names=None, top=None, sources=None):
    """The lesson's three parts for one example: forward, backward table, update.

    ``sources`` (one :class:`~descend.lesson.units.Source` per feature) adds
    the inputs in the file's units first."""
    n = len(step.x)
    rows, order = lesson_rows(step, names, top)
    shown = order if len(order) < n else range(n)
    terms = " + ".join(f"w{i + 1}x{i + 1}" for i in list(shown)[:4])
    values = " + ".join(_term(step.w[i], step.x[i]) for i in list(shown)[:4])
    more = f" + … ({n - 4} more terms)" if n > 4 else ""
    y = step.y
    lines = inputs_text(step, names, sources, order) if sources else []
    lines += [
        "Forward pass",
        f"  z = {terms}{more} + b",
        f"    = {values}{more} + ({_num(step.b)}) = {_num(step.z)}",
        f"  a = σ(z) = 1 / (1 + e^(−z)) = {_num(step.a)}",
        f"  L(a, y) = −[y log a + (1 − y) log(1 − a)] with y = {y:g}: {_num(step.loss)}",
        "",
        "Backward pass" + (f" (largest {len(order)} of {n} |dw|; --all lists every one)"
                           if len(order) < n else ""),
    ]
    width = max(len("Variable"), *(len(r[0]) for r in rows))
    lines.append(f"  {'Variable':<{width}} | {'Derivative formula':<20} | {'Value':>12} | Code variable")
    lines.append(f"  {'-' * width}-+-{'-' * 20}-+-{'-' * 12}-+--------------")
    for var, formula, value, code in rows:
        lines.append(f"  {var:<{width}} | {formula:<20} | {_num(value):>12} | {code}")
    lines += ["", f"Update (α = {_num(step.alpha)})"]
    for i in order:
        lines.append(f"  w{i + 1} = {_num(step.w[i])} − {_num(step.alpha)}·({_num(step.dw[i])}) "
                     f"= {_num(step.w_new[i])}")
    lines.append(f"  b = {_num(step.b)} − {_num(step.alpha)}·({_num(step.db)}) = {_num(step.b_new)}")
    return "\n".join(lines)
