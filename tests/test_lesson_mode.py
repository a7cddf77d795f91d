"""explain, the graph picture, the HTML report in a real browser, the walk-through."""
import html
import html.parser
import json
import math
import re
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import DESCEND_EXE
from descend.lesson import step

INLINE = ["--x", "1.0,2.0", "--y", "1", "--w", "0.5,-0.5", "--b", "0.1", "--alpha", "0.1"]


def lesson_by_hand(x, y, w, b, alpha):
    z = sum(wi * xi for wi, xi in zip(w, x)) + b
    a = 1 / (1 + math.exp(-z))
    dz = a - y
    return {"z": z, "a": a, "loss": -(y * math.log(a) + (1 - y) * math.log(1 - a)),
            "da": -y / a + (1 - y) / (1 - a), "dz": dz, "dw": [xi * dz for xi in x], "db": dz,
            "w_new": [wi - alpha * xi * dz for wi, xi in zip(w, x)], "b_new": b - alpha * dz}


def test_explain_json_numbers_are_the_lessons(run_cli):
    code, out, _ = run_cli("explain", *INLINE, "--json")
    assert code == 0
    got = json.loads(out)
    want = lesson_by_hand([1.0, 2.0], 1, [0.5, -0.5], 0.1, 0.1)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-13, err_msg=key)
    assert set(got) == set(lesson_with_numpy([1.0, 2.0], 1, [0.5, -0.5], 0.1, 0.1))
    assert (got["x"], got["y"], got["w"], got["b"], got["alpha"]) == ([1.0, 2.0], 1.0,
                                                                      [0.5, -0.5], 0.1, 0.1)
    assert got["dz_chain"] == pytest.approx(got["da"] * want["a"] * (1 - want["a"]), rel=1e-13)


def lesson_with_numpy(x, y, w, b, alpha):
    """The lesson's formulas, one NumPy line each."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    z = w @ x + b
    a = 1 / (1 + np.exp(-z))
    da = -y / a + (1 - y) / (1 - a)
    dz = a - y
    dw, db = x * dz, dz
    return {"x": x, "y": y, "w": w, "b": b, "alpha": alpha, "z": z, "a": a,
            "loss": -(y * np.log(a) + (1 - y) * np.log(1 - a)), "da": da, "dz": dz,
            "dz_chain": da * a * (1 - a), "dw": dw, "db": db,
            "w_new": w - alpha * dw, "b_new": b - alpha * db}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("label", [0, 1])
def test_step_numbers_are_the_formulas_written_with_numpy(seed, label):
    rng = np.random.default_rng(seed)
    n = 1 + seed * 2
    x, w = rng.standard_normal(n) * 2, rng.standard_normal(n)
    b, alpha = float(rng.standard_normal()), float(rng.uniform(0.01, 1))
    got = step(x, label, w, b, alpha).to_dict()
    want = lesson_with_numpy(x, label, w, b, alpha)
    assert set(got) == set(want)
    for key, value in want.items():
        assert np.shape(got[key]) == np.shape(value), key
        np.testing.assert_allclose(got[key], value, rtol=1e-12, atol=1e-15, err_msg=key)
    assert got["x"] == x.tolist() and got["w"] == w.tolist() and got["y"] == label


def test_explain_text_shows_forward_table_and_update(run_cli):
    code, out, _ = run_cli("explain", *INLINE)
    assert code == 0
    want = lesson_by_hand([1.0, 2.0], 1, [0.5, -0.5], 0.1, 0.1)
    assert "Forward pass" in out and "Backward pass" in out and "Update (α = 0.1)" in out
    assert f"= {want['z']:.6g}" in out and f"{want['a']:.6g}" in out
    rows = {line.split("|")[-1].strip(): float(line.split("|")[2])
            for line in out.splitlines() if line.count("|") == 3 and "Code" not in line}
    assert rows["da"] == pytest.approx(want["da"], rel=1e-5)
    assert rows["dz"] == pytest.approx(want["dz"], rel=1e-5)
    assert rows["dw2"] == pytest.approx(want["dw"][1], rel=1e-5)
    assert f"w2 = -0.5 − 0.1·({want['dw'][1]:.6g}) = {want['w_new'][1]:.6g}" in out


def test_dw_and_db_equal_finite_differences_of_the_loss():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(4), rng.standard_normal(4), 0.3
    for y in (0, 1):
        s = step(x, y, w, b, 0.1)
        h = 1e-6
        for i in range(4):
            e = np.eye(4)[i] * h
            fd = (step(x, y, w + e, b, 0.1).loss - step(x, y, w - e, b, 0.1).loss) / (2 * h)
            assert s.dw[i] == pytest.approx(fd, rel=1e-6)
        fd_b = (step(x, y, w, b + h, 0.1).loss - step(x, y, w, b - h, 0.1).loss) / (2 * h)
        assert s.db == pytest.approx(fd_b, rel=1e-6)


def test_explain_on_a_model_row_with_many_features(run_cli, tmp_path):
    from sklearn.datasets import load_breast_cancer
    frame = load_breast_cancer(as_frame=True).frame
    data = tmp_path / "cancer.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.json"
    assert run_cli("train", data, "-t", "target", "-o", model, "-q")[0] == 0
    code, out, _ = run_cli("explain", "--model", model, "--data", data, "--row", 5)
    assert code == 0 and "largest 10 of 30 |dw|" in out
    code, out_all, _ = run_cli("explain", "--model", model, "--data", data, "--row", 5, "--all")
    assert out_all.count("·(a − y)") == 30
    code, out_json, _ = run_cli("explain", "--model", model, "--data", data, "--row", 5, "--json")
    got = json.loads(out_json)
    saved = json.loads(model.read_text())
    assert got["w"] == saved["coef"] and got["b"] == saved["intercept"]
    assert got["y"] == float(frame.target[5])


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed "
                    "(apt-get install graphviz, or make system-deps)")
def test_graph_picture_svg_has_every_node_and_value(run_cli, tmp_path):
    svg = tmp_path / "graph.svg"
    code, _, _ = run_cli("explain", *INLINE, "--graph", svg)
    assert code == 0
    text = html.unescape(svg.read_text())  # Graphviz writes '-' as &#45;
    want = lesson_by_hand([1.0, 2.0], 1, [0.5, -0.5], 0.1, 0.1)
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for label in ("x1", "x2", "w1", "w2", "z = wᵀx + b", "a = σ(z)", "L(a, y)",
                  f"value {want['z']:.4g}", f"value {want['a']:.4g}", f"grad dz = {want['dz']:.4g}",
                  f"grad dw2 = {want['dw'][1]:.4g}", f"value {want['loss']:.4g}"):
        assert label in text, label
    png = tmp_path / "graph.png"
    assert run_cli("explain", *INLINE, "--graph", png)[0] == 0
    assert png.read_bytes().startswith(b"\x89PNG")


def test_without_dot_the_graph_falls_back_to_text(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(DESCEND_EXE)}  # a PATH with no dot
    result = subprocess.run([DESCEND_EXE, "explain", *INLINE, "--graph", str(tmp_path / "g.svg")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0
    assert "apt-get install graphviz" in result.stderr
    assert "z = -0.4 [dz = -0.5987]" in result.stderr and "L(a, y=1) = 0.913" in result.stderr
    assert not (tmp_path / "g.svg").exists()


def test_explain_bad_usage(run_cli):
    assert run_cli("explain", "--x", "1,2", "--y", "1", "--w", "1")[0] == 2
    assert run_cli("explain", "--x", "1,a", "--y", "1", "--w", "1,2")[0] == 2
    assert run_cli("explain")[0] == 2
    code, _, err = run_cli("explain", *INLINE, "--graph", "g.gif")
    assert code == 2 and ".svg" in err


def test_lesson_walkthrough(run_cli, tmp_path):
    code, out, _ = run_cli("demo", "--lesson", "--out-dir", tmp_path)
    assert code == 0
    # Rows count from 0, as --row does; one step is a step.
    assert "One cycle on row 0: x = (1.929, -1.289), y = 0" in out and "Backward pass" in out
    assert "after   1 step : loss" in out and "after   5 steps: loss" in out
    losses = [float(line.split("loss")[1].split()[0]) for line in out.splitlines()
              if "after" in line and ": loss" in line]
    assert len(losses) == 4 and all(a > b for a, b in zip(losses, losses[1:]))
    # The learning-rate lesson: four step sizes and four rules, one sentence each.
    for name in ("too small: α = 0.1/L", "about right: α = 1/L", "too large: α = 4/L",
                 "far too large: α = 20/L", "gd: α", "momentum: α", "nesterov: α", "adam: α = 0.1"):
        assert f"  {name}" in out, name
    assert out.count("diverged") == 1 and "overshoots the valley" in out
    for name in ("boundary", "descent", "rates", "rules"):
        assert (tmp_path / f"lesson-{name}.png").read_bytes().startswith(b"\x89PNG"), name


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def two_feature_model(run_cli, tmp_path):
    rng = np.random.default_rng(0)
    import pandas as pd
    X = rng.standard_normal((200, 2))
    y = np.where(X[:, 0] - X[:, 1] + 0.3 * rng.standard_normal(200) > 0, "spam", "ham")
    data = tmp_path / "mail.csv"
    pd.DataFrame({"links": X[:, 0], "words": X[:, 1], "label": y}).to_csv(data, index=False)
    model = tmp_path / "m.json"
    assert run_cli("train", data, "-t", "label", "-o", model, "-q")[0] == 0
    return model, data


#: Names taken from the user's files, each of which is markup if not escaped.
SCRIPT_COLUMN, AMP_COLUMN, TARGET = "<script>alert(1)</script>", "x&y", "a<b>&"
NEGATIVE, POSITIVE = "<b>spam</b>", "ham&eggs"
MODEL_NAME, DATA_NAME = "<u>m.json", "<i>d&.csv"


@pytest.fixture
def hostile_report(run_cli, tmp_path, monkeypatch):
    """A report on a file whose names (columns, target, labels, file names) are markup.

    Graphviz is hidden so that the graph is the text fallback, whose escaping is
    what this fixture checks (the Graphviz labels are tested below)."""
    import pandas as pd
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 2))
    y = np.where(X[:, 0] - X[:, 1] + 0.3 * rng.standard_normal(120) > 0, NEGATIVE, POSITIVE)
    data, model, page = tmp_path / DATA_NAME, tmp_path / MODEL_NAME, tmp_path / "hostile.html"
    pd.DataFrame({SCRIPT_COLUMN: X[:, 0], AMP_COLUMN: X[:, 1], TARGET: y}).to_csv(data, index=False)
    assert run_cli("train", data, "-t", TARGET, "-o", model, "-q")[0] == 0
    monkeypatch.setattr("descend.viz.graphdraw.has_dot", lambda: False)
    code, _, err = run_cli("report", model, data, "-o", page)
    monkeypatch.undo()
    assert code == 0, err
    return page, {"negative": int((y == NEGATIVE).sum()), "positive": int((y == POSITIVE).sum())}


class _Page(html.parser.HTMLParser):
    """Start tags, and the text of the title, of each <p> and of each table cell."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.texts, self._open = [], {"title": [], "p": [], "td": []}, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in self.texts:
            self.texts[tag].append("")
            self._open.append(tag)

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._open:
            self.texts[self._open[-1]][-1] += data


def test_html_report_escapes_every_name_from_the_files(hostile_report):
    page_path, counts = hostile_report
    text = page_path.read_text()
    assert "<script" not in text.lower()
    page = _Page(text)
    assert not {"script", "i", "u"} & set(page.tags)
    assert page.tags.count("b") == 1  # the page's own <b> around the target's name
    # The names come back, as text, where the page shows them.
    title = f"descend report — {MODEL_NAME} on {DATA_NAME}"
    assert page.texts["title"] == [title]
    assert (f"120 rows, 3 columns; target {TARGET}: {counts['negative']} × {NEGATIVE}, "
            f"{counts['positive']} × {POSITIVE}.") in page.texts["p"]
    assert SCRIPT_COLUMN in page.texts["td"] and AMP_COLUMN in page.texts["td"]
    assert f"x1 ({SCRIPT_COLUMN})" in html.unescape(text)  # the lesson's text graph


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_html_report_draws_the_graph_of_a_column_named_with_markup(run_cli, tmp_path):
    import pandas as pd
    data = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"a<b>{c}|d\\": rng.standard_normal(40),
                  "y": np.arange(40) % 2}).to_csv(data, index=False)
    assert run_cli("train", data, "-t", "y", "-o", tmp_path / "m.json", "-q")[0] == 0
    code, _, err = run_cli("report", tmp_path / "m.json", data, "-o", tmp_path / "r.html")
    assert code == 0, err
    page = (tmp_path / "r.html").read_text()
    assert "<figure class=graph><svg" in page and "x1 (a&lt;b&gt;{c}|d\\)" in page


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed "
                    "(apt-get install chromium, or make system-deps)")
def test_html_report_in_headless_chromium(run_cli, two_feature_model, hostile_report, tmp_path):
    from playwright.sync_api import sync_playwright
    model, data = two_feature_model
    page_path = tmp_path / "report.html"
    code, _, err = run_cli("report", model, data, "-o", page_path, "--row", 3)
    assert code == 0, err
    page_text = page_path.read_text()
    for heading in ("Data", "Quality", "Training loss", "Coefficients", "Decision boundary",
                    "Gradient descent on J", "The lesson on row 3"):
        assert f"<h2>{heading}</h2>" in page_text
    # Nothing that would load from elsewhere (namespace URIs in SVG metadata load nothing).
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//|@import|url\(\s*[\"']?https?:",
                         page_text, re.I)
    shots = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        for name, size in (("phone", (390, 844)), ("laptop", (1280, 900))):
            page = browser.new_page(viewport={"width": size[0], "height": size[1]})
            requests, problems = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("networkidle")
            assert requests == [page_path.as_uri()], requests
            assert problems == []
            wide = page.evaluate("""() => [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest("table")).map(e => e.tagName + ":" + Math.round(e.getBoundingClientRect().right))""")
            assert page.evaluate("document.documentElement.scrollWidth") <= size[0] + 1, wide
            if name == "laptop" and shutil.which("dot"):
                # The graph's text is readable without zooming: as tall as the page's own.
                heights = page.evaluate("[...document.querySelectorAll('.graph svg text')]"
                                        ".map(e => e.getBoundingClientRect().height)")
                assert heights and min(heights) >= 15, heights
            shots[name] = page.screenshot(full_page=True)
        # Names that are markup stay text: no script element, no dialog, the title as written.
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(hostile_report[0].as_uri())
        assert page.evaluate("document.querySelectorAll('script, i, u').length") == 0
        assert page.title() == f"descend report — {MODEL_NAME} on {DATA_NAME}"
        cells = page.evaluate("[...document.querySelectorAll('td')].map(e => e.textContent)")
        assert SCRIPT_COLUMN in cells and AMP_COLUMN in cells
        assert dialogs == []
        browser.close()
    import io

    import matplotlib.image as mpimg
    for name, png in shots.items():
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.std() > 0.05, f"{name} screenshot is blank"
        (tmp_path / f"{name}.png").write_bytes(png)
