"""The lesson in the learner's units: the file's values beside x′, one set of defaults."""
import html
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

import descend
from descend.lesson.units import STANDARDISATION


@pytest.fixture
def churn(run_cli, tmp_path):
    rng = np.random.default_rng(0)
    m = 120
    frame = pd.DataFrame({"tenure_months": rng.integers(1, 60, m),
                          "plan": rng.choice(["basic", "pro"], m)})
    frame.loc[3, ["tenure_months", "plan"]] = [13, "pro"]
    frame["churned"] = np.where(rng.random(m) < 1 / (1 + np.exp((frame.tenure_months - 30) / 10)),
                                "yes", "no")
    data, model = tmp_path / "churn.csv", tmp_path / "churn.json"
    frame.to_csv(data, index=False)
    assert run_cli("train", data, "-t", "churned", "-o", model, "-q")[0] == 0
    return data, model, json.loads(model.read_text())["preprocessing"]


def test_explain_shows_the_files_value_beside_the_standardised_one(run_cli, churn):
    data, model, pre = churn
    code, out, err = run_cli("explain", "--model", model, "--data", data, "--row", 3)
    assert code == 0, err
    mean, scale = pre["numeric"]["mean"][0], pre["numeric"]["scale"][0]
    x1 = (13 - mean) / scale
    assert STANDARDISATION in out and "x′ = (x − mean)/scale" in out
    line = next(line for line in out.splitlines() if line.lstrip().startswith("x1 (tenure_months)"))
    assert f"= {x1:.6g}" in line and f"the file: 13 → (13 − {mean:.6g})/{scale:.6g}" in line
    pro = next(line for line in out.splitlines() if line.lstrip().startswith("x3 (plan=pro)"))
    assert re.search(r"=\s+1\s", pro) and "the file: plan = pro (1 when it is pro, else 0)" in pro
    got = json.loads(run_cli("explain", "--model", model, "--data", data, "--row", 3, "--json")[1])
    assert got["x"][0] == pytest.approx(x1, rel=1e-12)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_the_graph_shows_the_files_value_and_scales_to_the_page(run_cli, churn, tmp_path):
    data, model, _ = churn
    svg = tmp_path / "g.svg"
    assert run_cli("explain", "--model", model, "--data", data, "--row", 3, "--graph", svg)[0] == 0
    text = html.unescape(svg.read_text())
    assert "file 13" in text and "file plan = pro" in text
    assert '<svg width="100%"' in text and "viewBox=" in text


def test_step_and_the_command_line_share_their_defaults(run_cli):
    code, out, _ = run_cli("explain", "--x", "1.5,-2", "--y", "0", "--w", "0.3,0.2", "--json")
    assert code == 0
    cli = json.loads(out)
    lib = descend.step([1.5, -2], 0, [0.3, 0.2]).to_json()
    assert (cli["b"], cli["alpha"]) == (lib["b"], lib["alpha"]) == (0.0, 0.1)
    assert cli == lib


def test_print_step_prints_the_lesson(capsys):
    print(descend.step([1.0, 2.0], 1, [0.5, -0.5], 0.1, 0.1))
    out = capsys.readouterr().out
    assert "Forward pass" in out and "Backward pass" in out and "Update (α = 0.1)" in out
    assert "w2 = -0.5 − 0.1·(-1.19738) = -0.380262" in out


def test_readme_shows_the_pictures_it_says_how_to_draw():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    assert "descend demo --lesson --out-dir docs" in readme
    for name in ("lesson-descent.png", "lesson-rates.png", "lesson-rules.png"):
        assert f"](docs/{name})" in readme
        assert (root / "docs" / name).read_bytes().startswith(b"\x89PNG"), name


def test_lesson_page_command_refuses_bad_usage_in_one_line(run_cli, churn, tmp_path):
    data = churn[0]
    code, _, err = run_cli("lesson", data, "-t", "churned", "-o", tmp_path / "page.txt")
    assert code == 2 and "--output" in err and ".html" in err
    code, _, err = run_cli("lesson", data, "-t", "churned", "-o", tmp_path / "p.html", "--row", 500)
    assert code == 2 and "--row 500 is outside" in err and "Traceback" not in err
    code, _, err = run_cli("lesson", data, "-t", "churned", "-o", tmp_path / "p.html",
                           "--alpha", "-1")
    assert code == 2 and "--alpha" in err
    code, _, err = run_cli("lesson", data, "-t", "nope", "-o", tmp_path / "p.html")
    assert code == 2 and "no target column 'nope'" in err and err.count("\n") == 1
    assert not (tmp_path / "p.html").exists()
    code, out, err = run_cli("lesson", data, "-t", "churned", "-o", tmp_path / "p.html",
                             "--iterations", 5)
    assert code == 0, err
    assert "lesson page (5 iterations, α = 0.1)" in out
    page = (tmp_path / "p.html").read_text()
    assert "<script type=application/json id=lesson-data>" in page and "id=boundary-plot" not in page


def test_the_all_hint_is_true_where_it_is_printed(run_cli, tmp_path):
    code, out, _ = run_cli("demo", "-q", "--out-dir", tmp_path / "demo")
    assert code == 0 and "largest 5 of 30 |dw|; --all lists every one" in out
    code, out, _ = run_cli("demo", "-q", "--all", "--out-dir", tmp_path / "demo")
    assert code == 0 and out.count("·(a − y)") == 30 and "largest" not in out
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.standard_normal((80, 12)), columns=[f"c{i}" for i in range(12)])
    frame["t"] = (frame.c0 + rng.standard_normal(80) > 0).astype(int)
    data, model = tmp_path / "wide.csv", tmp_path / "wide.json"
    frame.to_csv(data, index=False)
    assert run_cli("train", data, "-t", "t", "-o", model, "-q")[0] == 0
    for flags, rows, hint in (([], 10, True), (["--all"], 12, False)):
        code, _, err = run_cli("report", model, data, "-o", tmp_path / "r.html", *flags)
        assert code == 0, err
        page = html.unescape((tmp_path / "r.html").read_text())
        lesson = page[page.index("Backward pass"):page.index("Update (α")]
        assert lesson.count("·(a − y)") == rows
        assert ("--all lists every one" in lesson) == hint
        code, out, _ = run_cli("explain", "--model", model, "--data", data, *flags)
        assert out.count("·(a − y)") == rows and ("--all lists every one" in out) == hint
