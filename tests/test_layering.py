"""Dependency direction (STYLE.md): nothing imports upward. Checked with ``ast`` over every module.

Run: ``python3 -m pytest -q tests/test_layering.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("harness", "synth", "train")
# Modules allowed to import synth/train: the CLI and the loop sit on top.
TOP_OF_STACK = ("harness.cli", "harness.loop")
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
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
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
