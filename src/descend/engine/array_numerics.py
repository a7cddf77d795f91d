"""The loss and dz = a − y from the logit, for arrays of any Array API namespace.

The formulas are :mod:`descend.engine.numerics`' (there written as scalars
and compiled for the CPU), here as whole-array expressions of a namespace
``xp`` (PyTorch, CuPy, ``array-api-strict``), so they run where the arrays
are. Both are finite for every finite z and keep small losses' digits.
"""


def loss_from_logit(xp, z, y):
    """L(z, y) = log(1 + eᶻ) − y z = (1 − y) max(z, 0) + y max(−z, 0) + log(1 + e^−|z|).

    A sum of terms ≥ 0 for 0 ≤ y ≤ 1, so a small loss is not the difference
    of large ones; shape and dtype of z.
    """
    zero = xp.zeros_like(z)
    return (1 - y) * xp.maximum(z, zero) + y * xp.maximum(-z, zero) + xp.log1p(xp.exp(-xp.abs(z)))


def dloss_dlogit(xp, z, y):
    """dL/dz = a − y = (1 − y) σ(z) − y σ(−z), σ(±z) from e^−|z| (no overflow,
    and 1 − a is never formed, where it would round to 0)."""
    e = xp.exp(-xp.abs(z))
    r = 1 / (1 + e)
    positive = z >= 0
    a = xp.where(positive, r, e * r)
    a_complement = xp.where(positive, e * r, r)
    return (1 - y) * a - y * a_complement


def sigmoid(xp, z):
    """σ(z) = 1 / (1 + e⁻ᶻ) without overflow: e^−|z| on either side."""
    e = xp.exp(-xp.abs(z))
    r = 1 / (1 + e)
    return xp.where(z >= 0, r, e * r)


def log_sigmoid(xp, z):
    """log σ(z) = −L(−z, 0), never overflowing."""
    return -loss_from_logit(xp, -z, xp.zeros_like(z))


def softmax_loss_and_dlogits(xp, Z, Y):
    """Per row L(zᵢ, yᵢ) = logsumexp(zᵢ) − z_{i,yᵢ} and dZ = A − Y, A = softmax(Z).

    :mod:`descend.engine.softmax`' row formula for whole arrays: with m the
    row's largest logit (its first, top) and t = Σ_{k ≠ top} e^(zₖ − m),
    L = log1p(t) + (m − z_y) and 1 − a_y = t/(1 + t) when y is the top class,
    so nothing overflows and a small loss keeps its digits. Z (rows, K); Y
    one-hot of Z's dtype; returns (losses (rows,), dZ (rows, K)).
    """
    K = Z.shape[1]
    m = xp.max(Z, axis=1, keepdims=True)
    top = xp.argmax(Z, axis=1, keepdims=True)
    is_top = xp.arange(K, device=Z.device)[None, :] == top
    E = xp.exp(Z - m)
    t = xp.sum(xp.where(is_top, xp.zeros_like(E), E), axis=1, keepdims=True)
    inverse = 1 / (1 + t)
    z_y = xp.sum(Z * Y, axis=1, keepdims=True)
    losses = xp.log1p(t) + (m - z_y)
    dZ = xp.where(is_top & (Y > 0), -(t * inverse) * xp.ones_like(E), E * inverse - Y)
    return losses[:, 0], dZ


def softmax(xp, Z):
    """A = softmax(Z) row by row, from e^(z − max): no overflow."""
    E = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
    return E / xp.sum(E, axis=1, keepdims=True)


def log_softmax(xp, Z):
    """log A = Z − logsumexp(Z) row by row, without underflow to −inf."""
    top = xp.max(Z, axis=1, keepdims=True)
    return Z - top - xp.log(xp.sum(xp.exp(Z - top), axis=1, keepdims=True))
