"""The documentation states what the code and the committed results say.

- ``docs/commands.md`` is exactly what ``python3 -m harness.cli.docs`` generates from every command's ``--help``.
- Every figure in ``docs/benchmarks.md`` appears in the results file its section names on a ``Source:`` line.
- The README's test-suite time is the one recorded in ``benchmarks/results/test_durations.txt``.
- Every relative link in ``README.md`` and ``docs/*.md`` points at a file that exists (and, for a Markdown
  file, at a heading that exists there).

Run: ``python3 -m pytest -q tests/test_docs.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_commands_reference_is_generated_from_help():
    from harness.cli.docs import REGENERATE, commands_markdown

    committed = (DOCS / "commands.md").read_text()
    assert committed == commands_markdown(), f"docs/commands.md is stale: run `{REGENERATE}`"


def test_commands_reference_covers_every_command():
    from harness.cli import COMMANDS

    text = (DOCS / "commands.md").read_text()
    for name in COMMANDS:
        assert f"\n## harness {name}\n" in text and f"Usage: harness {name} " in text, name


# --- figures of the benchmark report -----------------------------------------------------------------

# A figure: digits with optional thousands commas and decimal parts (`2,812`, `65.7`, `0.9.0`).
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)*")


def _prose(md: str) -> str:
    """``md`` without what is not a stated figure: fenced blocks, code spans, link targets, HTML comments."""
    md = re.sub(r"```.*?```", " ", md, flags=re.S)
    md = re.sub(r"<!--.*?-->", " ", md, flags=re.S)
    md = re.sub(r"`[^`\n]*`", " ", md)
    return re.sub(r"\]\([^)]*\)", "] ", md)


def _figures(text: str) -> list[str]:
    return [m.replace(",", "") for m in _NUMBER.findall(text)]


def _same(figure: str, known: set[str]) -> bool:
    if figure in known:
        return True
    if figure.count(".") > 1:  # a version string: only as written
        return False
    value = float(figure)
    return any(k.count(".") <= 1 and float(k) == value for k in known)


def _sections(md: str) -> list[tuple[str, str]]:
    """(heading, body) for the preamble (heading "") and each ``## `` section."""
    parts = re.split(r"^## (.+)$", md, flags=re.M)
    return [("", parts[0])] + list(zip(parts[1::2], parts[2::2]))


def test_every_benchmark_figure_is_in_its_results_file():
    md = (DOCS / "benchmarks.md").read_text()
    checked = 0
    for heading, body in _sections(md):
        sources = re.findall(r"^Source: (.+)$", body, flags=re.M)
        files = [f for line in sources for f in re.findall(r"benchmarks/results/[\w.\-]+", line)]
        text = _prose(re.sub(r"^Source: .+$", " ", body, flags=re.M))
        figures = _figures(heading) + _figures(text)
        if not figures:
            continue
        assert files, f"docs/benchmarks.md section {heading!r} states figures but names no Source: results file"
        known: set[str] = set()
        for f in files:
            path = ROOT / f
            assert path.is_file(), f"docs/benchmarks.md section {heading!r} names {f}, which does not exist"
            known |= set(_figures(path.read_text()))
        missing = [x for x in figures if not _same(x, known)]
        assert not missing, (f"docs/benchmarks.md section {heading!r} states {missing}, not found in {files}: "
                             "restate the figures as the results file has them")
        checked += len(figures)
    assert checked > 100


def test_figure_check_catches_a_figure_not_in_the_results():
    known = set(_figures("| ours | 3,710 | 100.00 | 65.7x | 0.9.0 |"))
    assert _same("3710", known) and _same("100.0", known) and _same("65.7", known) and _same("0.9.0", known)
    assert not _same("66", known) and not _same("0.9.1", known) and not _same("3711", known)
    assert _figures(_prose("ran `--n 2000` at [66x](results/a.md) and 3,710/s")) == ["66", "3710"]


# --- README facts --------------------------------------------------------------------------------------

def test_readme_test_time_is_the_recorded_one():
    """The README's time for the test suite is the one on the first line of the committed durations file."""
    readme = (ROOT / "README.md").read_text()
    first = (ROOT / "benchmarks" / "results" / "test_durations.txt").read_text().splitlines()[0]
    recorded = re.search(r"in (\d+ min \d+ s)", first)
    assert recorded, f"test_durations.txt's first line states no 'in N min N s': {first!r}"
    block = re.search(r"Run the tests.*?```bash", readme, re.S)
    assert block and recorded.group(1) in block.group(0), (
        f"README's 'Run the tests' paragraph must state the recorded time {recorded.group(1)!r} "
        "(benchmarks/results/test_durations.txt)")


# --- links -------------------------------------------------------------------------------------------

def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to dashes."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(md: str) -> set[str]:
    md = re.sub(r"```.*?```", " ", md, flags=re.S)
    return {_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", md, flags=re.M)}


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    text = re.sub(r"```.*?```", " ", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        assert dest.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest.read_text()), f"{page.relative_to(ROOT)} links to {target}: no such heading"


def test_anchor_rule():
    assert _anchor("Set m: Math-Verify's suite, and our 17 differences") == (
        "set-m-math-verifys-suite-and-our-17-differences")
    assert _anchor("Streaming, no batch barrier") == "streaming-no-batch-barrier"
    assert _anchor("`harness clean` at scale") == "harness-clean-at-scale"


def test_readme_python_example_prints_what_its_comments_say():
    """Each line of the README's Python block runs; a line ending in ``# 'value'`` / ``# True`` evaluates to it."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)\n```", readme, re.S)
    assert block, "README has no Python example"
    env: dict = {}
    checked = 0
    for line in block.group(1).splitlines():
        code, _, comment = line.partition("  # ")
        if not code.strip():
            continue
        expected = re.match(r"('[^']*'|True|False|None|\[[^\]]*\])", comment)
        if expected:
            assert repr(eval(code, env)) == expected.group(1), line
            checked += 1
        else:
            exec(code, env)
    assert checked >= 2


def test_task_table_matches_the_registry():
    """docs/benchmark-tasks.md's table: every built-in task, with its row counts, local file and hub id."""
    from harness.data import GROUPS, TASKS

    text = (DOCS / "benchmark-tasks.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", text, flags=re.M)}
    assert set(rows) == set(TASKS), f"table tasks {sorted(rows)} != registry {sorted(TASKS)}"
    for name, spec in TASKS.items():
        cells = [c.strip() for c in rows[name].strip("|").split("|")]
        assert cells[1] == f"{spec.splits['test']:,}", (name, cells[1])
        assert cells[2] == (f"{spec.splits['train']:,}" if "train" in spec.splits else "-"), (name, cells[2])
        hub_repo = spec.hub_id.split(":")[0]
        assert f"`{hub_repo}`" in cells[6], (name, cells[6])
        local = str(spec.local_path(Path("."), "test"))
        shown = cells[5].strip("`")
        assert local == shown or local in shown.replace("{test,train}", "test"), (name, shown, local)
    flat = " ".join(text.split())
    for group, members in GROUPS.items():
        n = sum(TASKS[t].splits["test"] for t in members)
        assert f"`{group}` = {', '.join(members)} ({n:,}" in flat, group
