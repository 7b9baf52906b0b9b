"""Dependency direction (STYLE.md): nothing imports upward, and no module imports itself through others
(no import circle, function-level imports included). Checked with ``ast`` over every module.

Run: ``python3 -m pytest -q tests/test_layering.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("harness", "synth", "train")
# Modules allowed to import synth/train: the CLI, the loop and the public API sit on top.
TOP_OF_STACK = ("harness.cli", "harness.loop", "harness.api")
PURE = ("harness.answers", "harness.data", "harness.backends")


def _modules():
    for pkg in TOP_LEVEL:
        for path in sorted((REPO / pkg).rglob("*.py")):
            rel = path.relative_to(REPO).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (module level, in functions, under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports. ``from pkg import name`` points at ``pkg.name`` when that
    is a module, else at ``pkg``; an import of a module's own package is not counted (Python runs the
    package first anyway; what is checked is what each file names)."""
    mods = dict(_modules())
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"{mod}: relative import"
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                               for a in node.names)
        graph[mod] = set()
        for t in targets:
            while t and t not in mods:  # "harness.data.schema.Problem" -> "harness.data.schema"
                t = t.rpartition(".")[0]
            if t and t != mod and not _is(mod, t):
                graph[mod].add(t)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _is(mod: str, prefix: str) -> bool:
    return mod == prefix or mod.startswith(prefix + ".")


def test_modules_found():
    mods = dict(_modules())
    assert len(mods) > 10
    assert "harness.answers" in mods


def test_no_upward_imports():
    bad = []
    for mod, path in _modules():
        imps = _imports(path)
        top = any(_is(mod, t) for t in TOP_OF_STACK)
        for imp in imps:
            if _is(mod, "harness") and not top and (_is(imp, "synth") or _is(imp, "train")):
                bad.append(f"{mod} imports {imp} (harness core knows nothing of synth/train)")
            if _is(mod, "synth") and _is(imp, "train"):
                bad.append(f"{mod} imports {imp} (synth and train never import each other)")
            if _is(mod, "train") and _is(imp, "synth"):
                bad.append(f"{mod} imports {imp} (synth and train never import each other)")
            if (_is(mod, "synth") or _is(mod, "train")) and any(_is(imp, t) for t in TOP_OF_STACK):
                bad.append(f"{mod} imports {imp} (the CLI and the loop sit on top)")
            if any(_is(mod, p) for p in PURE):
                allowed = ("harness.errors", "harness.io", "harness.answers", "harness.data", "harness.backends")
                if _is(imp, "harness") and not any(_is(imp, a) for a in allowed):
                    bad.append(f"{mod} imports {imp} (answers/data/backends depend on third-party only)")
    assert not bad, "\n".join(bad)


def test_answers_is_pure():
    """harness.answers: no I/O or torch, and no eval/exec/sympify/parse_expr anywhere."""
    bad = []
    for mod, path in _modules():
        if not _is(mod, "harness.answers"):
            continue
        for imp in _imports(path):
            if imp.split(".")[0] in {"torch", "transformers", "os", "subprocess", "requests", "vllm", "io", "pathlib"}:
                bad.append(f"{mod} imports {imp}")
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name in {"eval", "exec", "sympify", "parse_expr", "open", "S"}:
                    bad.append(f"{mod}:{node.lineno} calls {name}()")
    assert not bad, "\n".join(bad)


def test_cycle_finder_finds_a_circle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    """Two modules that need each other (even through an import inside a function) share a piece that
    belongs one floor down (as train.rundir under train.launch and train.sft)."""
    graph = _graph()
    assert "train.rundir" in graph["train.launch"] and "harness.api" in graph["harness"]
    assert not _cycles(graph), "\n".join(" <-> ".join(c) for c in _cycles(graph))


def test_public_api_sits_on_top():
    """``harness/__init__.py`` serves the public names from harness.api, which may import any stage; so no
    module below the top imports harness.api, or those names from the package."""
    from harness import API

    bad = []
    for mod, path in _modules():
        if mod == "harness" or any(_is(mod, t) for t in TOP_OF_STACK):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "harness":
                bad += [f"{mod} imports harness.{a.name}" for a in node.names if a.name in (*API, "api")]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                bad += [f"{mod} imports {n}" for n in names if _is(n, "harness.api")]
    assert not bad, "\n".join(bad)
