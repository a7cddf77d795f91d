"""The layout the architecture page promises: no import cycles (imports inside
functions included), short functions, and a page that matches the folders."""
import ast
import re
from pathlib import Path

import descend

PACKAGE = Path(descend.__file__).parent
ROOT = PACKAGE.parent.parent
MAX_FUNCTION_LINES = 60


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources():
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path, known):
    """descend modules that ``path`` imports anywhere (top level or in a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from descend.x import y" may name the module descend.x.y
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            assert not (isinstance(node, ast.ImportFrom) and node.level), \
                f"{path}: relative import; use descend.… absolute imports"
            continue
        found |= {n for n in names if n in known}
    return found


def import_graph():
    modules = sources()
    return {name: imported_modules(path, modules) - {name} for name, path in modules.items()}


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, trail + [nxt])):
                return cycle
        state[node] = "done"
        return None
    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_no_import_cycles_even_through_imports_inside_functions():
    graph = import_graph()
    assert graph["descend.cli.main"], "the import graph is empty: the parser is broken"
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_function_is_longer_than_sixty_lines():
    long = []
    for name, path in sources().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert not long


def test_the_solver_and_update_rules_import_nothing_of_the_engine_or_the_data():
    graph = import_graph()
    for module in ("descend.optim.solver", "descend.optim.rules", "descend.optim.problem",
                   "descend.optim.precondition"):
        assert not {m for m in graph[module] if not m.startswith("descend.optim")} - \
            {"descend.exceptions"}, module


def test_the_architecture_page_names_every_folder_and_module():
    page = (ROOT / "docs" / "architecture.md").read_text()
    folders = {p.parent.name for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE}
    documented = set(re.findall(r"^\| `(\w+)/` \|", page, flags=re.M))
    assert documented == folders
    for name in sources():
        leaf = name.rsplit(".", 1)[-1]
        if leaf not in folders and leaf != "descend":
            assert f"`{leaf}`" in page or f"`{leaf}.py`" in page, f"{name} is not on the page"
