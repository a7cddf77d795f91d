"""The computation graph: forward values, backward derivatives, stability."""
import numpy as np
import scipy.special
import pytest
import torch

from descend.engine.graph import fused_graph, unfused_graph
from descend.engine.numerics import log_sigmoid, sigmoid


def run(graph, X, y, w, b, s=None):
    S = float(len(y) if s is None else s.sum())
    values = graph.forward(x=X, w=w, b=b, y=y, s=s, S=S)
    grads = graph.backward(values)
    return values["J"], grads["w"], grads["b"]


def finite_difference(X, y, w, b, s=None, h=1e-6):
    def J(w_, b_):
        return run(fused_graph(), X, y, w_, b_, s)[0]
    dw = np.array([(J(w + h * e, b) - J(w - h * e, b)) / (2 * h) for e in np.eye(len(w))])
    db = (J(w, b + h) - J(w, b - h)) / (2 * h)
    return dw, db


@pytest.mark.parametrize("make_graph", [fused_graph, unfused_graph])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradients_match_central_differences(make_graph, weighted):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 4))
    y = (rng.random(50) < 0.5).astype(float)
    w, b = rng.standard_normal(4) * 0.5, 0.2
    s = rng.random(50) + 0.1 if weighted else None
    _, dw, db = run(make_graph(), X, y, w, b, s)
    fd_w, fd_b = finite_difference(X, y, w, b, s)
    np.testing.assert_allclose(dw, fd_w, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(db, fd_b, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("make_graph", [fused_graph, unfused_graph])
def test_gradients_match_torch_autograd(make_graph):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((80, 6))
    y = (rng.random(80) < 0.4).astype(float)
    s = rng.random(80) + 0.5
    w, b = rng.standard_normal(6), -0.3
    J, dw, db = run(make_graph(), X, y, w, b, s)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    z = torch.tensor(X) @ tw + tb
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        z, torch.tensor(y), weight=torch.tensor(s), reduction="sum") / s.sum()
    loss.backward()
    assert J == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-10)
    assert db == pytest.approx(tb.grad.item(), rel=1e-10)


def test_fused_and_unfused_give_the_same_dz_where_a_is_not_saturated():
    z = np.linspace(-15, 15, 61)
    for label in (0.0, 1.0):
        y = np.full_like(z, label)
        X = z[:, None]  # w = 1, b = 0 makes the logits exactly z
        args = dict(x=X, w=np.ones(1), b=0.0, y=y, s=None, S=1.0)
        fused, chain = fused_graph(), unfused_graph()
        dz_fused = fused.backward(fused.forward(**args))["z"]
        values = chain.forward(**args)
        dz_chain = chain.backward(values)["z"]
        np.testing.assert_allclose(dz_chain, dz_fused, rtol=1e-8, atol=1e-15)
        np.testing.assert_allclose(dz_fused, values["a"] - y, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_give_finite_loss_and_gradient(dtype):
    z = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype)
    X = z[:, None]
    for label in (0.0, 1.0):
        y = np.full(len(z), label, dtype=dtype)
        g = fused_graph()
        values = g.forward(x=X, w=np.ones(1, dtype), b=dtype(0), y=y, s=None, S=5.0)
        grads = g.backward(values)
        assert np.all(np.isfinite(values["L"])) and np.isfinite(values["J"])
        assert np.all(np.isfinite(grads["w"])) and np.isfinite(grads["b"])
        # The loss of a confidently wrong example is |z|, of a right one ~0.
        wrong = (z > 0) != (label == 1)
        np.testing.assert_allclose(values["L"][wrong & (np.abs(z) >= 50)],
                                   np.abs(z[wrong & (np.abs(z) >= 50)]), rtol=1e-6)
        assert values["L"].dtype == dtype


def test_numerics_keep_dtype_and_agree_with_definitions():
    z = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-13)
    np.testing.assert_allclose(log_sigmoid(z), -np.log1p(np.exp(-z)), rtol=1e-13)
    assert log_sigmoid(np.float32([-1e4]))[0] == np.float32(-1e4)
    assert log_sigmoid(z.astype(np.float32)).dtype == np.float32


def test_backward_accumulates_into_totals():
    rng = np.random.default_rng(3)
    X, y, w = rng.standard_normal((30, 3)), (rng.random(30) < .5) * 1.0, rng.standard_normal(3)
    g = fused_graph()
    totals = {"w": np.zeros(3), "b": np.zeros(())}
    for part in (slice(0, 10), slice(10, 30)):
        g.backward(g.forward(x=X[part], w=w, b=0.1, y=y[part], s=None, S=30.0), into=totals)
    whole = g.backward(g.forward(x=X, w=w, b=0.1, y=y, s=None, S=30.0))
    np.testing.assert_allclose(totals["w"], whole["w"], rtol=1e-13)
    assert float(totals["b"]) == pytest.approx(float(whole["b"]), rel=1e-13)


def _correctly_rounded(function, values, dtype):
    """function(v) for each v, computed with 120 bits by mpmath and rounded to dtype."""
    import mpmath
    with mpmath.workprec(120):
        return np.array([float(function(mpmath.mpf(float(v)))) for v in values]).astype(dtype)


def _ulps_off(got, want, dtype):
    """|got − want| in units in the last place of want, in dtype."""
    spacing = np.spacing(np.maximum(np.abs(want), np.finfo(dtype).tiny)).astype(np.float64)
    return np.abs(got - want.astype(np.float64)) / spacing


@pytest.mark.parametrize("dtype, ulps, lowest", [(np.float64, 2, -708.0), (np.float32, 2, -87.0)])
def test_hand_written_exp_and_log1p_are_accurate_to_a_few_ulp(dtype, ulps, lowest):
    import mpmath

    from descend.engine.numerics import FLOAT32, FLOAT64
    formulas = FLOAT64 if dtype == np.float64 else FLOAT32
    eps = np.finfo(dtype).eps
    t = np.concatenate([-np.geomspace(np.finfo(dtype).tiny, -lowest, 4000),
                        [0.0, -0.0, -1e-20, -0.5, -0.3465]]).astype(dtype)
    e = np.concatenate([np.geomspace(np.finfo(dtype).tiny, 1, 4000), [0.0, 1.0, 0.5]]).astype(dtype)
    for formula, reference, args in ((formulas.exp_nonpositive, mpmath.exp, t),
                                     (formulas.log1p_unit, mpmath.log1p, e)):
        got = np.array([formula(v) for v in args])
        if dtype == np.float32:  # computed in float32 (boxed as a Python float)
            assert np.array_equal(got.astype(np.float32).astype(np.float64), got)
        off = _ulps_off(got, _correctly_rounded(reference, args, dtype), dtype)
        assert off.max() <= ulps, (formula.__name__, args[off.argmax()], off.max())
        assert np.mean(off == 0) > 0.8  # mostly correctly rounded
    # Below the smallest normal number the result is clamped: tiny, never above e^lowest.
    for v in (lowest - 1, lowest * 1.1, -1e4, -np.inf):
        assert 0 <= formulas.exp_nonpositive(dtype(v)) <= np.exp(lowest) * (1 + eps)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_and_dz_ufuncs_keep_every_digit_of_small_values(dtype):
    """L and a − y are computed without cancellation, in the input's precision:
    relative error of a few ulp even where they are 1e-30 (a well-classified row)."""
    from descend.engine.numerics import dloss_dlogit, loss_from_logit
    top = 80.0 if dtype == np.float32 else 700.0
    z = np.concatenate([np.linspace(-top, top, 8001), [0.0]]).astype(dtype)
    z64 = z.astype(np.float64)
    eps = np.finfo(dtype).eps
    for label in (0.0, 1.0):
        y = np.full_like(z, label)
        margin = z64 if label == 1.0 else -z64            # L = log(1 + e^−margin)
        want_loss = np.log1p(np.exp(-margin))
        want_dz = scipy.special.expit(z64) if label == 0.0 else -scipy.special.expit(-z64)
        got_loss, got_dz = loss_from_logit(z, y), dloss_dlogit(z, y)
        assert got_loss.dtype == got_dz.dtype == dtype
        np.testing.assert_allclose(got_loss, want_loss, rtol=8 * eps, atol=0)
        np.testing.assert_allclose(got_dz, want_dz, rtol=8 * eps, atol=0)


def test_loss_and_dz_ufuncs_match_their_definitions_everywhere():
    from descend.engine.numerics import dloss_dlogit, loss_from_logit
    z = np.concatenate([np.linspace(-40, 40, 8001), [-1e4, -800.0, 800.0, 1e4, 0.0]])
    # max(z, 0) − y z and a − y cancel: allow a few ulp of max(|z|, 1) absolute.
    slack = 4 * np.spacing(np.maximum(np.abs(z), 1.0))
    for label in (0.0, 1.0):
        y = np.full_like(z, label)
        for got, want in ((loss_from_logit(z, y), np.logaddexp(0, z) - y * z),
                          (dloss_dlogit(z, y), scipy.special.expit(z) - y)):
            assert np.all(np.abs(got - want) <= 1e-15 * np.abs(want) + slack)
