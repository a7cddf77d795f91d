"""The curvature's blocks: an unaligned X (a chunk unpickled at an odd offset)
gives the same sums, bit for bit, as the same values aligned; the dask path
reads such chunks in place instead of copying them."""
import numpy as np
import pytest

from descend.engine.multinomial import MultinomialObjective
from descend.engine.objective import Objective


def _unaligned(X):
    """X's values in memory 3 bytes past an aligned address."""
    raw = np.empty(X.nbytes + 64, dtype=np.uint8)
    U = raw[3:3 + X.nbytes].view(X.dtype).reshape(X.shape)
    U[...] = X
    assert not U.flags.aligned
    return U


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_unaligned_curvature_sums_are_the_same_bits(dtype, weighted):
    rng = np.random.default_rng(5)
    X = (rng.standard_normal((5003, 13)) * 3 + 1).astype(dtype)
    y = (rng.random(len(X)) < 0.4).astype(dtype)
    s = rng.uniform(0, 2, len(X)).astype(dtype) if weighted else None
    theta = rng.standard_normal(14) * 0.1
    aligned, unaligned = (Objective(A, y, s, block_rows=64) for A in (X, _unaligned(X)))
    for objective in (aligned, unaligned):
        objective.hessian_stride, objective.row_offset = 3, 1
    for t in (None, theta):
        (H, d), (H_u, d_u) = aligned.curvature_sums(t), unaligned.curvature_sums(t)
        np.testing.assert_array_equal(H_u, H)
        if t is not None:
            np.testing.assert_array_equal(d_u, d)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_unaligned_multinomial_hessian_is_the_same_bits(fit_intercept):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((3001, 9))
    y = rng.integers(0, 3, len(X))
    theta = rng.standard_normal(3 * (9 + fit_intercept)) * 0.2
    aligned, unaligned = (MultinomialObjective(A, y, 3, fit_intercept=fit_intercept,
                                               block_rows=64) for A in (X, _unaligned(X)))
    np.testing.assert_array_equal(unaligned.curvature(theta), aligned.curvature(theta))
    np.testing.assert_array_equal(unaligned.curvature(), aligned.curvature())


def test_dask_chunks_are_read_in_place_unless_not_c_ordered():
    pytest.importorskip("dask")
    from descend.cluster.arrays import _c_ordered
    U = _unaligned(np.arange(60.0).reshape(12, 5))
    assert _c_ordered(U) is U  # no copy of X the size of X
    F = np.asfortranarray(U)
    C = _c_ordered(F)
    assert C.flags.c_contiguous
    np.testing.assert_array_equal(C, U)
