"""The fused Triton kernel's numbers, in Triton's interpreter on the CPU (no GPU
needed), against the compiled CPU kernel; on a CUDA device, the same on the GPU."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("triton", reason="Triton is not installed (pip install triton)")
torch = pytest.importorskip("torch", reason="PyTorch is not installed")

sys.path.insert(0, str(Path(__file__).parent))
from triton_interpreted import CASES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
no_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                             reason="no CUDA device: the compiled kernel needs an NVIDIA GPU")


@pytest.fixture(scope="module")
def interpreted():
    """Every case's errors, from one process that runs the kernels interpreted."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, str(Path(__file__).parent / "triton_interpreted.py")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", list(CASES))
def test_the_kernel_gives_the_cpu_kernels_loss_and_gradient(interpreted, name):
    errors = interpreted[name]
    tolerance = 1e-5 * max(1.0, errors["scale"])  # float32 sums of float32 terms
    assert errors["loss"] <= tolerance and errors["dw"] <= tolerance, errors
    assert errors["db"] <= tolerance, errors
    assert errors["dtype"] == "torch.float64"  # the programs' partials added in float64


@pytest.mark.parametrize("name", list(CASES))
def test_the_same_data_gives_the_same_bits(interpreted, name):
    assert interpreted[name]["same_bits"]


def test_a_fit_through_the_kernel_reaches_the_cpu_fits_optimum(interpreted):
    fit = interpreted["fit"]
    assert fit["interpreted"] == "InterpretedFunction"  # the kernel really ran, interpreted
    assert fit["kind"] == "Tensor"  # θ stayed a tensor
    assert fit["theta"] <= 1e-5


def test_the_launch_depends_on_the_shape_alone_and_tiles_wide_x():
    from descend.engine.triton_kernel import MAX_BLOCK_N, MAX_PROGRAMS, launch_shape
    block_m, block_n, programs, per_program = launch_shape(10_000_000, 100)
    assert block_n == 128 and programs <= MAX_PROGRAMS
    assert programs * per_program * block_m >= 10_000_000  # every row has a program
    assert launch_shape(1_000_000, 1000)[1] == MAX_BLOCK_N  # 1000 columns: 8 tiles
    assert launch_shape(5, 3) == (256, 4, 1, 1)


@no_cuda
@pytest.mark.parametrize("storage", ["float32", "bfloat16", "float16"])
def test_on_a_gpu_the_kernel_gives_the_cpu_kernels_numbers(storage):
    from descend.engine.objective import Objective
    from descend.engine.triton_kernel import fused_sums
    rng = np.random.default_rng(0)
    m, n = 100_003, 300
    X = torch.asarray(rng.standard_normal((m, n)).astype(np.float32)).to(getattr(torch, storage))
    y, s = (rng.random(m) < 0.5).astype(np.float32), rng.random(m).astype(np.float32)
    w = (rng.standard_normal(n) / np.sqrt(n)).astype(np.float32)
    cuda = lambda v: torch.asarray(v).cuda()  # noqa: E731
    loss, gw, gb = fused_sums(X.cuda(), cuda(y), cuda(s), cuda(w), torch.tensor(0.3).cuda())
    reference = Objective(X.float().numpy().astype(np.float64), y.astype(float), s.astype(float))
    J, g = reference.loss_grad(np.r_[w, 0.3])
    S = float(np.sum(s, dtype=np.float64))
    assert abs(float(loss) / S - J) <= 1e-5
    np.testing.assert_allclose(gw.cpu().numpy() / S, g[:n], atol=1e-5)
    assert abs(float(gb) / S - g[n]) <= 1e-5


@no_cuda
def test_on_a_gpu_the_fit_uses_the_kernel_and_stays_on_the_device():
    from descend import LogisticRegression
    from descend.engine.array_objective import kernel_for
    from descend.engine.triton_kernel import fused_sums
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 10)).astype(np.float32)
    y = (X @ rng.standard_normal(10) + rng.standard_normal(20_000) > 0).astype(int)
    Xc = torch.asarray(X).cuda()
    assert kernel_for(Xc) is fused_sums
    clf = LogisticRegression().fit(Xc, torch.asarray(y).cuda())
    assert clf.coef_.is_cuda and clf.solver_state_.theta.is_cuda
    reference = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(clf.coef_.cpu().numpy(), reference.coef_, atol=1e-4)
