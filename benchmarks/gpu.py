"""GPU benchmark (issue 18): descend on CUDA tensors against PyTorch and scikit-learn.

Needs an NVIDIA GPU with CUDA-enabled PyTorch (and Triton for the fused
kernel); anywhere else it exits at once with a line saying so. It prints two
markdown tables:

* **Epoch ÷ X @ w**: one evaluation of J and ∇J (``ArrayObjective.loss_grad``:
  the fused Triton pass, the float64 reduction of its partials, the penalty)
  against one ``torch.mv(X, w)``, for 10M × 100, 50M × 20 and 1M × 1000
  float32 (and 10M × 100 stored as bfloat16), beside PyTorch's two-pass
  epoch (z = Xw, then Xᵀ(a − y)) and its autograd step with
  ``BCEWithLogitsLoss``. Best of 20 timings with CUDA events, taken in four
  rounds that alternate the contenders.
* **Time to relative gap 1e-6** on 10M × 100 float32 (``--race-rows``):
  ``descend.LogisticRegression().fit`` on the CUDA tensors, full-batch
  ``torch.optim.LBFGS`` (strong Wolfe) on ``BCEWithLogitsLoss`` + the same
  L2 (gap checked after each step, untimed), and scikit-learn's
  ``LogisticRegression(solver="lbfgs")`` with ``array_api_dispatch=True`` on
  the same device, all with C = 1. The gap is (J − J*)/J*, J in float64, J*
  from descend run in float64 far past its tolerance.

Run: ``python benchmarks/gpu.py`` (about 5 minutes and 30 GB of GPU memory on
an H100; ``--scale 0.1`` divides every row count by ten for a quick try).
``--device cpu --scale 0.0001`` runs the script's code on CPU tensors in
seconds: a check of the script, not a benchmark (no Triton kernel there).
"""
import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # scikit-learn's Array API path needs it first
# no module of this folder may stand in for a package numba or torch imports
sys.path = [p for p in sys.path if os.path.abspath(p) != os.path.dirname(os.path.abspath(__file__))]

import numpy as np  # noqa: E402

C = 1.0
TARGET_GAP = 1e-6
#: A contender still short of the target after this many seconds is stopped.
SLOW_LIMIT_S = 60.0
#: ... and so is the L-BFGS loop when this many steps in a row bring no better gap
#: (float32 line searches stall short of 1e-6 on ill-conditioned data).
STALL_STEPS = 200
#: Where the tensors live: "cuda", or "cpu" to check the script itself.
DEVICE = "cuda"
EPOCH_SHAPES = [(10_000_000, 100, "float32"), (50_000_000, 20, "float32"),
                (1_000_000, 1000, "float32"), (10_000_000, 100, "bfloat16")]


def require_cuda(device):
    """torch with a CUDA device (unless ``device`` is "cpu"), or a clear line and exit status 1."""
    try:
        import torch
    except ImportError:
        sys.exit("benchmarks/gpu.py needs PyTorch with CUDA (pip install torch) and an "
                 "NVIDIA GPU; PyTorch is not installed here")
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit(f"benchmarks/gpu.py needs an NVIDIA GPU: torch {torch.__version__} sees no "
                 "CUDA device here (torch.cuda.is_available() is False); run it on a GPU "
                 "machine")
    return torch


def make_problem(torch, m, n, seed=0, dtype="float32"):
    """X (m × n, columns of scales 0.1 to 10), y from a logistic model; on the GPU."""
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    X = torch.randn((m, n), device=DEVICE, generator=g, dtype=torch.float32)
    X *= torch.logspace(-1, 1, n, device=DEVICE)
    w = torch.randn(n, device=DEVICE, generator=g) / torch.logspace(-1, 1, n, device=DEVICE)
    z = X @ (w / np.sqrt(n)) + 0.3
    y = (torch.rand(m, device=DEVICE, generator=g) < torch.sigmoid(z)).to(torch.float32)
    return X.to(getattr(torch, dtype)), y


def synchronize(torch):
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def seconds_of(torch, fn):
    """Seconds of one call: CUDA events on the GPU, the wall clock on the CPU."""
    if DEVICE != "cuda":
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / 1e3


def best_times(torch, contenders, rounds=4, per_round=5):
    """Best seconds of each callable, in rounds that alternate them."""
    best = {name: np.inf for name in contenders}
    for fn in contenders.values():
        fn()  # warm-up: compilation, allocations
    synchronize(torch)
    for _ in range(rounds):
        for name, fn in contenders.items():
            for _ in range(per_round):
                best[name] = min(best[name], seconds_of(torch, fn))
    return best


def epoch_row(torch, m, n, dtype):
    """(ms of X @ w, descend epoch, two-pass, autograd) for one shape."""
    from descend.engine.array_objective import ArrayObjective
    X, y = make_problem(torch, m, n, seed=1, dtype=dtype)
    objective = ArrayObjective(X, y, l2=1.0 / (C * m))
    theta = torch.randn(n + 1, device=DEVICE, dtype=torch.float64) * 0.01
    Xf = X if X.dtype == torch.float32 else None
    w = theta[:n].float().requires_grad_(True)
    b = theta[n:].float()
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def two_pass():
        with torch.no_grad():
            z = torch.mv(Xf, w) + b
            dz = torch.sigmoid(z) - y
            return torch.mv(Xf.T, dz) / m, loss_fn(z, y)

    def autograd():
        w.grad = None
        loss_fn(torch.mv(Xf, w) + b, y).backward()
    contenders = {"X @ w": lambda: torch.mv(X, w.detach().to(X.dtype)),
                  "descend": lambda: objective.loss_grad(theta)}
    if Xf is not None:
        contenders.update({"two-pass": two_pass, "autograd": autograd})
    times = best_times(torch, contenders)
    kernel = "fused Triton" if objective.kernel is not None else "two products (no Triton)"
    del X, Xf, objective
    if DEVICE == "cuda":
        torch.cuda.empty_cache()
    return times, kernel


def epoch_table(torch, scale):
    print("## Epoch: loss + gradient ÷ one X @ w (PyTorch matvec on the same X)\n")
    print("| shape | storage | X @ w (ms) | descend epoch (ms) | ratio | PyTorch two-pass | "
          "ratio | autograd BCE | ratio | descend's pass |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m, n, dtype in EPOCH_SHAPES:
        m = max(int(m * scale), 1000)
        t, kernel = epoch_row(torch, m, n, dtype)
        base = t["X @ w"]
        cells = [f"{m:,} × {n}", dtype, f"{1e3 * base:.3f}", f"{1e3 * t['descend']:.3f}",
                 f"{t['descend'] / base:.2f}"]
        for name in ("two-pass", "autograd"):
            cells += ([f"{1e3 * t[name]:.3f}", f"{t[name] / base:.2f}"] if name in t
                      else ["—", "—"])
        print("| " + " | ".join(cells + [kernel]) + " |", flush=True)
    print()


def race_table(torch, m, n=100):
    """Time to gap 1e-6: descend, torch L-BFGS and scikit-learn's Array API lbfgs."""
    import descend
    from descend.engine.array_objective import ArrayObjective
    X, y = make_problem(torch, m, n, seed=2)
    X64 = X.double()
    J = ArrayObjective(X64, y, l2=1.0 / (C * m)).loss_grad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        star = descend.LogisticRegression(C=C, tol=1e-16, max_iter=300).fit(X64, y)
    J_star = float(J(theta_of(torch, star.coef_, star.intercept_))[0])
    gap = lambda coef, b: (float(J(theta_of(torch, coef, b))[0]) - J_star) / J_star  # noqa: E731
    rows = [("descend (defaults)",) + timed(torch, lambda: descend.LogisticRegression(
        C=C).fit(X, y), gap)]
    rows.append(("torch LBFGS loop (full batch)",) + torch_lbfgs(torch, X, y, gap))
    rows.append(("sklearn lbfgs, array_api_dispatch (defaults)",) + sklearn_lbfgs(X, y, gap))
    del X64
    print(f"## Time to relative gap {TARGET_GAP:g}, {m:,} × {n} float32 on {DEVICE}\n")
    print("| method | seconds | gap reached | × descend |")
    print("|---|---|---|---|")
    for name, seconds, reached in rows:
        print(f"| {name} | {seconds:.2f} | {reached:.1e} | {seconds / rows[0][1]:.1f} |")
    print()


def theta_of(torch, coef, intercept):
    return torch.cat([torch.as_tensor(coef).reshape(-1), torch.as_tensor(intercept).reshape(-1)]
                     ).to(device=DEVICE, dtype=torch.float64)


def timed(torch, fit, gap):
    """(seconds, gap) of one fit, synchronised before and after."""
    synchronize(torch)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit()
    synchronize(torch)
    return time.perf_counter() - start, gap(model.coef_, model.intercept_)


def torch_lbfgs(torch, X, y, gap):
    """Full-batch LBFGS (strong Wolfe) until the gap ≤ 1e-6 or SLOW_LIMIT_S."""
    n = X.shape[1]
    w = torch.zeros(n, device=DEVICE, requires_grad=True)
    b = torch.zeros(1, device=DEVICE, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=1, max_eval=25, history_size=10,
                            line_search_fn="strong_wolfe")
    loss_fn, lam = torch.nn.BCEWithLogitsLoss(), 1.0 / (C * len(y))

    def closure():
        opt.zero_grad()
        loss = loss_fn(X @ w + b, y) + 0.5 * lam * (w @ w)
        loss.backward()
        return loss
    elapsed, best, since_best = 0.0, np.inf, 0
    while best > TARGET_GAP and elapsed < SLOW_LIMIT_S and since_best < STALL_STEPS:
        synchronize(torch)
        start = time.perf_counter()
        opt.step(closure)
        synchronize(torch)
        elapsed += time.perf_counter() - start
        reached = gap(w.detach(), b.detach())
        best, since_best = (reached, 0) if reached < best else (best, since_best + 1)
    return elapsed, best


def sklearn_lbfgs(X, y, gap):
    """scikit-learn's lbfgs on the same CUDA tensors (its Array API path)."""
    import torch
    from sklearn import config_context
    from sklearn.linear_model import LogisticRegression
    try:
        with config_context(array_api_dispatch=True):
            return timed(torch, lambda: LogisticRegression(C=C).fit(X, y.to(torch.int64)), gap)
    except Exception as error:  # report why, keep the other rows
        print(f"scikit-learn's Array API lbfgs failed: {type(error).__name__}: {error}",
              file=sys.stderr)
        return np.nan, np.nan


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every row count by this (0.1 for a quick try)")
    parser.add_argument("--race-rows", type=int, default=10_000_000,
                        help="rows of the time-to-gap race (100 float32 columns)")
    parser.add_argument("--skip-race", action="store_true", help="print the epoch table only")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="cpu: run the script on CPU tensors, to check it (not a benchmark)")
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    torch = require_cuda(DEVICE)
    import sklearn
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = "absent (descend uses two products per gradient)"
    print(f"# descend GPU benchmark — {time.strftime('%Y-%m-%d')}")
    name = torch.cuda.get_device_name() if DEVICE == "cuda" else "CPU (a check, not a benchmark)"
    print(f"device: {name}; torch {torch.__version__}, "
          f"triton {triton_version}, scikit-learn {sklearn.__version__}\n")
    epoch_table(torch, args.scale)
    if not args.skip_race:
        race_table(torch, max(int(args.race_rows * args.scale), 1000))
    print("Targets (issue 18, on an H100): epoch ≤ 1.2 × X @ w at all three float32 shapes; "
          "time to 1e-6 ≤ 0.2 × the PyTorch L-BFGS loop.")


if __name__ == "__main__":
    main()
