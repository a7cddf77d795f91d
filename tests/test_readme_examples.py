"""The README's examples of sparse text and many-level categories run as written.

Each Python block runs as a script of its own (a child interpreter, in a
temporary folder); a line followed by a ``# result`` comment must print that
result. The command lines of the categorical example run through the CLI.
"""
import shlex
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def section(heading):
    """The README's lines from ``heading`` to the next heading (outside code)."""
    lines = README[README.index(heading):].splitlines()
    fenced, kept = False, [lines[0]]
    for line in lines[1:]:
        fenced ^= line.startswith("```")
        if line.startswith("#") and not fenced:
            break
        kept.append(line)
    return "\n".join(kept)


def blocks(text, language):
    """The bodies of the fenced blocks of ``language`` ("" for none), in order."""
    found, body, current = [], None, None
    for line in text.splitlines():
        if line.startswith("```") and body is None:
            body, current = [], line[3:].strip()
        elif line.startswith("```"):
            if current == language:
                found.append("\n".join(body) + "\n")
            body = None
        elif body is not None:
            body.append(line)
    return found


def run_python(code, folder):
    """Run ``code`` with each expression followed by a ``# result`` comment
    printed; return (printed lines, expected lines)."""
    lines, expected = code.splitlines(), []
    for i, line in enumerate(lines[:-1]):
        following = lines[i + 1]
        if following.startswith("# ") and not line.startswith("#"):
            lines[i] = f"print(repr({line.split('  #')[0].strip()}))"
            expected.append(following[2:].strip())
    script = folder / "example.py"
    script.write_text("\n".join(lines) + "\n")
    done = subprocess.run([sys.executable, str(script)], cwd=folder, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return [line.strip() for line in done.stdout.splitlines()], expected


def test_the_text_example_prints_what_the_readme_says(tmp_path):
    code = blocks(section("### Sparse input: text"), "python")[0]
    printed, expected = run_python(code, tmp_path)
    assert len(expected) == 2 and printed == expected


def test_the_high_cardinality_example_runs_as_written(tmp_path, run_cli, monkeypatch):
    text = section("### Many levels: categorical codes")
    write, fit = blocks(text, "python")[:2]
    run_python(write, tmp_path)
    assert (tmp_path / "payments.csv").exists()
    monkeypatch.chdir(tmp_path)
    commands = blocks(text, "")[0]
    outputs = []
    for line in commands.splitlines():
        argv = shlex.split(line.split("  #")[0])
        assert argv[0] == "descend"
        code, out, err = run_cli(*argv[1:])
        assert code == 0, err
        outputs.append(out)
    assert "2 columns → 1001 features" in outputs[0]
    assert "x852 (shop=shop_0850) =" in outputs[2]     # what the README's comment says
    # the library form: the same fit as the command line's standardised one, in raw units;
    # the DataFrame's fit is the CodedMatrix's, bit for bit
    frame = blocks(text, "python")[2]
    printed, expected = run_python(write + fit + frame + "\nassert X.shape == (50000, 1001) and "
                                   "clf.converged_\nassert (model.coef_ == clf.coef_).all()\n",
                                   tmp_path)
    assert len(expected) == 2 and printed == expected
