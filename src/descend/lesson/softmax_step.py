"""One example of K classes, step by step: the lesson's table for softmax.

z = W x + b (K logits), a = softmax(z), L = −log a_y = logsumexp(z) − z_y,
and the backward pass is again dz = a − y (y one-hot), dW = dz xᵀ, db = dz,
then W ← W − α dW, b ← b − α db. The numbers come from the library's own
K-class graph (:func:`descend.engine.graph.softmax_graph`) and update rule.
"""
from dataclasses import asdict, dataclass

import numpy as np

from descend.engine.graph import softmax_graph
from descend.engine.softmax import softmax
from descend.optim.rules import make_rule


@dataclass(frozen=True)
class SoftmaxStep:
    """Forward values, derivatives and the update for one example of K classes.

    ``z`` (K,) the logits, ``a`` (K,) the probabilities, ``loss`` = −log a_y,
    ``dz`` (K,) = a − onehot(y), ``dW`` (K, n) = dz xᵀ, ``db`` (K,) = dz,
    ``W_new`` = W − α dW and ``b_new`` = b − α db.
    """

    x: np.ndarray
    y: int
    W: np.ndarray
    b: np.ndarray
    alpha: float
    z: np.ndarray
    a: np.ndarray
    loss: float
    dz: np.ndarray
    dW: np.ndarray
    db: np.ndarray
    W_new: np.ndarray
    b_new: np.ndarray

    @property
    def n_classes(self):
        return len(self.b)

    def to_dict(self):
        """Plain floats, ints and (nested) lists."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in asdict(self).items()}


def softmax_step(x, y, W, b, alpha):
    """Forward, backward and one gradient-descent update on one example of K classes.

    Parameters
    ----------
    x : ndarray of shape (n,), finite
    y : int, the class index 0 ≤ y < K
    W : ndarray of shape (K, n), finite
    b : ndarray of shape (K,), finite
    alpha : float, checked by the caller

    Returns
    -------
    SoftmaxStep
    """
    K = W.shape[0]
    graph = softmax_graph()
    values = graph.forward(x=x[None, :], W=W, b=b, y=np.array([y]), s=None, S=1.0)
    grads = graph.backward(values)
    rule = make_rule("gd")
    theta = np.column_stack([W, b]).ravel()
    grad = np.column_stack([grads["W"], grads["b"]]).ravel()
    theta, _ = rule.step(theta, grad, rule.init(theta), alpha)
    theta = theta.reshape(K, -1)
    return SoftmaxStep(
        x=x, y=int(y), W=W, b=b, alpha=float(alpha), z=values["z"][0],
        a=softmax(values["z"])[0], loss=float(values["L"][0]), dz=grads["z"][0],
        dW=np.asarray(grads["W"], dtype=np.float64), db=np.asarray(grads["b"], dtype=np.float64),
        W_new=theta[:, :-1], b_new=theta[:, -1])
