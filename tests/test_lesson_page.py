"""``descend lesson``: the page in headless Chromium against the library's own numbers."""
import re
import shutil

import numpy as np
import pytest

import descend
from descend.model.training import TrainOptions, train_table
from descend.viz.descent_picture import PathRecorder

ALPHA, ITERATIONS, ROW = 0.5, 30, 5
FIELDS = ("z", "a", "loss", "da", "dz", "dz_chain", "db", "b_new")


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


pytestmark = pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed "
                                "(apt-get install chromium, or make system-deps)")


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """A page of a two-feature table, and the library's own run on the same table."""
    import pandas as pd

    from descend.cli.main import main
    tmp = tmp_path_factory.mktemp("lesson")
    rng = np.random.default_rng(0)
    X = rng.normal([30, 5], [8, 2], (160, 2))
    y = np.where((X[:, 0] - 30) / 8 - (X[:, 1] - 5) / 2 + 0.6 * rng.standard_normal(160) > 0,
                 "spam", "<b>ham</b>")
    frame = pd.DataFrame({"links": X[:, 0], "words <i>": X[:, 1], "label": y})
    data, page = tmp / "mail.csv", tmp / "lesson.html"
    frame.to_csv(data, index=False)
    with pytest.raises(SystemExit) as done:
        main(["lesson", str(data), "-t", "label", "-o", str(page), "--row", str(ROW),
              "--alpha", str(ALPHA), "--iterations", str(ITERATIONS)])
    assert done.value.code == 0
    recorder = PathRecorder()
    options = TrainOptions(target="label", estimator={"solver": "gd", "learning_rate": ALPHA,
                                                      "max_iter": ITERATIONS, "tol": 0.0,
                                                      "C": np.inf})
    _, _, X_pre, y01 = train_table(pd.read_csv(data), options, callback=recorder)
    return page, X_pre, y01, recorder


@pytest.fixture(scope="module")
def browser_page(lesson):
    from playwright.sync_api import sync_playwright
    page_path = lesson[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.requests, page.problems = [], []
        page.on("request", lambda r: page.requests.append(r.url))
        page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("networkidle")
        yield page
        browser.close()


def shown(page):
    """Every number on the page, by field, as the page holds it (data-value)."""
    return page.evaluate("""() => { const out = {};
        for (const e of document.querySelectorAll('[data-field]'))
            out[e.dataset.field] = Number(e.dataset.value);
        return out; }""")


def _close(got, want, tol):
    assert abs(got - want) <= tol * max(1.0, abs(want)), (got, want)


def _check_lesson(numbers, x, y, w, b, tol=1e-12):
    """The page's numbers of one step from (w, b) are descend.step's."""
    want = descend.step(x, int(y), w, b, ALPHA)
    for field in FIELDS:
        _close(numbers[field], getattr(want, field), tol)
    for i in range(len(w)):
        _close(numbers[f"w{i}"], w[i], tol)
        _close(numbers[f"dw{i}"], want.dw[i], tol)
        _close(numbers[f"w_new{i}"], want.w_new[i], tol)
    _close(numbers["b"], b, tol)
    return want


def test_nothing_leaves_the_page_and_names_stay_text(lesson, browser_page):
    page = browser_page
    assert page.requests == [lesson[0].as_uri()]
    assert page.problems == []
    text = lesson[0].read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//|@import|url\(\s*[\"']?https?:",
                         text, re.I)
    assert page.evaluate("document.querySelectorAll('i, main b').length") == 1  # the intro's <b>
    assert "words <i>" in page.evaluate("document.querySelector('.numbers').textContent")


@pytest.mark.parametrize("k", [0, 1, 17, ITERATIONS - 1])
def test_slider_shows_the_runs_iterate_and_the_rows_lesson(lesson, browser_page, k):
    page, (_, X, y, recorder) = browser_page, lesson
    page.locator("#k").fill(str(k))
    numbers = shown(page)
    assert numbers["k"] == k and numbers["row"] == ROW
    theta = recorder.points[k]
    _close(numbers["J"], recorder.history[k]["loss"], 1e-9)
    np.testing.assert_allclose([numbers["w0"], numbers["w1"], numbers["b"]], theta, rtol=1e-9)
    _check_lesson(numbers, X[ROW], y[ROW], theta[:2], theta[2])
    np.testing.assert_allclose([numbers["x0"], numbers["x1"]], X[ROW], rtol=1e-15)


def test_markers_follow_the_slider(lesson, browser_page):
    page = browser_page
    positions = []
    for k in (0, 10, 20):
        page.locator("#k").fill(str(k))
        positions.append(page.evaluate("""() => {
            const m = document.querySelector('#loss-marker'), d = document.querySelector('#descent-marker');
            return [Number(m.getAttribute('cx')), Number(m.getAttribute('cy')),
                    Number(d.getAttribute('cx')), Number(d.getAttribute('cy'))]; }"""))
    xs = [p[0] for p in positions]
    assert xs[0] < xs[1] < xs[2]
    assert positions[0][1] < positions[1][1] < positions[2][1]  # J falls: lower on the plot
    data = page.evaluate("JSON.parse(document.getElementById('lesson-data').textContent)")
    loss_map, losses = data["loss_plot"], data["losses"]
    assert xs[1] == pytest.approx(loss_map["ox"] + loss_map["sx"] * 10)
    assert positions[1][1] == pytest.approx(loss_map["oy"] + loss_map["sy"] * losses[10])
    assert len({(p[2], p[3]) for p in positions}) == 3


def test_boundary_line_is_the_models_boundary_in_the_files_units(lesson, browser_page):
    page, recorder = browser_page, lesson[3]
    page.locator("#k").fill("20")
    ends = page.evaluate("""() => { const l = document.querySelector('#boundary-line');
        return ['x1', 'y1', 'x2', 'y2'].map(a => Number(l.getAttribute(a))); }""")
    B = page.evaluate("JSON.parse(document.getElementById('lesson-data').textContent).boundary")
    w, b = recorder.points[20][:2], recorder.points[20][2]
    for sx, sy in (ends[:2], ends[2:]):
        x = np.array([(sx - B["ox"]) / B["sx"], (sy - B["oy"]) / B["sy"]])
        z = w @ ((x - np.array(B["mean"])) / np.array(B["scale"])) + b
        assert abs(z) < 1e-9
    assert ends[0] != ends[2]


def test_step_applies_the_libraries_update_from_the_shown_w_and_b(lesson, browser_page):
    page, (_, X, y, recorder) = browser_page, lesson
    page.locator("#k").fill("17")
    w, b = recorder.points[17][:2], recorder.points[17][2]
    for pressed in range(1, 4):
        page.click("#step")
        before = descend.step(X[ROW], int(y[ROW]), w, b, ALPHA)
        numbers = shown(page)
        w, b = before.w_new, before.b_new  # the page now stands where the step took it
        _check_lesson(numbers, X[ROW], y[ROW], w, b)
        assert f"then {pressed} lesson step" in page.locator("#status").text_content()
    page.locator("#row").fill("7")
    _check_lesson(shown(page), X[7], y[7], w, b)
    page.click("#reset")
    _close(shown(page)["w0"], recorder.points[17][0], 1e-15)
    page.locator("#row").fill(str(ROW))


@pytest.mark.parametrize("scale", [0.01, 1.0, 8.0, 40.0])
def test_the_pages_step_is_descend_step_from_any_w_and_b(browser_page, scale):
    """From known w and b in every regime of z (near 0, ordinary, a rounding
    towards 0 or 1), the script's update gives descend.step's numbers."""
    rng = np.random.default_rng(int(scale * 100))
    for _ in range(10):
        x, w = rng.standard_normal(3), rng.standard_normal(3) * scale
        b, y = float(rng.standard_normal() * scale), int(rng.integers(0, 2))
        got = browser_page.evaluate("([x, y, w, b, alpha]) => lessonStep(x, y, w, b, alpha)",
                                    [x.tolist(), y, w.tolist(), b, ALPHA])
        want = descend.step(x, y, w, b, ALPHA)
        for field in FIELDS + ("dw", "w_new"):
            g, v = np.atleast_1d(got[field]).astype(float), np.atleast_1d(getattr(want, field))
            finite = np.isfinite(v)
            assert np.array_equal(finite, np.isfinite(g)), field
            assert np.all(np.abs(g[finite] - v[finite]) <= 1e-12 * np.maximum(1, np.abs(v[finite]))), field


def test_the_page_fits_a_phone(lesson, browser_page):
    phone = browser_page.context.browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(lesson[0].as_uri())
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391
    heights = phone.evaluate("[...document.querySelectorAll('.lesson-graph text')]"
                             ".map(e => e.getBoundingClientRect().height)")
    assert min(heights) >= 11, heights  # the graph scrolls sideways rather than shrink
    phone.close()
