"""Update rules as chains of small gradient transformations.

Each transformation is an (init, update) pair with explicit state, as in
optax: ``update(u, state, θ, lr)`` turns the incoming update ``u`` (at first
the gradient g) into a new one and returns it with its new state; the solver
applies the chain's result as θ ← θ + u. The step size is itself a link
(:class:`ScaleByLearningRate`: u ← −α u), so links placed after it (a
proximal map for L1, clipping) see the step and can change it. States are
dicts of arrays and numbers, and a chain's state is a list of them, so a
checkpoint stores them as they are. Rules see θ and g in the solver's
(possibly preconditioned) coordinates and know nothing of data. They run on NumPy vectors or on any Array API
namespace's (:mod:`descend.optim.arrays`), on θ's device.
"""
from descend.optim.arrays import copy_float64, is_numpy, namespace


class ScaleByLearningRate:
    """u ← −α u: the lesson's step, w ← w − α·dw, as a link of a chain."""

    def init(self, theta):
        return {}

    def update(self, u, state, theta, lr):
        return -lr * u, state


class Trace:
    """Heavy-ball velocity: v ← β v + u, u ← v."""

    def __init__(self, beta=0.9):
        self.beta = beta

    def init(self, theta):
        return {"velocity": namespace(theta).zeros_like(theta)}

    def update(self, u, state, theta, lr):
        velocity = self.beta * state["velocity"] + u
        return velocity, {"velocity": velocity}


class Accelerate:
    """Nesterov's extrapolation (FISTA form) with adaptive restart, on a step.

    The incoming u is the step from y = θ to x⁺ = y + u (for plain gradients
    u = −α g(y)). Then t⁺ = (1 + √(1 + 4t²))/2 and y⁺ = x⁺ + (t − 1)/t⁺ · (x⁺ − x).
    Momentum is reset (t = 1) when the step points against the momentum,
    uᵀ(x⁺ − x) < 0, i.e. g(y)ᵀ(x⁺ − x) > 0 (O'Donoghue & Candès, 2015).
    """

    def __init__(self, adaptive_restart=True):
        self.adaptive_restart = adaptive_restart

    def init(self, theta):
        return {"x": copy_float64(theta), "t": 1.0}

    def update(self, u, state, theta, lr):
        x_prev, t = state["x"], state["t"]
        x = theta + u
        if not is_numpy(x):
            t = self._restart_on_device(u, x, x_prev, t)
        elif self.adaptive_restart and u @ (x - x_prev) < 0:
            t = 1.0
        t_next = 0.5 * (1.0 + namespace(t).sqrt(1.0 + 4.0 * t * t))
        y = x + ((t - 1.0) / t_next) * (x - x_prev)
        return y - theta, {"x": x, "t": t_next}

    def _restart_on_device(self, u, x, x_prev, t):
        """The restart as a select, t a 0-d array: no branch, so nothing is
        synchronised with the host."""
        xp = namespace(x)
        t = xp.asarray(t, dtype=x.dtype, device=x.device)
        if self.adaptive_restart:
            t = xp.where(u @ (x - x_prev) < 0, xp.ones_like(t), t)
        return t


class ScaleByAdam:
    """u ← m̂ / (√v̂ + ε): bias-corrected moving averages of u and u²."""

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def init(self, theta):
        xp = namespace(theta)
        return {"m": xp.zeros_like(theta), "v": xp.zeros_like(theta), "k": 0}

    def update(self, u, state, theta, lr):
        k = state["k"] + 1
        m = self.beta1 * state["m"] + (1 - self.beta1) * u
        v = self.beta2 * state["v"] + (1 - self.beta2) * u * u
        m_hat = m / (1 - self.beta1**k)
        v_hat = v / (1 - self.beta2**k)
        return m_hat / (namespace(v_hat).sqrt(v_hat) + self.eps), {"m": m, "v": v, "k": k}


class Chain:
    """Links applied in order; the state is the list of their states.

    Parameters
    ----------
    name : str
    links : list
        Objects with ``init(θ)`` and ``update(u, state, θ, lr)``.
    default_lr : float or None
        None: the rule's steps scale with the gradient, so the solver's 1/L
        is the right α (and a Newton-like metric makes α = 1 a Newton step).
        A number: the rule normalises its steps (Adam), α is in units of θ.
    """

    def __init__(self, name, links, default_lr=None):
        self.name, self.links, self.default_lr = name, list(links), default_lr

    def init(self, theta):
        return [link.init(theta) for link in self.links]

    def update(self, grad, state, theta, lr):
        """The update u to add to θ, and the chain's new state."""
        u, new_state = grad, []
        for link, link_state in zip(self.links, state):
            u, link_state = link.update(u, link_state, theta, lr)
            new_state.append(link_state)
        return u, new_state

    def step(self, theta, grad, state, lr):
        """θ + u and the new state: one update applied."""
        u, state = self.update(grad, state, theta, lr)
        return theta + u, state


#: Update rules by name, each a factory of a fresh :class:`Chain`.
RULES = {
    "gd": lambda: Chain("gd", [ScaleByLearningRate()]),
    "momentum": lambda: Chain("momentum", [Trace(0.9), ScaleByLearningRate()]),
    "nesterov": lambda: Chain("nesterov", [ScaleByLearningRate(), Accelerate()]),
    "adam": lambda: Chain("adam", [ScaleByAdam(), ScaleByLearningRate()], default_lr=0.01),
}


def make_rule(name):
    """The update rule called ``name`` (one of ``RULES``)."""
    try:
        return RULES[name]()
    except KeyError:
        raise ValueError(f"unknown update rule {name!r}; use one of {sorted(RULES)}") from None


def with_link_after_step(rule, link):
    """A copy of ``rule`` with ``link`` right after its step size
    (:class:`ScaleByLearningRate`), so a proximal map sees θ + u, u = −α g,
    and the links after it (Nesterov's extrapolation) see the mapped step."""
    links = list(rule.links)
    at = next(i for i, each in enumerate(links) if isinstance(each, ScaleByLearningRate)) + 1
    return Chain(rule.name, links[:at] + [link] + links[at:], rule.default_lr)
