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


def drawn_features(step, limit=MAX_FEATURES_DRAWN):
    """Indices of the features to draw: all, or the largest |dwᵢ| first."""
    n = len(step.x)
    if n <= limit:
        return list(range(n))
    return sorted(sorted(range(n), key=lambda i: -abs(step.dw[i]))[:limit])


def to_dot(step, names=None, limit=MAX_FEATURES_DRAWN):
    """A :class:`graphviz.Digraph` of the example's graph."""
    import graphviz
    n = len(step.x)
    names = names or [f"x{i + 1}" for i in range(n)]
    g = graphviz.Digraph("lesson", graph_attr={"rankdir": "LR", "bgcolor": "white"},
                         node_attr={"shape": "record", "fontname": "Helvetica", "fontsize": "11"})
    shown = drawn_features(step, limit)
    for i in shown:
        g.node(f"x{i}", f"{{ {_record_text(_input_name(i, names))} | value {_n(step.x[i])} }}",
               style="filled", fillcolor="#eef5ff")
        g.node(f"w{i}", f"{{ w{i + 1} | value {_n(step.w[i])} | grad dw{i + 1} = {_n(step.dw[i])} }}",
               style="filled", fillcolor="#fff4e5")
        g.edge(f"x{i}", "z")
        g.edge(f"w{i}", "z")
    if len(shown) < n:
        g.node("more", f"… {n - len(shown)} more features", shape="plaintext")
        g.edge("more", "z", style="dashed")
    g.node("b", f"{{ b | value {_n(step.b)} | grad db = {_n(step.db)} }}",
           style="filled", fillcolor="#fff4e5")
    g.node("z", f"{{ z = wᵀx + b | value {_n(step.z)} | grad dz = {_n(step.dz)} }}")
    g.node("a", f"{{ a = σ(z) | value {_n(step.a)} | grad da = {_n(step.da)} }}")
    g.node("y", f"{{ y | value {step.y:g} }}", style="filled", fillcolor="#eef5ff")
    g.node("L", f"{{ L(a, y) | value {_n(step.loss)} | grad dL = 1 }}",
           style="filled", fillcolor="#e8f7e8")
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


def render(step, fmt="svg", names=None):
    """The picture as bytes (svg or png). Requires ``dot`` (see :func:`has_dot`)."""
    return to_dot(step, names).pipe(format=fmt)


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
