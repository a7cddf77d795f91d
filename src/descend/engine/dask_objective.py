"""The training objective for a dask array X: one map-reduce per evaluation.

The same J(θ) as :mod:`descend.engine.objective` (two classes) and
:mod:`descend.engine.multinomial` (K classes), for X chunked along its rows
and held by a Dask cluster (or any Dask scheduler). Each evaluation is one
graph: every chunk runs the in-memory objective's compiled kernel once on its
own rows (raw sums, divided by nothing), the partials are added by a tree
(on the workers for many chunks, the last FAN_IN on the client) whose shape
and operand order depend on the number of chunks only, and the client
divides by the total weight S and adds the penalty. So the result
is the same bits whichever worker finishes first, a lost chunk recomputed on
another worker gives the same partial, and the solver's state — θ, the
update rule's state, the n × n metric — never leaves the client.

Curvature partials (n × n per chunk) are only asked for when the solver
builds or refreshes its preconditioner; a refresh sums every k-th row of X
counted from its first row (each chunk is told where it starts), as in
memory. A row sample for step sizes is gathered once and kept on the client.
"""
import functools

import numpy as np
from threadpoolctl import threadpool_limits

from descend.engine.multinomial import ROW_CURVATURE_ROWS, MultinomialObjective
from descend.engine.objective import (
    Objective,
    finish_curvature,
    hessian_stride,
    moments_from_sums,
    raise_magnitude_error,
)
from descend.optim.problem import Problem


def _chunk_objective(X, y, s, spec):
    """The in-memory objective of one chunk, its sums left undivided (S = 1)
    and unpenalised (λ = 0): the partials then add up across chunks. The
    spec is (classes, intercept, threads, X's Hessian stride, the chunk's
    first row in X)."""
    n_classes, fit_intercept, n_threads, stride, offset = spec
    if n_classes > 2:
        objective = MultinomialObjective(X, y, n_classes, s, l2=0.0, fit_intercept=fit_intercept,
                                         n_threads=n_threads)
    else:
        objective = Objective(X, y, s, l2=0.0, fit_intercept=fit_intercept, n_threads=n_threads)
    objective.S = 1.0
    objective.hessian_stride, objective.row_offset = stride, offset
    return objective


def chunk_loss_grad(X, y, s, spec, theta):
    """[Σ sᵢLᵢ, Σ sᵢ∇Lᵢ] of one chunk's rows, float64, shape (1 + n_params,)."""
    loss, grad = _chunk_objective(X, y, s, spec).loss_grad(theta)
    return np.concatenate([[loss], grad])


def chunk_curvature(X, y, s, spec, theta):
    """Σ over one chunk's rows of the K-class curvature (θ None: the bound),
    float64 n_params × n_params; BLAS on one core, so its sums keep one order."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _chunk_objective(X, y, s, spec).curvature(theta)


def chunk_curvature_sums(X, y, s, spec, theta):
    """The two-class curvature's row sums of one chunk (θ None: the bound's),
    :meth:`Objective.curvature_sums` as one float64 array of n_params + 1
    rows: the matrix, then the exact diagonal (zeros when not sampled)."""
    with threadpool_limits(limits=1, user_api="blas"):
        H, diagonal = _chunk_objective(X, y, s, spec).curvature_sums(theta)
    return np.vstack([H, np.zeros(len(H)) if diagonal is None else diagonal])


def chunk_moments(X, y, s, spec):
    """[Σ sᵢxᵢ, Σ sᵢxᵢ²] of one chunk's rows, float64, shape (2, n)."""
    objective = _chunk_objective(X, y, s, spec)
    with np.errstate(over="ignore", invalid="ignore"):  # checked on the client
        parts = objective._map(objective._moment_rows)
    return np.stack([sum(p[0] for p in parts), sum(p[1] for p in parts)])


#: Partials added per task of the reduction tree; at most this many reach the client.
FAN_IN = 16


def ordered_sum(*parts):
    """parts[0] + parts[1] + … added left to right (one order, whatever arrives first)."""
    return functools.reduce(np.add, parts)


def tree_sum(parts):
    """Σ parts as a tree of delayed in-order sums of FAN_IN adjacent parts,
    level by level, until at most FAN_IN are left: the shape and the order of
    every addition depend on len(parts) only. Returns those last partials,
    which the client adds in order (one hop fewer than a root on a worker)."""
    from dask import delayed
    add = delayed(ordered_sum, pure=True)
    while len(parts) > FAN_IN:
        parts = [add(*parts[i:i + FAN_IN]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), FAN_IN)]
    return parts


class DaskObjective(Problem):
    """Mean weighted loss plus L2 over a dask array X, one graph per evaluation.

    Implements :class:`~descend.optim.problem.Problem`; the numbers equal the
    in-memory objective's to rounding (the partial sums are cut at chunk
    edges instead of the in-memory blocks').

    Parameters
    ----------
    X : dask array of shape (m, n), float32 or float64
        Chunked along rows only (one chunk spans every column); persisted on
        the workers when it fits, recomputed from its source otherwise.
    y : dask array of shape (m,), chunked like X's rows
        Targets in {0, 1} in X's dtype (two classes) or class indices (K ≥ 3).
    sample_weight : dask array of shape (m,) chunked like X's rows, or None
    total_weight : float
        S = Σᵢ sᵢ (m without weights).
    n_classes : int
        2 for the sigmoid model, K ≥ 3 for the softmax one.
    l2 : float
        λ of the penalty λ‖w‖²/2 (λ = 1/(C S)).
    fit_intercept : bool
    n_threads : int
        Threads each chunk's kernel runs on (Dask runs the chunks in parallel).
    """

    curvature_is_cheap = True  # one pass, as in memory: "auto" factors it alike

    def __init__(self, X, y, sample_weight, total_weight, n_classes=2, l2=0.0,
                 fit_intercept=True, n_threads=1):
        self.X, self.y, self.s = X, y, sample_weight
        self.dtype = np.dtype(X.dtype)
        self.S = float(total_weight)
        self.l2 = float(l2)
        self.fit_intercept = fit_intercept
        self.n_rows, self.n_features = (int(d) for d in X.shape)
        self.n_classes = int(n_classes)
        self.row_params = self.n_features + int(fit_intercept)
        if self.n_classes > 2:
            self.n_outputs = self.n_classes  # the preconditioners' per-class layout
        self.n_params = self.row_params * (self.n_classes if self.n_classes > 2 else 1)
        self.hessian_stride = hessian_stride(self.n_rows, self.n_params)
        self._spec = (self.n_classes, fit_intercept, int(n_threads), self.hessian_stride)
        self._chunks = self._chunk_keys()
        self._samples = {}
        #: graph submissions and passes over X so far (benchmarks report them)
        self.submissions = 0
        self.passes = 0

    @property
    def has_penalty(self):
        return self.l2 > 0

    def _chunk_keys(self):
        """One (X, y, s, first row) of delayed chunks per row chunk, in row order."""
        xs = self.X.to_delayed().ravel()
        ys = self.y.to_delayed().ravel()
        ss = [None] * len(xs) if self.s is None else list(self.s.to_delayed().ravel())
        starts = np.concatenate([[0], np.cumsum(self.X.chunks[0])[:-1]]).astype(int).tolist()
        return list(zip(xs, ys, ss, starts))

    def _map_reduce(self, fn, *args):
        """Σ over chunks of fn(X_c, y_c, s_c, spec, *args): one graph, computed."""
        import dask
        from dask import delayed
        task = delayed(fn, pure=True)
        parts = [task(xc, yc, sc, self._spec + (start,), *args)
                 for xc, yc, sc, start in self._chunks]
        total = ordered_sum(*dask.compute(*tree_sum(parts)))
        self.submissions += 1
        self.passes += 1
        return total

    # -- evaluation ---------------------------------------------------------
    def _weights(self, theta):
        """W of θ (float64, the rows the penalty covers), as one flat view."""
        T = np.asarray(theta, dtype=np.float64).reshape(-1, self.row_params)
        return T[:, :self.n_features]

    def loss_grad(self, theta, rows=None):
        """J(θ) and ∇J(θ) (float64, shape (n_params,)): one map-reduce over the
        chunks; with ``rows`` (a mini-batch) those rows gathered and evaluated
        on the client, as the in-memory objective does."""
        if rows is not None:
            return self._gathered(rows, self.l2).loss_grad(theta, rows=np.arange(len(rows)))
        total = self._map_reduce(chunk_loss_grad, np.asarray(theta, dtype=np.float64))
        W = self._weights(theta)
        loss = total[0] / self.S + 0.5 * self.l2 * float(np.sum(W * W))
        grad = (total[1:] / self.S).reshape(-1, self.row_params)
        grad[:, :self.n_features] += self.l2 * W
        return float(loss), grad.ravel()

    # -- curvature ----------------------------------------------------------
    def curvature(self, theta=None):
        """∇²J(θ), or with θ None the fixed bound (see the in-memory
        objectives): the chunks' n_params × n_params sums added in the tree
        (two classes: over the rows the in-memory objective samples)."""
        theta = None if theta is None else np.asarray(theta, dtype=np.float64)
        if self.n_classes == 2:
            total = self._map_reduce(chunk_curvature_sums, theta)
            sampled = theta is not None and self.hessian_stride > 1
            return finish_curvature(total[:-1], total[-1] if sampled else None, self.S,
                                    self.l2, self.n_features, self.X)
        H = self._map_reduce(chunk_curvature, theta) / self.S
        penalty = np.zeros(self.row_params)
        penalty[:self.n_features] = self.l2
        H[np.diag_indices_from(H)] += np.tile(penalty, self.n_params // self.row_params)
        if not np.all(np.isfinite(H)):
            raise_magnitude_error(self.X)
        return H

    def column_moments(self):
        """Weighted mean and standard deviation of each column, one map-reduce."""
        total, square = self._map_reduce(chunk_moments)
        return moments_from_sums(total, square, self.S, self.X)

    diagonal_scaling = Objective.diagonal_scaling

    # -- row samples, for step sizes ----------------------------------------
    def _gathered(self, rows, l2):
        """The in-memory objective of the rows ``rows`` (sorted), fetched in one graph."""
        import dask
        parts = [self.X[rows], self.y[rows]] + ([] if self.s is None else [self.s[rows]])
        values = dask.compute(*parts)
        self.submissions += 1
        X, y = np.ascontiguousarray(values[0]), values[1]
        s = None if self.s is None else values[2]
        if self.n_classes > 2:
            return MultinomialObjective(X, y, self.n_classes, s, l2=l2,
                                        fit_intercept=self.fit_intercept, n_threads=1)
        return Objective(X, y, s, l2=l2, fit_intercept=self.fit_intercept, n_threads=1)

    def _sample_objective(self, max_rows):
        """The in-memory objective of the row sample the in-memory objective
        would draw (the same rows), gathered once per size."""
        if max_rows not in self._samples:
            m = self.n_rows
            rows = (np.arange(m) if m <= max_rows else
                    np.sort(np.random.default_rng(0).choice(m, max_rows, replace=False)))
            self._samples[max_rows] = self._gathered(rows, self.l2)
        return self._samples[max_rows]

    def bound_operator(self, max_rows):
        """v ↦ B̃ v on the in-memory objective's row sample (see there)."""
        return self._sample_objective(max_rows).bound_operator(max_rows)

    def largest_row_curvature(self, precond, max_rows):
        """The largest one-row curvature on the in-memory objective's row sample."""
        if self.n_classes > 2:  # the K-class objective samples fewer rows
            max_rows = min(max_rows, ROW_CURVATURE_ROWS)
        return self._sample_objective(max_rows).largest_row_curvature(precond, max_rows)
