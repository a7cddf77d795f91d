"""The K-class graph of one example, drawn with its numbers.

Inputs xᵢ lead into one logit node per class, zₖ = Wₖ·x + bₖ (each edge
labelled with its weight Wₖᵢ and gradient dWₖᵢ = dzₖ·xᵢ), the logits into the
fused softmax cross-entropy node (a = softmax(z), L = −log a_y), whose
backward gives dzₖ = aₖ − [k = y]. The two-class drawing
(:mod:`descend.viz.graphdraw`) is its K = 2 picture with one logit; its
helpers (escaping, the scalable SVG, the Graphviz check) are shared.
"""
import numpy as np

from descend.viz.graphdraw import (
    MAX_FEATURES_DRAWN,
    _input_name,
    _n,
    _record_text,
    nonzero_features,
    scalable_svg,
)


def drawn_features(step, limit=MAX_FEATURES_DRAWN):
    """Indices of the features to draw: all, or of those with xᵢ ≠ 0 the
    largest Σₖ |dWₖᵢ| first."""
    n = len(step.x)
    if n <= limit:
        return list(range(n))
    weight = np.abs(step.dW).sum(axis=0)
    return sorted(sorted(nonzero_features(step), key=lambda i: -weight[i])[:limit])


def _class_label(k, classes):
    return f"z{k + 1}" if classes is None else f"z{k + 1} ({classes[k]})"


def to_dot(step, names=None, classes=None, limit=MAX_FEATURES_DRAWN, sources=None):
    """A :class:`graphviz.Digraph` of the example's K-class graph.

    Parameters
    ----------
    step : descend.lesson.softmax_step.SoftmaxStep
        The example's numbers: x (n,), W (K, n), b (K,), z, a, dz (K,), dW (K, n).
    names : list of str, optional
        Feature names (n).
    classes : list, optional
        The K class labels.
    limit : int
        At most this many features drawn (the largest Σₖ |dWₖᵢ|).
    sources : list of str, optional
        What the file holds where xᵢ is a standardised number or an indicator.
    """
    import graphviz
    n, K = len(step.x), len(step.b)
    names = names or [f"x{i + 1}" for i in range(n)]
    g = graphviz.Digraph("lesson", graph_attr={"rankdir": "LR", "bgcolor": "white",
                                               "nodesep": "0.15", "ranksep": "1.2"},
                         node_attr={"shape": "record", "fontname": "Helvetica", "fontsize": "14",
                                    "style": "filled", "fillcolor": "#fff4e5"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "10"})
    shown = drawn_features(step, limit)
    for i in shown:
        source = f"\\n{_record_text(sources[i])}" if sources and sources[i] else ""
        g.node(f"f{i}", f"{_record_text(_input_name(i, names))}\\nvalue {_n(step.x[i])}{source}")
        for k in range(K):
            g.edge(f"f{i}", f"z{k}:h", label=f"W{k + 1},{i + 1} {_n(step.W[k, i])}\n"
                                           f"dW {_n(step.dW[k, i])}")
    if len(shown) < n:
        g.node("more", f"… {n - len(shown)} more features", shape="plaintext", fillcolor="white")
        for k in range(K):
            g.edge("more", f"z{k}", style="dashed")
    for k in range(K):
        g.node(f"z{k}", f"<h> {_record_text(_class_label(k, classes))} = W{k + 1}·x + b{k + 1} | "
               f"value {_n(step.z[k])} | grad dz{k + 1} = a{k + 1} − y{k + 1} = {_n(step.dz[k])} | "
               f"b{k + 1} {_n(step.b[k])}, grad db{k + 1} = {_n(step.db[k])}", fillcolor="white")
        g.edge(f"z{k}", "L")
    probabilities = " | ".join(f"a{k + 1} = {_n(step.a[k])}" for k in range(K))
    g.node("L", f"{{ a = softmax(z) | {probabilities} }} | L = −log a_y | value {_n(step.loss)} "
           "| grad dL = 1", fillcolor="#e8f7e8")
    label = step.y if classes is None else classes[step.y]
    g.node("y", f"y | class {step.y + 1} ({_record_text(label)})", fillcolor="#eef5ff")
    g.edge("y", "L")
    return g


def render(step, fmt="svg", names=None, classes=None, sources=None):
    """The picture as bytes (svg or png); requires Graphviz's ``dot``."""
    data = to_dot(step, names, classes, sources=sources).pipe(format=fmt)
    return scalable_svg(data) if fmt == "svg" else data


def to_text(step, names=None, classes=None, limit=MAX_FEATURES_DRAWN):
    """The K-class graph as text, for terminals without Graphviz."""
    n, K = len(step.x), len(step.b)
    names = names or [f"x{i + 1}" for i in range(n)]
    shown = drawn_features(step, limit)
    lines = ["Computation graph (forward →, gradients in brackets)",
             "  " + ", ".join(f"{_input_name(i, names)} = {_n(step.x[i])}" for i in shown)
             + (f", … {n - len(shown)} more" if len(shown) < n else "")]
    for k in range(K):
        lines.append(f"     ─► {_class_label(k, classes)} = W{k + 1}·x + b{k + 1} = "
                     f"{_n(step.z[k])} [dz{k + 1} = {_n(step.dz[k])}]  a{k + 1} = {_n(step.a[k])}")
    label = step.y if classes is None else classes[step.y]
    lines.append(f"     ─► a = softmax(z), L = −log a_y (y = {label}) = {_n(step.loss)} [dL = 1]")
    return "\n".join(lines)
