"""The lesson's proximal step: the gradient step, then the L1 threshold."""
import json
import warnings

import numpy as np
import pytest

import descend
from descend.exceptions import UsageError


def test_the_threshold_shrinks_each_weight_and_zeroes_the_small_ones():
    s = descend.step([1.0, 2.0, -1.0], 1, [0.5, 0.01, -0.02], b=0.1, alpha=0.1, l1=1.0)
    v = s.gradient.w_new
    np.testing.assert_allclose(v, s.gradient.w - 0.1 * s.gradient.dw)
    assert s.threshold == pytest.approx(0.1)
    np.testing.assert_allclose(s.w_new, np.sign(v) * np.maximum(np.abs(v) - 0.1, 0))
    # |v₂| = 0.079 and |v₃| = 0.055 are both ≤ 0.1; v₁ = 0.53 moves 0.1 towards zero
    assert s.zeroed.tolist() == [False, True, True] and s.w_new[0] == pytest.approx(v[0] - 0.1)
    assert s.b_new == s.gradient.b_new  # the bias is not penalised
    assert "set to 0" in str(s) and "1 of 3 weights non-zero" in str(s)


def test_the_lesson_step_is_the_training_step():
    x, y, w = np.array([1.5, -0.3, 0.2]), 1, np.array([0.4, 0.02, -0.5])
    b, alpha, lam = 0.2, 0.3, 0.4
    s = descend.step(x, y, w, b=b, alpha=alpha, l1=lam)
    # one example (Σs = 1), so λ₁ = 1/C; one iteration of gd from (w, b)
    clf = descend.LogisticRegression(penalty="l1", C=1 / lam, solver="gd", learning_rate=alpha,
                                     max_iter=1, warm_start=True)
    clf.coef_, clf.intercept_ = w[None, :], np.array([b])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(np.vstack([x, x]), [y, 1 - y], sample_weight=[1.0, 0.0])
    np.testing.assert_allclose(clf.coef_[0], s.w_new, rtol=1e-12, atol=1e-15)
    assert clf.intercept_[0] == pytest.approx(s.b_new, rel=1e-12)


def test_zero_l1_is_the_plain_step():
    plain = descend.step([1.0, 2.0], 0, [0.3, -0.1])
    s = descend.step([1.0, 2.0], 0, [0.3, -0.1], l1=0.0)
    np.testing.assert_array_equal(s.w_new, plain.w_new)


@pytest.mark.parametrize("l1", [-1.0, float("nan"), True])
def test_bad_l1_is_named(l1):
    with pytest.raises(UsageError, match="l1"):
        descend.step([1.0], 1, [0.0], l1=l1)


def test_explain_prints_the_threshold(run_cli):
    code, out, err = run_cli("explain", "--x", "1,2,-1", "--y", "1", "--w", "0.5,0.01,-0.02",
                             "--l1", "1.0")
    assert code == 0, err
    assert "Proximal step (L1, λ = 1)" in out and "set to 0" in out
    code, out, err = run_cli("explain", "--x", "1,2", "--y", "1", "--w", "0.5,0.01", "--l1",
                             "1.0", "--json")
    payload = json.loads(out)
    assert payload["l1"]["threshold"] == pytest.approx(0.1) and payload["l1"]["w_new"][1] == 0
