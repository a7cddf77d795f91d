"""Update rules as small (init, update) pairs with explicit state.

Each rule maps (θ, g, state, α) to (new θ, new state); the state is a dict of
arrays and numbers so a checkpoint can store it as it is. Rules see θ and g in
the solver's (possibly preconditioned) coordinates and know nothing of data.
"""
import numpy as np


class GradientDescent:
    """The lesson's rule: θ ← θ − α g."""

    name = "gd"

    def init(self, theta):
        return {}

    def update(self, theta, grad, state, lr):
        return theta - lr * grad, state

    def restart(self, state):
        return state


class Momentum:
    """Heavy ball: v ← β v + g, θ ← θ − α v."""

    name = "momentum"

    def __init__(self, beta=0.9):
        self.beta = beta

    def init(self, theta):
        return {"velocity": np.zeros_like(theta)}

    def update(self, theta, grad, state, lr):
        velocity = self.beta * state["velocity"] + grad
        return theta - lr * velocity, {"velocity": velocity}

    def restart(self, state):
        return {"velocity": np.zeros_like(state["velocity"])}


class Nesterov:
    """Nesterov's accelerated gradient (FISTA form) with adaptive restart.

    x⁺ = y − α g(y); t⁺ = (1 + √(1 + 4t²))/2; y⁺ = x⁺ + (t − 1)/t⁺ · (x⁺ − x).
    Momentum is reset (t = 1) when g(y)ᵀ(x⁺ − x) > 0, i.e. when the step it
    carries points uphill (O'Donoghue & Candès, 2015).
    """

    name = "nesterov"

    def __init__(self, adaptive_restart=True):
        self.adaptive_restart = adaptive_restart

    def init(self, theta):
        return {"x": np.array(theta, dtype=np.float64), "t": 1.0}

    def update(self, theta, grad, state, lr):
        x_prev, t = state["x"], state["t"]
        x = theta - lr * grad
        if self.adaptive_restart and grad @ (x - x_prev) > 0:
            t = 1.0
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        y = x + ((t - 1.0) / t_next) * (x - x_prev)
        return y, {"x": x, "t": t_next}

    def restart(self, state):
        return {"x": state["x"], "t": 1.0}


class Adam:
    """Adam: bias-corrected moving averages of g and g², step α m̂ / (√v̂ + ε)."""

    name = "adam"

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def init(self, theta):
        return {"m": np.zeros_like(theta), "v": np.zeros_like(theta), "k": 0}

    def update(self, theta, grad, state, lr):
        k = state["k"] + 1
        m = self.beta1 * state["m"] + (1 - self.beta1) * grad
        v = self.beta2 * state["v"] + (1 - self.beta2) * grad * grad
        m_hat = m / (1 - self.beta1**k)
        v_hat = v / (1 - self.beta2**k)
        return theta - lr * m_hat / (np.sqrt(v_hat) + self.eps), {"m": m, "v": v, "k": k}

    def restart(self, state):
        return self.init(state["m"])


RULES = {"gd": GradientDescent, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam}


def make_rule(name):
    """The update rule called ``name`` (one of ``RULES``)."""
    try:
        return RULES[name]()
    except KeyError:
        raise ValueError(f"unknown update rule {name!r}; use one of {sorted(RULES)}") from None
