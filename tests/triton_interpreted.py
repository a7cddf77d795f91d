"""Run the Triton kernel in Triton's interpreter on CPU tensors; print its errors as JSON.

A script of its own because ``TRITON_INTERPRET`` must be set before the
kernels are defined, and setting it in the test process would also turn a
GPU run's kernels into interpreted ones. Each case compares
:func:`descend.engine.triton_kernel.fused_sums` with the compiled CPU kernel
(:class:`descend.engine.objective.Objective`, float64 on the very values X
holds after rounding to its storage type).
"""
import json
import os
import sys

os.environ["TRITON_INTERPRET"] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

from descend.engine import triton_kernel  # noqa: E402
from descend.engine.array_objective import ArrayObjective  # noqa: E402
from descend.engine.objective import Objective  # noqa: E402
from descend.optim.solver import Solver  # noqa: E402

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

#: name: (m, n, storage, weighted, logit scale, MAX_PROGRAMS)
CASES = {
    "narrow, rows not a multiple of the block": (1000, 7, "float32", True, 1.0, 2048),
    "narrow, one full tile of 128 columns": (300, 128, "float32", False, 1.0, 2048),
    "wide: 3 column tiles, the last partial": (333, 300, "float32", True, 1.0, 2048),
    "wide, several row blocks per program": (1000, 260, "float32", True, 1.0, 3),
    "narrow, several row blocks per program": (5000, 20, "float32", False, 1.0, 4),
    "bfloat16 storage, wide": (200, 129, "bfloat16", True, 1.0, 2048),
    "float16 storage, one column": (301, 1, "float16", False, 1.0, 2048),
    "logits of ±60: nothing overflows": (400, 10, "float32", True, 30.0, 2048),
}


def case(m, n, storage, weighted, scale, programs, seed=0):
    """Largest |error| of loss, dw and db (means over Σs) against the CPU kernel."""
    triton_kernel.MAX_PROGRAMS = programs
    rng = np.random.default_rng(seed)
    X = torch.asarray(rng.standard_normal((m, n)).astype(np.float32)).to(DTYPES[storage])
    y = (rng.random(m) < 0.5).astype(np.float32)
    s = rng.random(m).astype(np.float32) * 2 if weighted else None
    w = (rng.standard_normal(n) * scale / np.sqrt(n)).astype(np.float32)
    b = np.float32(0.3)
    loss, gw, gb = triton_kernel.fused_sums(
        X, torch.asarray(y), None if s is None else torch.asarray(s), torch.asarray(w),
        torch.tensor(b))
    X64 = X.to(torch.float32).numpy().astype(np.float64)
    reference = Objective(X64, y.astype(np.float64), None if s is None else s.astype(np.float64))
    J, g = reference.loss_grad(np.r_[w, b].astype(np.float64))
    S = float(m) if s is None else float(np.sum(s, dtype=np.float64))
    again = triton_kernel.fused_sums(
        X, torch.asarray(y), None if s is None else torch.asarray(s), torch.asarray(w),
        torch.tensor(b))
    same_bits = all(bool(torch.equal(u, v)) for u, v in zip((loss, gw, gb), again))
    return {"loss": abs(float(loss) / S - J), "dw": float(np.max(np.abs(gw.numpy() / S - g[:n]))),
            "db": abs(float(gb) / S - g[n]), "scale": float(np.max(np.abs(g))) + J,
            "same_bits": same_bits, "dtype": str(loss.dtype)}


def fit_through_the_kernel(m=500, n=6, seed=1):
    """Largest |θ difference| of a fit whose gradients are the kernel's, vs the CPU fit."""
    triton_kernel.MAX_PROGRAMS = 2048
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)).astype(np.float32)
    y = (rng.random(m) < 1 / (1 + np.exp(-(X @ rng.standard_normal(n) + 0.3)))).astype(float)
    solver = Solver(max_iter=200, tol=1e-10)
    cpu = solver.run(Objective(X, y, l2=1.0 / m)).theta
    device = ArrayObjective(torch.asarray(X), y, l2=1.0 / m, kernel=triton_kernel.fused_sums)
    result = solver.run(device).theta
    return {"theta": float(np.max(np.abs(result.numpy() - cpu))), "kind": type(result).__name__,
            "interpreted": type(triton_kernel._narrow_kernel).__name__}


if __name__ == "__main__":
    out = {name: case(*shape) for name, shape in CASES.items()}
    out["fit"] = fit_through_the_kernel()
    json.dump(out, sys.stdout)
