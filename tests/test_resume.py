"""Kill a real training process at random moments, resume, get the same bits."""
import json
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import DESCEND_EXE
from descend.io.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 6))
    y = np.where(rng.random(3000) < 1 / (1 + np.exp(-(X @ rng.standard_normal(6)))), "yes", "no")
    path = folder / "train.csv"
    lines = ["f0,f1,f2,f3,f4,f5,label"] + [",".join(f"{v:.6f}" for v in row) + f",{lab}"
                                           for row, lab in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


RUNS = {
    # plain gradient descent with a fixed α, many iterations, never converging
    "gd": ["--solver", "gd", "--learning-rate", "0.05", "--max-iter", "300", "--tol", "0"],
    # seeded one-epoch-at-a-time mini-batch SGD
    "sgd": ["--batch-size", "64", "--seed", "5", "--max-iter", "40", "--tol", "0"],
}


def train_args(data, out, extra):
    return [DESCEND_EXE, "train", str(data), "--target", "label", "-o", str(out), "-q", *extra]


def coefficients(model_path):
    saved = json.loads(model_path.read_text())
    return saved["coef"] + [saved["intercept"]]


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("full")
    results = {}
    for name, extra in RUNS.items():
        out = folder / f"{name}.json"
        subprocess.run(train_args(data, out, extra), check=True, capture_output=True, timeout=120)
        results[name] = coefficients(out)
    return results


def wait_for_iteration(checkpoint, iteration, process, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, "training ended before it could be interrupted"
        try:
            state, _ = load_checkpoint(checkpoint)
            if state.iteration >= iteration:
                return state.iteration
        except Exception:  # not written yet
            pass
        time.sleep(0.005)
    raise TimeoutError


def start(data, out, extra, checkpoint):
    return subprocess.Popen(train_args(data, out, [*extra, "--checkpoint", str(checkpoint),
                                                   "--checkpoint-every", "1"]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def resume(data, out, extra, checkpoint):
    result = subprocess.run(train_args(data, out, [*extra, "--resume", str(checkpoint)]),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return coefficients(out)


@pytest.mark.parametrize("name,moments", [("gd", [7, 120, 260]), ("sgd", [3, 25])])
def test_sigkill_at_random_moments_then_resume_gives_the_same_coefficients(
        name, moments, data, uninterrupted, tmp_path):
    rng = np.random.default_rng(len(name))
    for k, moment in enumerate(moments):
        moment = int(moment + rng.integers(0, 5))
        checkpoint, out = tmp_path / f"ck{k}", tmp_path / f"m{k}.json"
        process = start(data, out, RUNS[name], checkpoint)
        reached = wait_for_iteration(checkpoint, moment, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        assert not out.exists()
        state, _ = load_checkpoint(checkpoint)  # the checkpoint survived the kill
        assert state.iteration >= reached
        assert resume(data, out, RUNS[name], checkpoint) == uninterrupted[name]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_save_a_checkpoint_and_say_how_to_resume(sig, data, uninterrupted,
                                                                      tmp_path):
    checkpoint, out = tmp_path / "ck", tmp_path / "m.json"
    process = start(data, out, RUNS["gd"], checkpoint)
    reached = wait_for_iteration(checkpoint, 50, process)
    process.send_signal(sig)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 128 + sig
    assert f"{signal.Signals(sig).name} at iteration" in err and "--resume" in err
    assert "Traceback" not in err and not out.exists()
    state, meta = load_checkpoint(checkpoint)
    assert state.iteration >= reached and meta["target"] == "label"
    assert resume(data, out, RUNS["gd"], checkpoint) == uninterrupted["gd"]


@pytest.mark.parametrize("kw,at", [
    (dict(solver="nesterov", learning_rate=0.3, tol=0, max_iter=60), 25),
    # the default, factored curvature bound; on these data it converges before any
    # refresh to the Hessian (test_solver_behaviour resumes across a refresh)
    (dict(), 4),
    (dict(batch_size=32, random_state=3, tol=0, max_iter=8), 3),
])
def test_library_resume_from_a_saved_state_is_bit_for_bit(kw, at, tmp_path):
    import warnings

    import descend
    from descend.io.checkpoint import save_checkpoint
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 4)) * [1, 10, 0.1, 3] + [0, 5, 0, -2]
    y = (rng.random(500) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)

    def grab(state):
        if state.iteration == at:
            save_checkpoint(tmp_path, state, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = descend.LogisticRegression(**kw, callback=grab).fit(X, y)
        assert full.n_iter_ > at
        state, _ = load_checkpoint(tmp_path)
        assert state.iteration == at
        resumed = descend.LogisticRegression(**kw).fit(X, y, solver_state=state)
    assert np.array_equal(resumed.coef_, full.coef_)
    assert np.array_equal(resumed.intercept_, full.intercept_)
    assert resumed.n_iter_ == full.n_iter_


def test_checkpoint_holds_the_converged_final_state_and_resuming_it_does_nothing(data, tmp_path):
    # --checkpoint-every far beyond the run: only the save at convergence happens
    checkpoint, out, again = tmp_path / "ck", tmp_path / "m.json", tmp_path / "again.json"
    subprocess.run(train_args(data, out, ["--checkpoint", str(checkpoint),
                                          "--checkpoint-every", "100000"]),
                   check=True, capture_output=True, timeout=120)
    first = json.loads(out.read_text())
    assert first["summary"]["converged"]
    state, meta = load_checkpoint(checkpoint)
    assert meta["target"] == "label"
    assert state.converged and state.iteration == first["summary"]["iterations"]
    assert [h["loss"] for h in state.history] == [h["loss"] for h in first["history"]]
    assert resume(data, again, [], checkpoint) == coefficients(out)
    second = json.loads(again.read_text())
    assert second["summary"]["iterations"] == first["summary"]["iterations"]
    assert [h["loss"] for h in second["history"]] == [h["loss"] for h in first["history"]]


@pytest.fixture(scope="module")
def three_class_data(tmp_path_factory):
    """A K-class CSV with string labels (softmax labels from a random W)."""
    folder = tmp_path_factory.mktemp("resume3")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3000, 5))
    labels = np.array(["red", "green", "blue"])[
        np.argmax(X @ rng.standard_normal((5, 3)) + rng.gumbel(size=(3000, 3)), axis=1)]
    path = folder / "train.csv"
    lines = ["f0,f1,f2,f3,f4,label"] + [",".join(f"{v:.6f}" for v in row) + f",{lab}"
                                        for row, lab in zip(X, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sigkill_then_resume_gives_the_same_k_class_coefficients(three_class_data, tmp_path):
    extra = RUNS["gd"]
    full = tmp_path / "full.json"
    subprocess.run(train_args(three_class_data, full, extra), check=True, capture_output=True,
                   timeout=120)
    assert len(json.loads(full.read_text())["classes"]) == 3
    checkpoint, out = tmp_path / "ck", tmp_path / "m.json"
    process = start(three_class_data, out, extra, checkpoint)
    reached = wait_for_iteration(checkpoint, 90, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not out.exists()
    assert load_checkpoint(checkpoint)[0].iteration >= reached
    assert resume(three_class_data, out, extra, checkpoint) == coefficients(full)
