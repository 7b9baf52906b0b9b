"""mathharness: evaluation-first benchmark harness for math reasoning (Skywork-Math method)."""

__version__ = "0.1.0"
