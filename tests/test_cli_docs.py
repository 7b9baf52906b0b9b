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


def test_unknown_command_says_did_you_mean():
    res = CliRunner().invoke(main, ["evla"])
    assert res.exit_code != 0 and "Did you mean 'eval'" in res.output
