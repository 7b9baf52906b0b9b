"""TRL integration: a real ``trl.GRPOTrainer`` trains 2 steps on CPU on the tiny chat model with
``harness.reward.TRLReward`` as its reward function, and our reward reaches the trainer's logs.

The tiny model is random, so its 8-token completions hold no answer: the configured ``no_answer``
reward (-0.5) is what the trainer must log as ``rewards/harness_accuracy/mean``, together with our
``harness/timeout`` and ``harness/error`` rates (TRL's ``log_metric``). The dataset is conversational
(``prompt`` as messages) with GSM8K-style ``answer`` worked solutions and a ``task`` column.

Run: ``python3 -m pytest -q tests/test_reward_trl.py`` (about 15 s; trl is in the ``dev`` and ``rl`` extras).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_grpo_trainer_runs_two_steps_with_our_reward(tiny_chat_checkpoint, tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from harness.reward import TRLReward

    rows = [{"prompt": [{"role": "user", "content": f"What is {a} + {a}?"}],
             "answer": f"{a} + {a} = {2 * a}\n#### {2 * a}", "task": "gsm8k"} for a in range(8)]
    reward = TRLReward(no_answer=-0.5)
    args = GRPOConfig(output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4,
                      num_generations=2, max_completion_length=8, logging_steps=1, report_to=[], use_cpu=True,
                      save_strategy="no", bf16=False, seed=0)
    trainer = GRPOTrainer(model=str(tiny_chat_checkpoint), reward_funcs=[reward], args=args,
                          train_dataset=Dataset.from_list(rows))
    trainer.train()

    steps = [h for h in trainer.state.log_history if "rewards/harness_accuracy/mean" in h]
    assert [h["step"] for h in steps] == [1, 2]
    for h in steps:
        assert h["rewards/harness_accuracy/mean"] == pytest.approx(-0.5)
        assert h["harness/timeout"] == 0.0 and h["harness/error"] == 0.0
    assert sum(reward.counts.values()) == 2 * 4  # every completion of both steps was graded
    assert set(reward.counts) <= {"no_answer", "unclosed_think", "wrong", "correct"}
