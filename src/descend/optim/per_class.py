"""A preconditioner of one class's parameters, applied to each of K classes.

θ of a K-class objective is laid out (K, n + 1): each row is one class's
weights and intercept, in the layout a binary preconditioner expects. The
K-class change of variables is then the binary one on every row,
T = I_K ⊗ T₁ (column scaling does not depend on the class).
"""
import numpy as np

from descend.optim.arrays import copy_float64, is_numpy, namespace


class PerClass:
    """T = I_K ⊗ T₁ for a binary preconditioner T₁ (``inner``) of one row."""

    def __init__(self, inner, n_classes):
        self.inner = inner
        self.name = inner.name
        self.n_classes = n_classes

    def _rows(self, method, v):
        if not is_numpy(v):  # an Array API vector, on its device
            xp = namespace(v)
            V = xp.reshape(copy_float64(v), (self.n_classes, -1))
            return xp.concat([method(V[k, :]) for k in range(self.n_classes)])
        V = np.asarray(v, dtype=np.float64).reshape(self.n_classes, -1)
        return np.concatenate([method(row) for row in V])

    def to_scaled(self, theta):
        """θ′ = T⁻¹ θ."""
        return self._rows(self.inner.to_scaled, theta)

    def from_scaled(self, v):
        """θ = T θ′."""
        return self._rows(self.inner.from_scaled, v)

    def grad_to_scaled(self, g):
        """g′ = Tᵀ g."""
        return self._rows(self.inner.grad_to_scaled, g)
