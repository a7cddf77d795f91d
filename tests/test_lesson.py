"""descend.lesson.one_step against the lesson's formulas worked by hand."""
import math

import numpy as np
import pytest

from descend.lesson import step
from descend.lesson.text import lesson_text


def test_two_feature_example_matches_the_lessons_formulas():
    x1, x2, y = 1.0, 2.0, 1
    w1, w2, b, alpha = 0.5, -0.5, 0.1, 0.1
    s = step([x1, x2], y, [w1, w2], b, alpha)
    # Forward, written exactly as in the lesson.
    z = w1 * x1 + w2 * x2 + b
    a = 1 / (1 + math.exp(-z))
    loss = -(y * math.log(a) + (1 - y) * math.log(1 - a))
    da = -y / a + (1 - y) / (1 - a)
    dz = a - y
    dw1, dw2, db = x1 * dz, x2 * dz, dz
    assert s.z == pytest.approx(z, abs=1e-15)
    assert s.a == pytest.approx(a, rel=1e-15)
    assert s.loss == pytest.approx(loss, rel=1e-14)
    assert s.da == pytest.approx(da, rel=1e-14)
    assert s.dz == pytest.approx(dz, rel=1e-14)
    assert s.dz_chain == pytest.approx(dz, rel=1e-12)
    np.testing.assert_allclose(s.dw, [dw1, dw2], rtol=1e-14)
    assert s.db == pytest.approx(db, rel=1e-14)
    np.testing.assert_allclose(s.w_new, [w1 - alpha * dw1, w2 - alpha * dw2], rtol=1e-15)
    assert s.b_new == pytest.approx(b - alpha * db, rel=1e-15)


def test_negative_example_and_dict():
    s = step([3.0, -1.0, 0.5], 0, [0.2, 0.1, -1.0], -0.2, 0.5)
    a = 1 / (1 + math.exp(-(0.6 - 0.1 - 0.5 - 0.2)))
    assert s.da == pytest.approx(1 / (1 - a), rel=1e-13)
    assert s.dz == pytest.approx(a, rel=1e-13)
    d = s.to_dict()
    assert d["dw"] == pytest.approx([3 * a, -a, 0.5 * a], rel=1e-13)


def test_bad_arguments():
    with pytest.raises(ValueError, match="one weight per feature"):
        step([1.0, 2.0], 1, [0.5], 0.0, 0.1)
    with pytest.raises(ValueError, match="0 or 1"):
        step([1.0], 2, [0.5], 0.0, 0.1)


def test_a_sparse_example_shows_its_non_zero_terms_only():
    example = step([0.0, 2.0, 0.0, 0.0, -1.0], 1, [0.3, 0.5, -0.2, 0.7, 0.4], b=0.1)
    text = lesson_text(example, names=["a", "b", "c", "d", "e"], top=10)
    assert "  z = w2x2 + w5x5 + b\n    = (0.5)(2) + (0.4)(-1) + (0.1) = 0.7\n" in text
    assert "(3 of the 5 inputs are 0: their terms add nothing to z" in text
    assert "Backward pass (the 2 non-zero dwᵢ; --all lists all 5)" in text
    assert "w1 (a)" not in text and "w2 (b)" in text and "w5 (e)" in text
    every = lesson_text(example, top=None)
    assert "  z = w1x1 + w2x2 + w3x3 + w4x4 + … (1 more terms) + b" in every
    assert "inputs are 0" not in every and "w3 = -0.2 − 0.1·(0) = -0.2" in every
    dense = lesson_text(step([1.0, 2.0], 1, [0.5, -0.5], b=0.1), top=10)
    assert "  z = w1x1 + w2x2 + b\n" in dense and "inputs are 0" not in dense
