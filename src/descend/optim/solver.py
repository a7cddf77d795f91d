"""The training loop: iterate, stop, record history, call back.

The solver knows the objective only through its interface
(:class:`~descend.optim.problem.Problem`) and the update rule only through
``init``/``step``: it owns step sizes, divergence handling, stopping and the
resumable :class:`SolverState`.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from descend.exceptions import DataError, DivergenceError
from descend.optim.arrays import copy_float64, host_floats, is_numpy, namespace
from descend.optim.precondition import (
    MAX_FULL_PARAMS,
    FactoredCurvature,
    make_preconditioner,
)
from descend.optim.proximal import ProximalStep
from descend.optim.rules import make_rule, with_link_after_step

#: A fixed-α run whose loss exceeds J₀ + RISE_FACTOR·max(J₀, 1) is diverging.
RISE_FACTOR = 10.0
#: ... and so is one whose loss rose this many iterations in a row to above J₀
#: (momentum may rise for a few iterations while it converges).
MAX_CONSECUTIVE_RISES = 20
#: Rows used to estimate the curvature for the step size 1/L.
CURVATURE_SAMPLE_ROWS = 20_000
#: Refresh the curvature when an iteration shrinks the stopping measure by
#: less than this factor (linear convergence slower than this is not worth
#: keeping when one pass can make the metric exact).
REFRESH_RATIO = 0.2
#: Without a penalty, a mean loss below this means the classes are separated:
#: the loss has no minimum and the weights would grow without end.
SEPARATED_LOSS = 1e-8
#: Losses below this count as this in the relative stopping test.
LOSS_FLOOR = 1e-6


@dataclass
class SolverState:
    """Everything needed to continue a run exactly where it stopped."""

    theta: np.ndarray                 # current point, preconditioned coordinates
    rule_state: dict
    lr: float
    ref_step: float                   # 1/L, scales the stopping measure
    iteration: int = 0
    best_loss: float = np.inf
    best_theta: np.ndarray = None     # user coordinates
    best_grad: np.ndarray = None      # user coordinates
    curvature_at: np.ndarray = None   # θ of the refreshed curvature (None: bound)
    since_refresh: int = 0
    previous_measure: float = np.inf
    first_loss: float = None
    rises: int = 0                    # consecutive iterations the loss rose
    last_loss: float = np.inf
    just_reset: bool = False
    converged: bool = False
    measure: float = np.inf
    elapsed: float = 0.0
    rng_state: dict = None
    history: list = field(default_factory=list)
    separated: bool = False

    def reset_loss_tracking(self):
        """Forget the losses seen so far: the next batch of data has its own
        scale, so neither its rises nor its best point compare with these."""
        self.best_loss, self.best_theta, self.best_grad = np.inf, None, None
        self.first_loss, self.rises, self.last_loss = None, 0, np.inf
        self.converged = False


@dataclass
class SolverResult:
    """What a run produced: θ in the user's coordinates, its state, and the
    preconditioner it ended with (keep it to continue in the same metric)."""

    theta: np.ndarray
    state: SolverState
    precond: object


class Solver:
    """Gradient-based minimisation of an objective (:class:`~descend.optim.problem.Problem`).

    Parameters
    ----------
    rule : {"auto", "gd", "momentum", "nesterov", "adam"}
        Update rule; "auto" is Nesterov with adaptive restart.
    learning_rate : float or "auto"
        A float is the lesson's fixed α, applied in the user's own units
        (no preconditioning unless ``preconditioner`` asks for it). "auto" is
        1/L in preconditioned coordinates (Adam: its own default step),
        halved whenever the loss rises.
    preconditioner : {"auto", "none", "diagonal", "full"}
        "auto": "none" for a fixed α; otherwise "full" (the factored curvature
        bound) up to ``MAX_FULL_PARAMS`` parameters with full batches when the
        objective's curvature is cheap (``curvature_is_cheap``), else
        "diagonal" (standardisation folded into the parameters).
    max_iter : int
        Iterations (full batch) or epochs (mini-batch).
    tol : float
        Stop when ½‖g′‖²/L ≤ tol·max(|J|, 1e-6): the decrease one more step of size 1/L
        would promise, relative to the loss (g′ the preconditioned gradient).
    batch_size : int or None
        None for full batch; else mini-batches of this many rows, shuffled
        each epoch with ``random_state``.
    random_state : int, numpy Generator or None
    callback : callable(state) or None
        Called after every iteration (epoch) with the :class:`SolverState`.
    refresh_curvature : bool
        With the "full" preconditioner and α = auto, replace the bound by the
        Hessian at the current point whenever the stopping measure falls by
        less than ``REFRESH_RATIO`` in an iteration: steps then become
        Newton-like near the optimum, where the bound is loosest.
    monitor : callable(θ) -> dict, or None
        More numbers for each iteration's history record, from θ in the
        user's coordinates (a validation loss).
    penalty : :class:`~descend.optim.proximal.L1Penalty` or None
        A non-smooth λ₁‖w‖₁ added to the objective: each step is then a
        proximal gradient step (the gradient step, then soft-thresholding in
        the metric's coordinates), the loss J + λ₁‖w‖₁, and the stopping
        measure ½‖G‖²/L with G = (θ′ − prox(θ′ − g′/L))·L the gradient
        mapping (g′ when nothing is thresholded). In the "full" metric the
        threshold is the lasso of :class:`~descend.optim.proximal.MetricLasso`
        (proximal Newton once the curvature is refreshed); the point returned
        is the proximal step from the last evaluated point, with exact zeros.
    """

    def __init__(self, rule="auto", learning_rate="auto", preconditioner="auto",
                 max_iter=1000, tol=1e-9, batch_size=None, random_state=None,
                 callback=None, refresh_curvature=True, monitor=None, penalty=None):
        self.refresh_curvature = refresh_curvature
        self.monitor = monitor
        self.rule = make_rule("nesterov" if rule == "auto" else rule)
        self.penalty = penalty
        if penalty is not None:
            self.proximal = ProximalStep()
            self.rule = with_link_after_step(self.rule, self.proximal)
        self.learning_rate = learning_rate
        self.preconditioner = preconditioner
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.random_state = random_state
        self.callback = callback

    @property
    def fixed_step(self):
        return self.learning_rate != "auto"

    # -- set-up -------------------------------------------------------------
    def choose_preconditioner(self, objective):
        """The preconditioner kind this run uses (see the class docstring)."""
        if self.preconditioner != "auto":
            return self.preconditioner
        if self.fixed_step:
            return "none"
        # K classes with an L1 part: the bound is singular along the classes'
        # common shift, where coordinate descent on the metric's lasso crawls
        k_class_l1 = self.penalty is not None and getattr(objective, "n_outputs", 1) > 1
        if (self.batch_size is None and objective.n_params <= MAX_FULL_PARAMS
                and objective.curvature_is_cheap and not k_class_l1):
            return "full"
        return "diagonal"

    def prepare(self, objective, state=None):
        """The preconditioner for this objective (a pass over X), or the
        refreshed one a resumed ``state`` was using."""
        if state is not None and state.curvature_at is not None:
            return FactoredCurvature(objective.curvature(state.curvature_at))
        return make_preconditioner(self.choose_preconditioner(objective), objective)

    def prepare_warm(self, objective, theta0):
        """(the Hessian at θ₀ as the metric, θ₀) for a warm start with the
        factored metric, else (None, None). The bound ¼XᵀX is the Hessian at
        θ = 0 only: near a previous optimum (the next C of a path, a refit)
        its steps are too short until a refresh, and a fit of a few
        iterations would pay a pass for the bound and another for the refresh."""
        if theta0 is None or self.choose_preconditioner(objective) != "full":
            return None, None
        theta0 = copy_float64(_as_vector(objective, theta0))
        if not bool(namespace(theta0).any(theta0 != 0)):
            return None, None
        return FactoredCurvature(objective.curvature(theta0)), theta0

    def initial_state(self, objective, precond, theta0):
        """A fresh state at θ₀ (user coordinates)."""
        theta = precond.to_scaled(_as_vector(objective, theta0))
        ref_step = self._reference_step(objective, precond)
        if self.fixed_step:
            lr = float(self.learning_rate)
        elif self.rule.default_lr is not None:
            lr = self.rule.default_lr
        elif self.batch_size is not None:
            lr = self._minibatch_step(objective, precond, ref_step)
        else:
            lr = ref_step
        rng = np.random.default_rng(self.random_state)
        return SolverState(theta=theta, rule_state=self.rule.init(theta), lr=lr,
                           ref_step=ref_step, rng_state=rng.bit_generator.state)

    def _reference_step(self, objective, precond):
        """1/L: L the largest curvature of J in preconditioned coordinates."""
        if precond.name == "full":
            return 1.0  # the factored bound makes every curvature ≤ 1
        if self.fixed_step and precond.name == "none":
            return float(self.learning_rate)
        return 1.0 / self._curvature_estimate(objective, precond)

    def _curvature_estimate(self, objective, precond, iterations=30):
        """Power iteration on Tᵀ B̃ T (B̃ the bound on a row sample), 10 % headroom."""
        bound = objective.bound_operator(CURVATURE_SAMPLE_ROWS)

        def matvec(v):
            return precond.grad_to_scaled(bound(precond.from_scaled(v)))
        v = _as_vector(objective, np.random.default_rng(1).standard_normal(objective.n_params))
        eig = 1.0
        for _ in range(iterations):
            u = matvec(v / _norm(v))
            eig, v = float(_norm(u)), u
        return 1.1 * max(eig, 1e-12)

    def _minibatch_step(self, objective, precond, ref_step):
        """1/(L + (R − L)/b): a batch of b rows is as curved as L plus 1/b of
        the excess of its most curved row (curvature R) over the mean."""
        # the objective applies T itself: as a matrix it would be n², which a
        # sparse X of many columns cannot hold
        R = objective.largest_row_curvature(precond, CURVATURE_SAMPLE_ROWS)
        L = 1.0 / ref_step
        return 1.0 / (L + max(R - L, 0.0) / self.batch_size)

    # -- the loop -----------------------------------------------------------
    def run(self, objective, theta0=None, state=None, precond=None, iterations=None):
        """Minimise from θ₀ (zeros by default) or continue from ``state``.

        ``precond`` keeps a metric from an earlier run (built afresh when
        None); ``iterations`` runs that many more iterations (epochs) in place
        of ``max_iter`` (``partial_fit``: one epoch per call).
        """
        if state is not None:
            self.check_resumable(state, objective.n_params)
        with objective.evaluation_context():
            warm_at = None
            if precond is None and state is None:
                precond, warm_at = self.prepare_warm(objective, theta0)
            run = _Run(self, objective, precond or self.prepare(objective, state))
            if state is None:
                theta0 = _as_vector(objective, np.zeros(objective.n_params)) \
                    if theta0 is None else theta0
                state = self.initial_state(objective, run.precond, theta0)
                state.curvature_at = warm_at
            stop = self.max_iter if iterations is None else state.iteration + iterations
            run.loop(state, stop)
        # with a penalty: the proximal step from the last evaluated point (exact
        # zeros; as close to the optimum as the stopping measure says)
        theta = run.prox_point if run.prox_point is not None else \
            run.precond.from_scaled(state.theta)
        return SolverResult(theta, state, run.precond)

    def check_resumable(self, state, n_params):
        """A :class:`DataError` unless ``state`` is one this solver could have
        saved on this problem: θ of ``n_params`` values, and the state of this
        update rule (the same links, keys, shapes and kinds of value)."""
        problem = _state_mismatch(state, self.rule.init(np.zeros(n_params)), n_params,
                                  self.batch_size is not None)
        if problem:
            raise DataError(f"the solver state to resume from does not fit this run "
                            f"({problem}); it was saved by another run, or its file is "
                            "damaged")


def _state_mismatch(state, rule_state, n_params, shuffles):
    """What is wrong with a state to resume (see :meth:`Solver.check_resumable`), or ''."""
    for name in ("theta", "best_theta", "best_grad", "curvature_at"):
        value = getattr(state, name)
        if (value is not None or name == "theta") and np.shape(value) != (n_params,):
            return f"{name} has {np.size(value)} values, this problem {n_params} parameters"
    if not isinstance(state.rule_state, list) or len(state.rule_state) != len(rule_state):
        return "the update rule's state is another rule's"
    for saved, fresh in zip(state.rule_state, rule_state):
        if not isinstance(saved, dict) or set(saved) != set(fresh):
            return "the update rule's state is another rule's"
        for key, value in fresh.items():
            if isinstance(value, np.ndarray) != isinstance(saved[key], np.ndarray) or \
                    np.shape(saved[key]) != np.shape(value):
                return f"the update rule's {key!r} has the wrong shape"
    if shuffles:  # mini-batches: the epochs restore the random state
        try:
            np.random.PCG64().state = state.rng_state
        except (TypeError, ValueError, KeyError, OverflowError):
            return "its random state is not one numpy can restore"
    return ""


class _Run:
    """One run of a solver on an objective, in the current metric."""

    def __init__(self, solver, objective, precond):
        self.solver, self.rule, self.objective, self.precond = \
            solver, solver.rule, objective, precond
        eps = float(np.finfo(objective.dtype).eps)
        self.loss_noise = 8 * eps
        # The gradient of float32 data is only good to ~eps relative, so the
        # measure ½‖g′‖² cannot fall far below eps² of the loss; 1e3·eps² is
        # reached (float32: 1.4e-11) and puts the coefficients within ~1e-6
        # of float64's (1e5·eps² would stop an iteration early, at ~3e-5).
        self.tol_floor = 1e3 * eps * eps
        self.prox_point = None  # θ of the last proximal step from an evaluated point
        if solver.penalty is not None:
            solver.proximal.bind(solver.penalty, precond)

    def evaluate(self, theta, rows=None):
        """J(θ) (plus the L1 penalty, if any) and ∇J(θ) of the smooth part."""
        loss, grad = self.objective.loss_grad(theta, rows=rows)
        if self.solver.penalty is not None:
            loss += self.solver.penalty.value(theta)
        return loss, grad

    def loop(self, state, stop):
        step = self.full_batch_iteration if self.solver.batch_size is None else self.epoch
        start = time.perf_counter() - state.elapsed
        while state.iteration < stop and not (state.converged or state.separated):
            step(state)
            state.elapsed = time.perf_counter() - start
            state.history[-1]["elapsed"] = state.elapsed
            if self.solver.callback is not None:
                self.solver.callback(state)

    def full_batch_iteration(self, state):
        precond = self.precond
        theta = precond.from_scaled(state.theta)
        loss, grad = self.evaluate(theta)
        g = precond.grad_to_scaled(grad)
        state.iteration += 1
        numbers = iteration_numbers(loss, grad, g)
        loss = numbers[0]
        if self.handle_rise(state, numbers, grad, theta):
            self.record(state, numbers, theta, g)
            state.theta, state.rule_state = self.rule.step(
                precond.to_scaled(state.best_theta), precond.grad_to_scaled(state.best_grad),
                state.rule_state, state.lr)
            return
        self.record(state, numbers, theta, g)
        if self.converged(state, loss):
            return
        if not (self.objective.has_penalty or self.solver.penalty) and loss < SEPARATED_LOSS:
            state.separated = True  # the estimator warns; θ separates the classes
            return
        if self.should_refresh(state):
            self.refresh(state, theta)
            g = self.precond.grad_to_scaled(grad)
        state.theta, state.rule_state = self.rule.step(state.theta, g, state.rule_state, state.lr)

    def converged(self, state, loss):
        tol = max(self.solver.tol, self.tol_floor)
        # The floor: a loss near 0 (one class left by the weights, separable
        # data) would make the relative test unreachable for no useful digit.
        state.converged = bool(state.measure <= tol * max(abs(loss), LOSS_FLOOR))
        return state.converged

    def should_refresh(self, state):
        slow = state.measure > REFRESH_RATIO * state.previous_measure
        state.previous_measure = state.measure
        state.since_refresh += 1
        return (self.solver.refresh_curvature and not self.solver.fixed_step
                and self.precond.name == "full" and self.rule.default_lr is None
                and state.since_refresh >= 2 and slow)

    def refresh(self, state, theta):
        """Make the metric the Hessian at θ; momentum restarts in new coordinates."""
        self.precond = FactoredCurvature(self.objective.curvature(theta))
        if self.solver.penalty is not None:
            self.solver.proximal.bind(self.solver.penalty, self.precond)
        state.curvature_at = copy_float64(theta)
        state.theta = self.precond.to_scaled(theta)
        state.rule_state = self.rule.init(state.theta)
        state.lr, state.ref_step, state.since_refresh = 1.0, 1.0, 0
        state.previous_measure = np.inf

    def epoch(self, state):
        """One pass of shuffled mini-batch updates, then one full evaluation."""
        precond, batch = self.precond, self.solver.batch_size
        rng = np.random.default_rng()
        rng.bit_generator.state = state.rng_state
        m = self.objective.n_rows
        order = rng.permutation(m)
        state.rng_state = rng.bit_generator.state
        lr = state.lr if self.solver.fixed_step else float(state.lr / np.sqrt(state.iteration + 1))
        for start in range(0, m, batch):
            rows = np.sort(order[start:start + batch])
            _, grad = self.objective.loss_grad(precond.from_scaled(state.theta), rows=rows)
            state.theta, state.rule_state = self.rule.step(
                state.theta, precond.grad_to_scaled(grad), state.rule_state, lr)
        theta = precond.from_scaled(state.theta)
        loss, grad = self.evaluate(theta)
        g = precond.grad_to_scaled(grad)
        numbers = iteration_numbers(loss, grad, g)
        state.iteration += 1
        if self.handle_rise(state, numbers, grad, theta):
            state.theta = precond.to_scaled(state.best_theta)
        self.record(state, numbers, theta, g)
        self.converged(state, numbers[0])

    def handle_rise(self, state, numbers, grad, theta):
        """Track the best point; on a rise with α = auto, go back to it.

        ``numbers`` are :func:`iteration_numbers`. Returns True when the caller
        must continue from the best point. With a fixed α a non-finite or
        runaway loss raises :class:`DivergenceError`.
        """
        loss, finite = numbers[0], numbers[1]
        # Differences below the rounding of the loss are not rises.
        loss_cmp = loss - self.loss_noise * abs(loss) if finite else loss
        if state.first_loss is None and finite:
            state.first_loss = loss
        state.rises = state.rises + 1 if not (finite and loss_cmp <= state.last_loss) else 0
        state.last_loss = loss if finite else np.inf
        if finite and loss_cmp <= state.best_loss:
            state.best_loss, state.best_theta, state.best_grad = loss, theta, grad
            state.just_reset = False
            return False
        if self.solver.fixed_step:
            self.check_divergence(state, loss, finite)
            return False
        if state.best_theta is None:
            raise DivergenceError("the loss is not finite at the starting point; "
                                  "check the data for huge values or scale the features")
        if state.just_reset or not finite:
            state.lr *= 0.5
        state.just_reset = True
        state.rule_state = self.rule.init(self.precond.to_scaled(state.best_theta))
        return True

    def check_divergence(self, state, loss, finite):
        J0 = state.first_loss if state.first_loss is not None else np.inf
        if (not finite or loss > J0 + RISE_FACTOR * max(J0, 1.0)
                or (state.rises >= MAX_CONSECUTIVE_RISES and loss > J0)):
            what = "became non-finite" if not finite else f"rose to {loss:.4g}"
            raise DivergenceError(
                f"training diverged at iteration {state.iteration}: the loss {what} "
                f"with learning_rate={self.solver.learning_rate:g}; use a smaller learning "
                "rate (for example a tenth of it) or learning_rate='auto'")

    def record(self, state, numbers, theta, g):
        loss, _, g_squared, grad_norm = numbers
        if self.solver.penalty is not None:  # the gradient mapping at θ′
            step, proximal = state.ref_step, self.solver.proximal
            mapped = proximal.prox(state.theta - step * g, step)
            self.prox_point = proximal.user_point(mapped, self.precond)
            mapping = (state.theta - mapped) / step
            g_squared = float(mapping @ mapping)
        state.measure = 0.5 * g_squared * state.ref_step
        state.history.append({"iteration": state.iteration, "loss": float(loss),
                              "grad_norm": grad_norm,
                              "step_size": float(state.lr), "elapsed": state.elapsed,
                              **(self.solver.monitor(theta) if self.solver.monitor else {})})


def _as_vector(objective, values):
    """Host numbers as θ's kind of vector for this objective (NumPy unless
    the objective says otherwise, :meth:`Problem.as_vector`)."""
    as_vector = getattr(objective, "as_vector", None)
    return np.asarray(values, dtype=np.float64) if as_vector is None else as_vector(values)


def _norm(v):
    """‖v‖₂ (NumPy's own for NumPy vectors, so the CPU path keeps its bits)."""
    if is_numpy(v):
        return np.linalg.norm(v)
    return namespace(v).sqrt(v @ v)


def iteration_numbers(loss, grad, g):
    """(J, whether J and ∇J are finite, g′ᵀg′, ‖∇J‖) as host numbers.

    What one iteration needs on the host: for an objective on a device they
    are computed there and moved in one transfer, the only synchronisation
    of a full-batch iteration.
    """
    if is_numpy(grad):
        loss = float(loss)
        finite = bool(np.isfinite(loss) and np.all(np.isfinite(grad)))
        return loss, finite, float(g @ g), float(np.linalg.norm(grad))
    xp = namespace(grad)
    all_finite = xp.astype(xp.all(xp.isfinite(grad)), xp.float64)
    loss, finite, g_squared, grad_squared = host_floats(loss, all_finite, g @ g, grad @ grad)
    return loss, bool(finite) and bool(np.isfinite(loss)), g_squared, float(np.sqrt(grad_squared))
