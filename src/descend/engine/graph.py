"""The lesson's computation graph: nodes with forward and backward side by side.

Forward runs x → z → a → L; backward runs from the loss to dz, then to dw and
db. Each node's derivative sits beside its forward formula; the fused node's
L(z, y) and dz = a − y are the scalar formulas of :mod:`descend.engine.numerics`
(compiled once, shared with the kernel). The lesson runs these nodes on one
example; ``Objective(engine="graph")`` runs them block by block; the compiled
kernel (:mod:`descend.engine.kernels`) runs the same graph row by row and is
tested equal to it.
"""
import numpy as np

from descend.engine import numerics
from descend.engine.numerics import sigmoid
from descend.engine.softmax import loss_and_dlogits


class Node:
    """One operation: named inputs, one named output, forward and backward."""

    inputs: tuple = ()
    output: str = ""

    def forward(self, *args):
        raise NotImplementedError

    def backward(self, upstream, values):
        """Return the gradients of the inputs (None where none is needed)."""
        raise NotImplementedError


class Linear(Node):
    """z = X w + b, for a block of rows X of shape (m, n)."""

    inputs, output = ("x", "w", "b"), "z"

    def forward(self, x, w, b):
        return x @ w + b

    def backward(self, dz, values):
        # x is data, not a parameter: its gradient is never needed.
        return None, values["x"].T @ dz, dz.sum(dtype=np.float64)


class Sigmoid(Node):
    """a = σ(z); backward da/dz = a (1 − a)."""

    inputs, output = ("z",), "a"

    def forward(self, z):
        return sigmoid(z)

    def backward(self, da, values):
        a = values["a"]
        return (da * a * (1 - a),)


class LogLoss(Node):
    """L(a, y) = −[y log a + (1 − y) log(1 − a)]; da = −y/a + (1 − y)/(1 − a)."""

    inputs, output = ("a", "y"), "L"

    def forward(self, a, y):
        with np.errstate(divide="ignore"):
            return -(y * np.log(a) + (1 - y) * np.log1p(-a))

    def backward(self, dL, values):
        a, y = values["a"], values["y"]
        with np.errstate(divide="ignore", invalid="ignore"):
            return dL * (-y / a + (1 - y) / (1 - a)), None


class SigmoidLogLoss(Node):
    """L(z, y) = log(1 + eᶻ) − y z, the loss taken from the logit.

    Its backward is the lesson's key insight, dz = σ(z) − y = a − y, and it
    stays finite for any z where the unfused chain would take log(0).
    """

    inputs, output = ("z", "y"), "L"

    def forward(self, z, y):
        return numerics.loss_from_logit(z, y)  # the ufunc, built on first use

    def backward(self, dL, values):
        return dL * numerics.dloss_dlogit(values["z"], values["y"]), None

    #: The largest curvature d²L/dz² = a(1 − a) can take (at z = 0).
    max_curvature = 0.25

    @staticmethod
    def curvature(z):
        """d²L/dz² = a(1 − a), the weight of each row in the Hessian."""
        a = sigmoid(z)
        return a * (1 - a)


class LinearK(Node):
    """Z = X Wᵀ + b for K classes: X (m, n), W (K, n), b (K,) → Z (m, K)."""

    inputs, output = ("x", "W", "b"), "z"

    def forward(self, x, W, b):
        return x @ W.T + b

    def backward(self, dZ, values):
        # the lesson's dW = dz xᵀ and db = dz, summed over the rows
        return None, dZ.T @ values["x"], dZ.sum(axis=0, dtype=np.float64)


class SoftmaxCrossEntropy(Node):
    """L(z, y) = logsumexp(z) − z_y for K logits and a label y (a class index).

    Forward by log-sum-exp (no overflow); backward the lesson's insight for
    K classes, dZ = A − Y with A = softmax(Z) and Y one-hot. Both come from
    the row formula of :mod:`descend.engine.softmax`, the kernel's own.
    """

    inputs, output = ("z", "y"), "L"

    def forward(self, z, y):
        return loss_and_dlogits(z, y)[0]

    def backward(self, dL, values):
        dZ = loss_and_dlogits(values["z"], values["y"])[1]
        return np.asarray(dL)[..., None] * dZ if np.ndim(dL) else dL * dZ, None


class WeightedMean(Node):
    """J = Σᵢ sᵢ Lᵢ / S over a block; S is the total weight of all blocks.

    Summing J over the blocks of a data set gives the mean loss of the whole
    set, which is why S is the total and not the block's own weight.
    """

    inputs, output = ("L", "s", "S"), "J"

    def forward(self, L, s, S):
        # Summed in float64: a float32 sum of many losses is too coarse for
        # the solver to tell a rise of the loss from rounding.
        total = L.sum(dtype=np.float64) if s is None else np.sum(s * L, dtype=np.float64)
        return total / S

    def backward(self, dJ, values):
        s, S = values["s"], values["S"]
        # Unweighted, every dLᵢ is the same number: keep it a scalar.
        dL = dJ / S if s is None else s * (dJ / S)
        return dL, None, None


class Graph:
    """Nodes in topological (forward) order, run forward then backward.

    Parameters
    ----------
    nodes : list of Node
        Each node's inputs are leaves or outputs of earlier nodes.
    """

    def __init__(self, nodes):
        self.nodes = list(nodes)

    def forward(self, **leaves):
        """Evaluate every node; return the dict of all values by name."""
        values = dict(leaves)
        for node in self.nodes:
            values[node.output] = node.forward(*(values[k] for k in node.inputs))
        return values

    def backward(self, values, into=None):
        """Sweep the nodes in reverse from dJ = 1 and return every gradient.

        When ``into`` is a dict of arrays, the gradients of its keys are
        *added* to them in place, so several blocks accumulate into one sum.
        """
        grads = {self.nodes[-1].output: 1.0}
        for node in reversed(self.nodes):
            local = node.backward(grads[node.output], values)
            for name, g in zip(node.inputs, local):
                if g is not None:
                    grads[name] = grads[name] + g if name in grads else g
        for name, total in (into or {}).items():
            total += grads[name]
        return grads


def fused_graph():
    """Linear → SigmoidLogLoss → WeightedMean: the graph training runs."""
    return Graph([Linear(), SigmoidLogLoss(), WeightedMean()])


def softmax_graph():
    """LinearK → SoftmaxCrossEntropy → WeightedMean: the K-class graph."""
    return Graph([LinearK(), SoftmaxCrossEntropy(), WeightedMean()])


def unfused_graph():
    """Linear → Sigmoid → LogLoss → WeightedMean: the lesson's graph as drawn."""
    return Graph([Linear(), Sigmoid(), LogLoss(), WeightedMean()])
