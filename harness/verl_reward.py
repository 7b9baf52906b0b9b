"""verl's entry point to the answer engine: point ``custom_reward_function.path`` at this file.

verl loads the file by path (``importlib.util.spec_from_file_location``), so it holds nothing but the
names verl looks up; the functions live in :mod:`harness.reward` (imported normally, so its state and
counters are shared with the rest of the process).

- ``custom_reward_function.name=compute_score`` (the default): one sample per call;
- ``custom_reward_function.name=compute_score_batch`` with ``reward_model.reward_manager=batch``.

Keyword arguments from ``custom_reward_function.reward_kwargs`` are :class:`harness.reward.RewardConfig`
fields (``wrong``, ``task``, ``workers``, ...). See docs/reward.md.
"""

from harness.reward import compute_score, compute_score_batch, verl_counts

__all__ = ["compute_score", "compute_score_batch", "verl_counts"]
