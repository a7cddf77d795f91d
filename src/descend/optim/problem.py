"""What the solver needs from an objective, and nothing more.

The solver minimises any J(θ) that offers these methods: the dense binary
objective of :mod:`descend.engine.objective` today; a multinomial loss, a
sparse, Dask or GPU objective later are new implementations of the same
interface, and the solver does not change. θ is a float64 vector of
``n_params`` parameters; when the model has an intercept it is the last one.
"""
import contextlib

import numpy as np


class Problem:
    """Interface of a smooth objective J(θ), mean over ``n_rows`` rows.

    Subclasses implement :meth:`loss_grad` and :meth:`curvature`; the other
    methods are needed only by some solver settings and raise
    ``NotImplementedError`` until a subclass provides them.

    Attributes
    ----------
    n_params : int
        Length of θ.
    n_rows : int
        Rows that ``loss_grad(θ, rows=...)`` can select (mini-batches).
    dtype : numpy dtype
        Precision in which J is computed: the solver stops no later than
        the rounding of that precision allows.
    has_penalty : bool
        Whether J has a strictly convex penalty (then it has a minimum; without
        one, separable data leave J without a minimum).
    fit_intercept : bool
        Whether θ's last entry is an unpenalised intercept.
    curvature_is_cheap : bool
        Whether :meth:`curvature` costs a few evaluations of J at most, so
        the default solver may factor it (for few parameters) and refresh it.
    """

    n_params: int
    n_rows: int
    dtype = None
    has_penalty = True
    fit_intercept = False
    curvature_is_cheap = True

    def as_vector(self, values):
        """Host numbers as a float64 vector of θ's kind: a NumPy array here;
        an objective on a device returns one on its device and namespace
        (the solver then keeps θ, its state and the metric there)."""
        return np.asarray(values, dtype=np.float64)

    def loss_grad(self, theta, rows=None):
        """J(θ) (float) and ∇J(θ) (float64, shape (n_params,)).

        For an objective on a device, J may be a 0-d array and ∇J is a vector
        of θ's namespace: the solver moves J to the host with the other
        numbers of the iteration, in one transfer.

        With ``rows`` (sorted indices), the mean is over those rows only, an
        unbiased estimate of the full J and ∇J (mini-batches).
        """
        raise NotImplementedError

    def curvature(self, theta=None):
        """∇²J(θ), shape (n_params, n_params); with θ None a fixed bound
        B ⪰ ∇²J(θ) for every θ (majorisation)."""
        raise NotImplementedError

    def bound_operator(self, max_rows):
        """v ↦ B̃ v, B̃ the curvature bound over a sample of at most
        ``max_rows`` rows: for power iteration without an n × n matrix."""
        raise NotImplementedError

    def largest_row_curvature(self, precond, max_rows):
        """max over a sample of rows of the bound's curvature of one row's
        loss in the coordinates θ = T θ′ of the preconditioner ``precond``
        (:mod:`descend.optim.precondition`; ``transform_matrix`` gives T as a
        matrix where n² numbers are affordable)."""
        raise NotImplementedError

    def column_moments(self):
        """(mean, standard deviation) of each feature, for diagonal scaling."""
        raise NotImplementedError

    def diagonal_scaling(self):
        """(shift, scale) of each feature for the "diagonal" preconditioner,
        θ = T θ′ with wⱼ = w′ⱼ/scaleⱼ and b = b′ − Σⱼ shiftⱼ w′ⱼ/scaleⱼ;
        by default the column moments (standardisation)."""
        return self.column_moments()

    def evaluation_context(self):
        """A context held while the solver runs (threads, BLAS limits)."""
        return contextlib.nullcontext()
