"""Mutation testing: put one realistic bug into a copy of the package, run the
tests that guard that code, and count the bug as caught when they fail.

    python tools/mutants.py            # every mutant; updates docs/testing.md
    python tools/mutants.py ID [ID …]  # only these

Each mutant is a list of (original, mutated) text replacements in one file of
``src/descend``; each original must occur exactly once, so a refactor that
moves the code makes the mutant fail loudly instead of silently testing
nothing. The package is copied with its compiled-code caches, so only mutants
of compiled code pay for compiling again.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "descend"
REPORT = ROOT / "docs" / "testing.md"
TIMEOUT_S = 600


@dataclass
class Mutant:
    id: str
    file: str
    edits: list
    tests: list
    why: str = ""


MUTANTS = [
    # -- the bugs a first mutation run found surviving ----------------------
    Mutant("predict-labels-swapped", "model/table_model.py",
           [("pc.if_else(pa.array(proba > 0.5), self.classes[1], self.classes[0])",
             "pc.if_else(pa.array(proba > 0.5), self.classes[0], self.classes[1])")],
           ["tests/test_cli.py", "tests/test_bad_input.py"]),
    Mutant("report-unescaped-names", "viz/report.py",
           [('f"<th>{html.escape(str(h))}</th>"', 'f"<th>{h}</th>"'),
            ('f"<td>{html.escape(str(c))}</td>"', 'f"<td>{c}</td>"')],
           ["tests/test_lesson_mode.py"]),
    Mutant("diagonal-wrong-sign", "optim/precondition.py",
           [("(g[:n] - self.mean * g[n])", "(g[:n] + self.mean * g[n])")],
           ["tests/test_solver_behaviour.py", "tests/test_estimator.py"]),
    Mutant("diagonal-no-zero-scale-guard", "optim/precondition.py",
           [("        scale = np.where(scale > 0, scale, 1.0)\n", "")],
           ["tests/test_solver_behaviour.py", "tests/test_numerical_trouble.py"]),
    Mutant("refresh-not-saved", "optim/solver.py",
           [("state.curvature_at = np.array(theta)", "state.curvature_at = None")],
           ["tests/test_resume.py", "tests/test_solver_behaviour.py"]),
    Mutant("nesterov-restart-sign", "optim/rules.py",
           [("u @ (x - x_prev) < 0", "u @ (x - x_prev) > 0")],
           ["tests/test_solver_behaviour.py", "tests/test_estimator.py"]),
    Mutant("adam-no-bias-correction", "optim/rules.py",
           [("m_hat = m / (1 - self.beta1**k)", "m_hat = m"),
            ("v_hat = v / (1 - self.beta2**k)", "v_hat = v")],
           ["tests/test_solver_behaviour.py", "tests/test_estimator.py"]),
    Mutant("minibatch-step-never-decays", "optim/solver.py",
           [("state.lr / np.sqrt(state.iteration + 1)", "state.lr")],
           ["tests/test_solver_behaviour.py", "tests/test_estimator.py"]),
    Mutant("converged-state-not-checkpointed", "io/checkpoint.py",
           [("if state.iteration % self.every == 0 or state.converged:",
             "if state.iteration % self.every == 0:")],
           ["tests/test_resume.py", "tests/test_solver_behaviour.py"]),
    Mutant("model-file-accepts-zero-scale", "data/preprocess.py",
           [('floats(num["scale"], n_num, positive=True)', 'floats(num["scale"], n_num)')],
           ["tests/test_files.py", "tests/test_fuzz.py", "tests/test_bad_input.py"]),
    Mutant("atomic-write-without-fsync", "io/atomic.py",
           [("        with open(tmp, \"rb+\") as handle:\n            os.fsync(handle.fileno())\n"
             "        os.replace(tmp, path)", "        os.replace(tmp, path)")],
           ["tests/test_files.py"]),
    Mutant("batch-commit-without-fsync", "io/atomic.py",
           [("            with open(tmp, \"rb+\") as handle:\n                os.fsync(handle.fileno())\n"
             "        for tmp, path in self._pending:",
             "            pass\n        for tmp, path in self._pending:")],
           ["tests/test_files.py"]),
    Mutant("category-filled-with-first-columns-value", "data/preprocess.py",
           [('pc.fill_null(text, self.categorical["fill"][i])',
             'pc.fill_null(text, self.categorical["fill"][0])')],
           ["tests/test_preprocess.py", "tests/test_cli.py"]),
    Mutant("model-saved-with-6-digits", "model/modelfile.py",
           [('"coef": [float(c) for c in model.coef]', '"coef": [round(float(c), 6) for c in model.coef]')],
           ["tests/test_files.py"]),
    Mutant("checkpoint-before-update", "optim/solver.py",
           [("        while state.iteration < stop and not (state.converged or state.separated):\n"
             "            step(state)\n",
             "        while state.iteration < stop and not (state.converged or state.separated):\n"
             "            if self.solver.callback is not None and state.iteration:\n"
             "                self.solver.callback(state)\n"
             "            step(state)\n"),
            ("            if self.solver.callback is not None:\n                self.solver.callback(state)\n",
             "")],
           ["tests/test_resume.py", "tests/test_solver_behaviour.py"]),
    Mutant("rng-state-saved-before-shuffle", "optim/solver.py",
           [("        order = rng.permutation(m)\n        state.rng_state = rng.bit_generator.state\n",
             "        state.rng_state = rng.bit_generator.state\n        order = rng.permutation(m)\n")],
           ["tests/test_resume.py", "tests/test_solver_behaviour.py"]),
    # -- more realistic bugs, one per layer ---------------------------------
    Mutant("dz-sign", "engine/numerics.py",
           [("return (one - y) * a - y * a_complement", "return y * a_complement - (one - y) * a")],
           ["tests/test_graph.py", "tests/test_engine.py"]),
    Mutant("kernel-drops-remainder-rows", "engine/kernels.py",
           [("    for k in range(grouped, rows):\n        for j in range(n):\n"
             "            partial[j] += dz[k] * X[start + k, j]\n", "")],
           ["tests/test_engine.py"]),
    Mutant("partial-sums-per-thread", "engine/objective.py",
           [("        edges = self._partial_edges()\n",
             "        edges = np.linspace(0, self.X.shape[0], self.n_threads + 1).astype(int)\n")],
           ["tests/test_determinism.py"]),
    Mutant("l2-gradient-missing", "engine/objective.py",
           [("grad[: self.n_features] = gw + self.l2 * w64", "grad[: self.n_features] = gw")],
           ["tests/test_engine.py", "tests/test_estimator.py"]),
    Mutant("hessian-ignores-weights", "engine/objective.py",
           [("r = r * self.s[start:start + len(Xb)]", "r = r * 1")],
           ["tests/test_engine.py", "tests/test_estimator.py"]),
    Mutant("linear-backward-drops-db", "engine/graph.py",
           [('return None, values["x"].T @ dz, dz.sum(dtype=np.float64)',
             'return None, values["x"].T @ dz, 0.0')],
           ["tests/test_graph.py", "tests/test_lesson.py"]),
    Mutant("momentum-forgets-velocity", "optim/rules.py",
           [('velocity = self.beta * state["velocity"] + u', 'velocity = u')],
           ["tests/test_solver_behaviour.py", "tests/test_estimator.py"]),
    Mutant("step-not-halved-on-rise", "optim/solver.py",
           [("            state.lr *= 0.5\n", "            state.lr *= 1.0\n")],
           ["tests/test_numerical_trouble.py"]),
    Mutant("class-weight-ignored", "estimator.py",
           [("sample_weight = sample_weight * per_class[y01.astype(int)].astype(X.dtype)",
             "sample_weight = sample_weight")],
           ["tests/test_estimator.py"]),
    Mutant("positive-class-ignored", "model/labels.py",
           [("    if positive is None:\n        return values\n",
             "    if positive is None or True:\n        return values\n")],
           ["tests/test_cli.py"]),
    Mutant("scaler-mean-not-subtracted", "data/preprocess.py",
           [("(values - np.asarray(self.numeric[\"mean\"]))", "values")],
           ["tests/test_preprocess.py", "tests/test_cli.py"]),
    Mutant("drop-missing-keeps-rows", "model/training.py",
           [("        drop |= gaps\n", "        drop |= False\n")],
           ["tests/test_cli.py"]),
    Mutant("drop-missing-keeps-unlabelled-rows", "model/training.py",
           [("    drop = no_label.copy()\n", "    drop = np.zeros_like(no_label)\n")],
           ["tests/test_data_path.py"]),
    Mutant("chan-merge-without-between-blocks-term", "data/statistics.py",
           [("self.m2 += m2 + delta * delta * self.count * n / total", "self.m2 += m2")],
           ["tests/test_data_path.py"]),
    Mutant("median-fill-is-the-mean", "data/preprocess.py",
           [("        return float(np.median(values))", "        return column.mean")],
           ["tests/test_data_path.py", "tests/test_preprocess.py"]),
    Mutant("unseen-category-raises", "data/preprocess.py",
           [("        known = pc.is_valid(codes).to_numpy(zero_copy_only=False)",
             "        known = np.ones(len(codes), dtype=bool)")],
           ["tests/test_data_path.py", "tests/test_preprocess.py"]),
    Mutant("locale-numbers-taken-for-text", "data/statistics.py",
           [("if stats.present and stats.locale_numbers >= 0.9 * stats.present:", "if False:")],
           ["tests/test_bad_input.py"]),
    Mutant("options-checked-after-reading", "model/training.py",
           [("        LogisticRegression(**self.estimator)._check_params()\n", "")],
           ["tests/test_bad_input.py"]),
    Mutant("lines-split-at-form-feeds", "data/tables.py",
           [('row = _first_ragged_row(io.StringIO(text, newline=""), sep)',
             'row = _first_ragged_row(text.splitlines(keepends=True), sep)')],
           ["tests/test_bad_input.py"]),
    Mutant("float32-x-copied-to-float64", "model/table_model.py",
           [('w = self.coef.astype(X.dtype) if X.dtype.kind == "f" else self.coef',
             "w = self.coef")],
           ["tests/test_data_path.py"]),
    Mutant("blocks-follow-the-files-batches", "data/source.py",
           [("            take = min(rows - count, batch.num_rows)",
             "            take = batch.num_rows")],
           ["tests/test_data_path.py"]),
    Mutant("lesson-update-sign", "optim/rules.py",
           [("return -lr * u, state", "return lr * u, state")],
           ["tests/test_lesson.py", "tests/test_lesson_mode.py"]),
    Mutant("cli-error-exit-code", "cli/main.py",
           [("        _fail(exc.phrase(command_line_flag), 1)", "        _fail(exc.phrase(command_line_flag), 2)")],
           ["tests/test_bad_input.py"]),
    # -- files and text a user hands us ---------------------------------------
    Mutant("model-checksum-not-checked", "model/modelfile.py",
           [("    _check_checksum(data, version, path)\n", "")],
           ["tests/test_fuzz.py", "tests/test_bad_input.py"]),
    Mutant("model-file-not-a-regular-file", "io/user_files.py",
           [("    if not stat.S_ISREG(info.st_mode):", "    if stat.S_ISDIR(info.st_mode):")],
           ["tests/test_bad_input.py"]),
    Mutant("resumed-state-not-checked", "optim/solver.py",
           [("            self.check_resumable(state, objective.n_params)", "            pass")],
           ["tests/test_bad_input.py", "tests/test_files.py"]),
    Mutant("overflowing-decision-scored", "model/table_model.py",
           [("        bad = ~np.isfinite(z)", "        bad = np.isnan(z)")],
           ["tests/test_bad_input.py"]),
    Mutant("errors-printed-raw", "cli/main.py",
           [('click.echo(f"descend: error: {message_line(message)}", err=True)',
             'click.echo(f"descend: error: {message}", err=True)')],
           ["tests/test_bad_input.py"]),
    Mutant("report-row-clamped", "viz/report.py",
           [("    check_row(row, table.num_rows)\n", "    row = min(max(row, 0), table.num_rows - 1)\n")],
           ["tests/test_bad_input.py"]),
    # -- the files commands write ---------------------------------------------
    Mutant("output-over-input-unchecked", "io/outputs.py",
           [("            overlap = _overlap(path, str(location))", "            overlap = None")],
           ["tests/test_bad_input.py", "tests/test_writing.py"]),
    Mutant("hard-link-not-seen", "io/outputs.py",
           [("        return os.path.samefile(a, b)", "        return False")],
           ["tests/test_bad_input.py"]),
    Mutant("resume-ignores-given-options", "cli/training.py",
           [("                    if name in given and _value(wanted, keys) != _value(saved, keys)]",
             "                    if False]")],
           ["tests/test_bad_input.py", "tests/test_writing.py"]),
    Mutant("resume-defaults-count-as-given", "cli/training.py",
           [('    given = options.get("given", set())', "    given = set(RESULT_OPTIONS)")],
           ["tests/test_bad_input.py", "tests/test_writing.py"]),
    Mutant("sigterm-kills-mid-write", "cli/main.py",
           [("    for sig in previous:\n        signal.signal(sig, unwind)\n", "")],
           ["tests/test_writing.py"]),
    Mutant("stale-temporary-of-live-writer-removed", "io/atomic.py",
           [('                    or _alive(int(match["pid"]))):', "                    or False):")],
           ["tests/test_writing.py"]),
    Mutant("replaced-file-mode-lost", "io/atomic.py",
           [("    os.chmod(tmp, stat.S_IMODE(old.st_mode))", "    os.chmod(tmp, 0o644)")],
           ["tests/test_writing.py"]),
    # -- the lesson you can watch ---------------------------------------------
    Mutant("path-start-is-first-step", "viz/descent_picture.py",
           [("            self.points = [np.array(state.best_theta if state.best_theta is not None",
             "            self.points = [np.array(state.theta if state.best_theta is not None")],
           ["tests/test_descent_picture.py"]),
    Mutant("contours-below-the-start", "viz/descent_picture.py",
           [("np.geomspace(1e-4, 1.0, N_LEVELS - 1)", "np.geomspace(1e-4, 0.9, N_LEVELS - 1)")],
           ["tests/test_descent_picture.py"]),
    Mutant("page-step-climbs", "viz/lesson_script.py",
           [("w_new: w.map((v, i) => v - alpha * dw[i])", "w_new: w.map((v, i) => v + alpha * dw[i])")],
           ["tests/test_lesson_page.py"]),
    Mutant("page-slider-one-ahead", "viz/lesson_script.py",
           [("k = Number(e.target.value); theta = D.iterates[k].slice();",
             "k = Number(e.target.value); theta = D.iterates[Math.min(k + 1, D.losses.length - 1)].slice();")],
           ["tests/test_lesson_page.py"]),
    Mutant("units-mean-and-scale-swapped", "lesson/units.py",
           [('f"({_num(raw)} − {_num(mean)})/{_num(scale)}"', 'f"({_num(raw)} − {_num(scale)})/{_num(mean)}"')],
           ["tests/test_learner_units.py"]),
    Mutant("graph-fixed-width", "viz/graphdraw.py",
           [("    return scalable_svg(data) if fmt == \"svg\" else data", "    return data")],
           ["tests/test_learner_units.py", "tests/test_notebooks.py"]),
    Mutant("prediction-names-repeat", "cli/commands.py",
           [("        names = unique_names(predictions.column_names, table.column_names)",
             "        names = predictions.column_names")],
           ["tests/test_bad_input.py"]),
    # -- sparse X (issue 13) --------------------------------------------------
    Mutant("csr-scatter-drops-x", "engine/csr_kernels.py",
           [("grad[_U(indices[p])] += data[p] * d", "grad[_U(indices[p])] += d")],
           ["tests/test_sparse.py"]),
    Mutant("csr-gather-skips-first", "engine/csr_kernels.py",
           [("        for p in range(_U(indptr[i]), _U(indptr[i + 1])):\n            acc",
             "        for p in range(_U(indptr[i]) + _U(1), _U(indptr[i + 1])):\n            acc")],
           ["tests/test_sparse.py"]),
    Mutant("csr-gather-in-float64", "engine/csr_kernels.py",
           [("        acc = b\n", "        acc = np.float64(b)\n")],
           ["tests/test_sparse.py"]),
    Mutant("csr-curvature-no-cross-term", "engine/csr_objective.py",
           [("H[:n, n] += Xb.T @ r", "H[:n, n] += 0")],
           ["tests/test_sparse.py"]),
    Mutant("csr-row-curvature-sign", "engine/csr_objective.py",
           [("- 2 * c * (X @ (mean * inv2))", "+ 2 * c * (X @ (mean * inv2))")],
           ["tests/test_sparse.py"]),
    Mutant("diagonal-scale-without-penalty", "engine/objective.py",
           [("return mean, np.sqrt(std**2 + 4 * self.l2)", "return mean, std")],
           ["tests/test_sparse.py"]),
    Mutant("sparse-curvature-taken-as-cheap", "engine/csr_objective.py",
           [("    curvature_is_cheap = False\n", "    curvature_is_cheap = True\n")],
           ["tests/test_sparse.py"]),
]


def apply(mutant, package):
    path = package / mutant.file
    text = path.read_text()
    for original, mutated in mutant.edits:
        count = text.count(original)
        if count != 1:
            raise SystemExit(f"mutant {mutant.id}: {original!r} occurs {count} times in "
                             f"{mutant.file}; update tools/mutants.py to the current code")
        text = text.replace(original, mutated)
    try:
        compile(text, str(path), "exec")
    except SyntaxError as exc:  # a mutant the tests would catch for the wrong reason
        raise SystemExit(f"mutant {mutant.id} does not compile: {exc}") from None
    path.write_text(text)


def run(mutant):
    """'caught' when the tests fail with the bug in, 'survived' when they pass."""
    missing = [t for t in mutant.tests if not (ROOT / t).exists()]
    if missing:
        raise SystemExit(f"mutant {mutant.id}: no test file {missing}")
    with tempfile.TemporaryDirectory(prefix="descend-mutant-") as tmp:
        package = Path(tmp) / "descend"
        shutil.copytree(PACKAGE, package)
        apply(mutant, package)
        env = {**os.environ, "PYTHONPATH": tmp}
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                   *mutant.tests]
        try:
            result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                                    text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return "caught (timeout)", ""
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, flags=re.M)
        if result.returncode == 0:
            return "survived", ""
        if result.returncode not in (1, 2):  # 1: tests failed, 2: collection failed
            raise SystemExit(f"mutant {mutant.id}: pytest exit {result.returncode}\n"
                             + result.stdout[-2000:])
        return "caught", failed[0] if failed else f"exit {result.returncode}"


def write_report(rows):
    table = ["| mutant | file | result | first failing test |", "|---|---|---|---|"]
    table += [f"| {m.id} | `{m.file}` | {r} | `{t}` |" for m, r, t in rows]
    caught = sum(r.startswith("caught") for _, r, _ in rows)
    summary = f"Last run: {time.strftime('%Y-%m-%d')}, {caught} of {len(rows)} caught."
    block = "\n".join([summary, "", *table])
    text = REPORT.read_text()
    text = re.sub(r"<!-- mutants:begin -->.*<!-- mutants:end -->",
                  f"<!-- mutants:begin -->\n{block}\n<!-- mutants:end -->", text, flags=re.S)
    REPORT.write_text(text)


def main(ids):
    chosen = [m for m in MUTANTS if not ids or m.id in ids]
    unknown = set(ids) - {m.id for m in MUTANTS}
    if unknown:
        raise SystemExit(f"unknown mutants {sorted(unknown)}")
    rows = []
    for mutant in chosen:
        started = time.perf_counter()
        result, test = run(mutant)
        rows.append((mutant, result, test))
        print(f"{mutant.id:<42} {result:<16} {time.perf_counter() - started:5.0f} s  {test}",
              flush=True)
    if not ids:
        write_report(rows)
    survivors = [m.id for m, r, _ in rows if r == "survived"]
    print(f"{len(rows) - len(survivors)} of {len(rows)} caught; survivors: {survivors or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1:])
