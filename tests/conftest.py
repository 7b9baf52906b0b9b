"""Shared fixtures and the test tiers.

Run everything: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests``.

Tiers (markers, see pyproject.toml):
- unmarked: fast unit and golden-table tests (pure Python).
- ``slow``: end to end with a tiny real model (built by the ``tiny_checkpoint`` fixture), real
  subprocesses and loopback HTTP servers; seconds to a minute each. Skip with ``-m "not slow"``.
- ``gpu``: needs CUDA; skipped on machines without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data folder (``$HARNESS_DATA_DIR``, default ``../shared/data``)."""
    d = Path(os.environ.get("HARNESS_DATA_DIR") or REPO.parent / "shared" / "data")
    if not (d / "math" / "test.jsonl").is_file():
        pytest.skip(f"benchmark data not found at {d}; set HARNESS_DATA_DIR")
    return d


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny randomly initialised Llama checkpoint with a char-level tokenizer (no chat template)."""
    from harness.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt")


@pytest.fixture(scope="session")
def tiny_chat_checkpoint(tmp_path_factory) -> Path:
    """Same as ``tiny_checkpoint`` but its tokenizer has a chat template."""
    from harness.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tinychat") / "ckpt", chat_template=True)
