"""The lesson's table and its three parts as text, for one example.

Formatting only: every number arrives computed by :func:`descend.step`.
"""


def _num(v):
    return f"{v:.6g}"


def _term(w, x):
    return f"({_num(w)})({_num(x)})"


def nonzero_inputs(step, top=None):
    """The features whose xᵢ is not 0 (all of them when ``top`` is None):
    the others add nothing to z and have dwᵢ = 0, and a one-hot or sparse
    row has thousands of them."""
    n = len(step.x)
    return list(range(n)) if top is None else [i for i in range(n) if step.x[i] != 0]


def lesson_rows(step, names=None, top=None):
    """Rows (variable, formula, value, code variable) of the lesson's table.

    When ``top`` limits them, only features with xᵢ ≠ 0 are listed, by
    largest |dwᵢ| first if more than ``top`` are.
    """
    n = len(step.dw)
    names = names or [f"x{i + 1}" for i in range(n)]
    order = nonzero_inputs(step, top)
    if top is not None and len(order) > top:
        order = sorted(order, key=lambda i: -abs(step.dw[i]))[:top]
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
    terms = nonzero_inputs(step, top)
    first = order[:4]
    more = [f"… ({len(terms) - 4} more terms)"] if len(terms) > 4 else []
    symbols = [f"w{i + 1}x{i + 1}" for i in first] + more + ["b"]
    values = [_term(step.w[i], step.x[i]) for i in first] + more + [f"({_num(step.b)})"]
    zeros = n - len(terms)
    lines = inputs_text(step, names, sources, order) if sources and order else []
    lines += ["Forward pass", f"  z = {' + '.join(symbols)}",
              f"    = {' + '.join(values)} = {_num(step.z)}"]
    if zeros:
        lines.append(f"  ({zeros} of the {n} inputs {'is' if zeros == 1 else 'are'} 0: "
                     "their terms add nothing to z and their dwᵢ are 0; --all lists them)")
    lines += [
        f"  a = σ(z) = 1 / (1 + e^(−z)) = {_num(step.a)}",
        f"  L(a, y) = −[y log a + (1 − y) log(1 − a)] with y = {step.y:g}: {_num(step.loss)}",
        "",
        "Backward pass" + _listed(len(order), len(terms), n),
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


def _listed(shown, nonzero, n):
    """What the backward table leaves out, if anything."""
    if shown == n:
        return ""
    if nonzero == n:
        return f" (largest {shown} of {n} |dw|; --all lists every one)"
    if shown == 0:
        return f" (every xᵢ is 0, so every dwᵢ is: --all lists all {n})"
    if shown == nonzero:
        return f" (the {shown} non-zero dwᵢ; --all lists all {n})"
    return f" (largest {shown} of the {nonzero} non-zero |dw|; --all lists all {n})"
