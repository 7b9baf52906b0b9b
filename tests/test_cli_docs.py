"""Meta-tests: every command has help with an example, and the README documents it.

Run: ``python3 -m pytest -q tests/test_cli_docs.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import COMMANDS, main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_commands_registered():
    assert len(COMMANDS) >= 12


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_with_example_and_readme_entry(name):
    res = CliRunner().invoke(main, [name, "--help"])
    assert res.exit_code == 0, res.output
    assert "Example" in res.output or any(
        "Example" in CliRunner().invoke(main, [name, sub, "--help"]).output for sub in ("add", "show")
    ), f"`harness {name} --help` has no example"
    assert f"harness {name}" in README, f"README does not mention `harness {name}`"


def test_ci_runs_the_readme_test_command_verbatim_after_lint():
    """`.ci/run` runs exactly what the README tells a newcomer to type, after `ruff check` and `mypy`, and
    installs what it runs (ruff and mypy are in the dev extra it installs)."""
    import re

    root = Path(__file__).resolve().parents[1]
    ci = (root / ".ci" / "run").read_text().splitlines()
    blocks = re.findall(r"Run the tests.*?```bash\n(.*?)\n```", README, re.S)
    assert blocks, "README has no 'Run the tests' command block"
    command = blocks[0].strip()
    assert command in ci, f".ci/run does not run the README's test command {command!r}"
    lint = [i for i, line in enumerate(ci) if line.startswith(("python3 -m ruff check", "python3 -m mypy"))]
    assert len(lint) == 2 and max(lint) < ci.index(command)
    assert any('pip install -q -e ".[hf,train,lm-eval,dev]"' in line for line in ci)
    pyproject = (root / "pyproject.toml").read_text()
    dev = re.search(r"^dev = \[(.*)\]$", pyproject, re.M).group(1)
    assert '"ruff' in dev and '"mypy' in dev


def test_unknown_command_says_did_you_mean():
    res = CliRunner().invoke(main, ["evla"])
    assert res.exit_code != 0 and "Did you mean 'eval'" in res.output
