"""The lesson's computation graph of one example, drawn with its numbers.

Inputs xᵢ, parameters wᵢ and b, then z, a and L, each labelled with its value
and its gradient, arrows in the forward direction (like micrograd's draw_dot).
Graphviz draws it; without Graphviz's ``dot`` a text rendering stands in.
"""
import shutil

MAX_FEATURES_DRAWN = 8


def _n(v):
    return f"{v:.4g}"


def _record_text(text):
    """Text inside a Graphviz record label: its field syntax escaped."""
    return "".join("\\" + ch if ch in '\\{}|<>"' else ch for ch in str(text))


def _input_name(i, names):
    """x3, or x3 (age) when the feature has a name of its own."""
    return f"x{i + 1}" if names[i] == f"x{i + 1}" else f"x{i + 1} ({names[i]})"


def nonzero_features(step):
    """The features with xᵢ ≠ 0: on a sparse or one-hot row the only ones
    that reach z (the others add 0 and have dwᵢ = 0)."""
    return [i for i in range(len(step.x)) if step.x[i] != 0]


def drawn_features(step, limit=MAX_FEATURES_DRAWN):
    """Indices of the features to draw: all, or of those with xᵢ ≠ 0 the
    largest |dwᵢ| first."""
    n = len(step.x)
    if n <= limit:
        return list(range(n))
    return sorted(sorted(nonzero_features(step), key=lambda i: -abs(step.dw[i]))[:limit])


def to_dot(step, names=None, limit=MAX_FEATURES_DRAWN, sources=None):
    """A :class:`graphviz.Digraph` of the example's graph.

    Each feature is one node of two compartments, the input xᵢ and its weight
    wᵢ (both lead into z), so the picture stays narrow enough to be read at
    the width of a page. ``sources`` (one short text per feature, or None)
    says what the file holds where xᵢ is a standardised number or a one-hot
    indicator ("file 13").
    """
    import graphviz
    n = len(step.x)
    names = names or [f"x{i + 1}" for i in range(n)]
    g = graphviz.Digraph("lesson", graph_attr={"rankdir": "LR", "bgcolor": "white",
                                               "nodesep": "0.12", "ranksep": "0.35"},
                         node_attr={"shape": "record", "fontname": "Helvetica", "fontsize": "14",
                                    "style": "filled", "fillcolor": "#fff4e5"})
    shown = drawn_features(step, limit)
    for i in shown:
        source = f"\\n{_record_text(sources[i])}" if sources and sources[i] else ""
        g.node(f"f{i}", f"{{ {_record_text(_input_name(i, names))}\\nvalue {_n(step.x[i])}"
               f"{source} | w{i + 1}\\nvalue {_n(step.w[i])}\\ngrad dw{i + 1} = {_n(step.dw[i])} }}")
        g.edge(f"f{i}", "z")
    if len(shown) < n:
        g.node("more", f"… {n - len(shown)} more features", shape="plaintext",
               fillcolor="white")
        g.edge("more", "z", style="dashed")
    g.node("b", f"b | value {_n(step.b)} | grad db = {_n(step.db)}")
    g.node("z", f"z = wᵀx + b | value {_n(step.z)} | grad dz = {_n(step.dz)}", fillcolor="white")
    g.node("a", f"a = σ(z) | value {_n(step.a)} | grad da = {_n(step.da)}", fillcolor="white")
    g.node("y", f"y | value {step.y:g}", fillcolor="#eef5ff")
    g.node("L", f"L(a, y) | value {_n(step.loss)} | grad dL = 1",
           fillcolor="#e8f7e8")
    g.edge("b", "z")
    g.edge("z", "a")
    g.edge("a", "L")
    g.edge("y", "L")
    return g


def has_dot():
    """Whether Graphviz's ``dot`` program is installed."""
    return shutil.which("dot") is not None


INSTALL_HINT = ("Graphviz's 'dot' is not installed; install it (Debian/Ubuntu: "
                "apt-get install graphviz; macOS: brew install graphviz) to draw the graph")


def render(step, fmt="svg", names=None, sources=None):
    """The picture as bytes (svg or png). Requires ``dot`` (see :func:`has_dot`).

    An SVG scales to the width of the page that shows it (``width="100%"``,
    its drawn size kept as ``max-width``), so the text is as large as the
    page allows, never cut off."""
    data = to_dot(step, names, sources=sources).pipe(format=fmt)
    return scalable_svg(data) if fmt == "svg" else data


def scalable_svg(data):
    """Graphviz's SVG with its fixed width and height replaced by 100% of its
    container, at most its drawn width (the viewBox keeps the proportions)."""
    import re
    text = data.decode("utf-8")
    match = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', text)
    if match is None:
        return data
    width = float(match.group(1))
    text = text[:match.start()] + (f'<svg width="100%" style="max-width:{width * 4 / 3:.0f}px;'
                                   'height:auto"') + text[match.end():]
    return text.encode("utf-8")


def to_text(step, names=None, limit=MAX_FEATURES_DRAWN):
    """The graph as text, for terminals without Graphviz."""
    n = len(step.x)
    names = names or [f"x{i + 1}" for i in range(n)]
    lines = ["Computation graph (forward →, gradients in brackets)"]
    for i in drawn_features(step, limit):
        lines.append(f"  {_input_name(i, names)} = {_n(step.x[i])}, "
                     f"w{i + 1} = {_n(step.w[i])} [dw{i + 1} = {_n(step.dw[i])}]  ──┐")
    if len(drawn_features(step, limit)) < n:
        lines.append(f"  … {n - len(drawn_features(step, limit))} more features           ──┤")
    lines.append(f"  b = {_n(step.b)} [db = {_n(step.db)}]  ──┘")
    lines.append(f"     └─► z = {_n(step.z)} [dz = {_n(step.dz)}]"
                 f" ─► a = σ(z) = {_n(step.a)} [da = {_n(step.da)}]"
                 f" ─► L(a, y={step.y:g}) = {_n(step.loss)} [dL = 1]")
    return "\n".join(lines)
