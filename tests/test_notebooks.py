"""Notebooks: the tutorial executes, and the lesson's objects display themselves."""
import os
import re
from pathlib import Path

import numpy as np
import pytest

import descend
from descend.lesson.text import lesson_text
from descend.viz import notebook

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"


def _code(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_tutorial_executes_in_the_lessons_order_with_the_public_api(monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(TUTORIAL, as_version=4)
    source = "\n".join(cell.source for cell in _code(nb))
    # Only the public API: no module below descend and descend.viz's front door.
    assert not re.search(r"descend\.(engine|optim|data|model|io|cli|lesson|estimator)\b", source)
    assert not re.search(r"descend\.viz\.\w+\.", source)
    headings = [line for cell in nb.cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("## ")]
    assert [h.split(". ", 1)[1] for h in headings] == [
        "One example, two features", "n features", "m examples", "Training",
        "The descent picture"]
    # The kernel imports this checkout's descend, as the tests do.
    package_root = str(Path(descend.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(TUTORIAL.parent)}}).execute()
    outputs = {i: cell.outputs for i, cell in enumerate(_code(nb))}
    errors = [o for out in outputs.values() for o in out if o.output_type == "error"]
    assert errors == []
    step_html = outputs[1][0]["data"]["text/html"]
    assert "descend-step" in step_html and "Backward pass" in step_html
    assert "descend-estimator" in outputs[6][0]["data"]["text/html"]
    assert any("image/png" in o.get("data", {}) for o in outputs[8])  # the descent picture
    assert sum("image/png" in o.get("data", {}) for o in outputs[9]) == 2  # rates and rules
    assert "far too large" in "".join(o.get("text", "") for o in outputs[9])


def test_print_step_is_the_lessons_table_and_the_notebook_shows_the_graph():
    s = descend.step([1.0, 2.0], 1, [0.5, -0.5])
    assert (s.b, s.alpha) == (0.0, 0.1)  # the command line's defaults
    assert str(s) == lesson_text(s)
    assert "Backward pass" in str(s) and f"{s.dz:.6g}" in str(s)
    page = s._repr_html_()
    assert "Forward pass" in page and ("<svg" in page or "Computation graph" in page)
    if "<svg" in page:
        import html
        text = html.unescape(page)
        for label in (f"value {s.z:.4g}", f"grad dz = {s.dz:.4g}", f"grad dw2 = {s.dw[1]:.4g}"):
            assert label in text, label
        assert 'width="100%"' in page  # scales to the notebook's width


def test_a_fitted_estimator_displays_its_loss_curve_and_coefficients():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = (X[:, 0] - 2 * X[:, 2] + rng.standard_normal(80) > 0).astype(int)
    clf = descend.LogisticRegression()
    unfitted = clf._repr_mimebundle_()
    assert "descend-estimator" not in unfitted.get("text/html", "")
    clf.fit(X, y)
    bundle = clf._repr_mimebundle_()
    page = bundle["text/html"]
    assert clf._repr_html_().startswith("<div class='descend-estimator'>")
    assert bundle["text/plain"] == repr(clf)
    assert "<svg" in page and f"{clf.n_iter_} iterations, converged" in page
    cells = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    values = dict((name, float(v)) for name, v in cells)
    assert values["w3"] == pytest.approx(clf.coef_[0, 2], rel=1e-5)
    assert values["b"] == pytest.approx(clf.intercept_[0], rel=1e-5)
    assert [name for name, _ in cells][:2] == ["w3", "w1"]  # largest |w| first
    assert f"J = {clf.history_[-1]['loss']:.6g}" in page
    assert notebook.coefficient_rows(clf)[-1] == ("b", float(clf.intercept_[0]))
