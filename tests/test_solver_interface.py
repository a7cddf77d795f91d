"""The solver needs nothing of an objective but its interface (Problem):
here it minimises a quadratic written in the test, with no X and no graph."""
import contextlib

import numpy as np
import pytest

from descend.optim.precondition import transform_matrix
from descend.optim.problem import Problem
from descend.optim.solver import Solver


class RowQuadratics:
    """J(θ) = (1/m) Σᵢ ½ (θ − cᵢ)ᵀ A (θ − cᵢ): minimum at the mean of the cᵢ."""

    dtype = np.dtype(np.float64)
    has_penalty = True
    fit_intercept = False
    curvature_is_cheap = True

    def __init__(self, m=64, n=4, seed=0):
        rng = np.random.default_rng(seed)
        Q = rng.standard_normal((n, n))
        self.A = Q @ Q.T + n * np.eye(n)
        self.centres = rng.standard_normal((m, n)) * 3 + 5
        self.n_rows, self.n_params = m, n
        self.calls = 0

    @property
    def optimum(self):
        return self.centres.mean(axis=0)

    def as_vector(self, values):
        return np.asarray(values, dtype=np.float64)

    def loss_grad(self, theta, rows=None):
        self.calls += 1
        c = self.centres if rows is None else self.centres[rows]
        d = theta - c
        loss = 0.5 * np.mean(np.einsum("ij,jk,ik->i", d, self.A, d))
        return float(loss), self.A @ (theta - c.mean(axis=0))

    def curvature(self, theta=None):
        return self.A.copy()

    def bound_operator(self, max_rows):
        return lambda v: self.A @ v

    def largest_row_curvature(self, precond, max_rows):
        transform = transform_matrix(precond, self.n_params)
        return float(np.linalg.eigvalsh(transform.T @ self.A @ transform).max())

    def column_moments(self):
        return np.zeros(self.n_params), np.ones(self.n_params)

    def diagonal_scaling(self):
        return self.column_moments()

    def evaluation_context(self):
        return contextlib.nullcontext()


def test_the_test_objective_implements_every_method_of_the_interface():
    interface = {name for name in vars(Problem) if not name.startswith("_")}
    assert interface <= set(dir(RowQuadratics))


@pytest.mark.parametrize("settings", [
    {},                                                   # the default: full metric, Nesterov
    {"rule": "gd", "learning_rate": 0.02},                # the lesson's fixed α, no metric
    {"rule": "momentum", "preconditioner": "diagonal"},
    {"rule": "nesterov", "preconditioner": "none"},
], ids=["default", "gd", "momentum-diagonal", "nesterov-none"])
def test_the_solver_minimises_an_objective_without_data(settings):
    problem = RowQuadratics()
    options = {"max_iter": 2000, "tol": 1e-14, **settings}
    result = Solver(**options).run(problem)
    assert result.state.converged
    np.testing.assert_allclose(result.theta, problem.optimum, rtol=1e-5)


def test_adam_comes_within_its_step_of_the_optimum():
    problem = RowQuadratics()
    result = Solver(rule="adam", max_iter=6000).run(problem)
    np.testing.assert_allclose(result.theta, problem.optimum, atol=1e-3)


def test_mini_batches_of_rows_reach_the_optimum_of_all_rows():
    problem = RowQuadratics()
    result = Solver(batch_size=8, max_iter=300, random_state=0, tol=1e-20).run(problem)
    assert result.state.iteration == 300
    np.testing.assert_allclose(result.theta, problem.optimum, rtol=1e-2)


def test_iterations_continue_a_run_one_epoch_at_a_time_beyond_max_iter():
    problem = RowQuadratics()
    solver = Solver(max_iter=1, tol=0.0)
    first = solver.run(problem)
    more = solver.run(problem, state=first.state, precond=first.precond, iterations=3)
    assert more.state.iteration == 4
    assert [h["iteration"] for h in more.state.history] == [1, 2, 3, 4]
