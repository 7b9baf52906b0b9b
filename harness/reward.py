"""Verifiable rewards from the answer engine, for RL trainers: TRL, verl and (over HTTP) OpenRLHF.

One grader serves eval, synth filtering and rewards: every adapter here grades with
:func:`harness.answers.grade_batch` / :func:`harness.answers.grade` under the task's declared answer
rules (``harness.data.answer_rules``), then maps the verdict's status to a reward value
(:class:`RewardConfig`; defaults: ``correct`` 1.0, everything else 0.0). The six reward statuses:

- ``correct``, ``wrong``, ``no_answer`` (nothing extracted), ``timeout``, ``error``: as
  :class:`harness.answers.Grade`;
- ``unclosed_think``: a ``no_answer`` whose output opened a ``<think>`` block it never closed (it ran out
  of tokens), kept apart so a length penalty can be set on its own.

``timeout`` and ``error`` are never a silent 0: each adapter counts them (:attr:`Rewarder.counts`, TRL's
logged metrics, verl's per-sample keys, the reward server's ``extra_logs`` and ``GET /stats``) and logs
a warning.

Adapters:

- :class:`TRLReward`: ``GRPOTrainer(reward_funcs=[TRLReward()])`` (``f(completions, **columns)``);
- :func:`compute_score` / :func:`compute_score_batch`: verl's ``custom_reward_function`` (this file's
  path, name ``compute_score``; the batch form for ``reward_manager=batch``);
- ``harness serve-reward`` (:mod:`harness.rewardserve`): OpenRLHF's ``--remote_rm_url``.

docs/reward.md has a copy-paste example for each.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from harness.answers import AnswerRules, Grade, grade_batch, unclosed_think
from harness.answers.batch import DEFAULT_TIMEOUT_S, GradingPool
from harness.answers.extract import reference_answer
from harness.errors import ConfigError, HarnessError, did_you_mean

logger = logging.getLogger(__name__)

REWARD_STATUSES = ("correct", "wrong", "no_answer", "unclosed_think", "timeout", "error")

#: verl's and the hub's dataset ids -> our task names (a registered task name is taken as is).
DATA_SOURCES: dict[str, str] = {
    "openai/gsm8k": "gsm8k",
    "gsm8k": "gsm8k",
    "lighteval/MATH": "math",
    "DigitalLearningGmbH/MATH-lighteval": "math",
    "hendrycks/competition_math": "math",
    "HuggingFaceH4/MATH-500": "math500",
}


def _value(help_: str) -> Any:
    return field(default=0.0, metadata={"help": help_})


@dataclass(frozen=True)
class RewardConfig:
    """Reward values per status and how items are graded (every field is a ``harness serve-reward`` flag)."""

    correct: float = field(default=1.0, metadata={"help": "Reward of a correct answer."})
    wrong: float = _value("Reward of a wrong answer.")
    no_answer: float = _value("Reward when no final answer is found.")
    unclosed_think: float = _value("Reward when the output never closed its <think> block (ran out of tokens).")
    timeout: float = _value("Reward when grading ran past its bound (counted and logged).")
    error: float = _value("Reward when the grader failed internally (counted and logged).")
    task: str = field(default="math", metadata={
        "help": "Registered task whose answer rules apply when an item names none (math, gsm8k, svamp, ...)."})
    mode: Literal["strict", "flexible"] = field(default="strict", metadata={"help": "Answer extraction mode."})
    workers: int = field(default=0, metadata={
        "help": "Grading worker processes (0: in the calling process).", "min": 0, "max": 256})
    timeout_s: float = field(default=DEFAULT_TIMEOUT_S, metadata={
        "help": "With workers, the wall-clock limit of one item (its worker is killed; status timeout).", "gt": 0})

    def __post_init__(self) -> None:
        from harness.options import check

        check(self)

    def value(self, status: str) -> float:
        """The reward of a reward status (one of :data:`REWARD_STATUSES`)."""
        return float(getattr(self, status))


def rules_for(task: str | AnswerRules) -> AnswerRules:
    """The answer rules of a registered task name (built-in or custom) or a data source id."""
    if isinstance(task, AnswerRules):
        return task
    from harness.data import answer_rules

    return answer_rules(DATA_SOURCES.get(task, task))


def gold_of(value: Any, rules: AnswerRules, where: str = "gold") -> str | tuple[str, ...]:
    """The gold answer(s) in a dataset column value: a bare answer, a worked solution (its box, or
    GSM8K's ``#### N`` line), a number, or a list of accepted alternatives.

    Raises:
        HarnessError: the value holds no answer.

    Examples:
        >>> gold_of("She makes 9 * 2 = 18 dollars.\\n#### 18", rules_for("gsm8k"))
        '18'
        >>> gold_of("So $x = \\\\boxed{\\\\frac12}$.", rules_for("math"))
        '\\\\frac12'
    """
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy values (verl's non_tensor_batch)
        value = value.tolist()
    if isinstance(value, (list, tuple)) and value:
        return tuple(str(gold_of(v, rules, where)) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        from harness.data import gsm8k_final_answer

        if "####" in value:
            try:
                return gsm8k_final_answer(value)
            except HarnessError:
                pass
        found = reference_answer(value, rules.family)
        if found:
            return found
    raise HarnessError(
        f"expected {where} to hold a reference answer (a string, a number or a list of them), found "
        f"{value!r}"[:300] + "; fix that row of the dataset."
    )


@dataclass(frozen=True)
class Scored:
    """One graded item: its reward, its reward status and the answer found (or None)."""

    reward: float
    status: str
    extracted: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def _status(output: Any, g: Grade) -> str:
    if g.status == "no_answer" and isinstance(output, str) and unclosed_think(output):
        return "unclosed_think"
    return g.status


class Rewarder:
    """Grades outputs into rewards under a :class:`RewardConfig`, counting every status.

    ``counts`` (a :class:`collections.Counter` of reward statuses over this object's life) is safe to
    read from any thread; :meth:`score` may be called from many threads at once. Keyword arguments are
    :class:`RewardConfig` fields; ``pool`` is a :class:`~harness.answers.GradingPool` of your own
    (else ``config.workers`` picks the shared pool, 0 grading in-process).

    Examples:
        >>> r = Rewarder(RewardConfig(wrong=-1.0))
        >>> [s.reward for s in r.score(["$\\\\boxed{2}$", "$\\\\boxed{3}$"], ["2", "2"])]
        [1.0, -1.0]
        >>> r.counts["wrong"]
        1
    """

    def __init__(self, config: RewardConfig | None = None, *, pool: GradingPool | None = None,
                 **overrides: Any) -> None:
        if config is None:
            from harness.options import from_mapping

            config = from_mapping(RewardConfig, overrides, where="reward options")
        elif overrides:
            raise TypeError("pass either a RewardConfig or keyword overrides, not both")
        self.config = config
        self.pool = pool  # a GradingPool of the caller's own, else the shared pool of config.workers
        self._default_rules = rules_for(config.task)  # an unknown task fails here, not mid-training
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # picklable (TRL may hand reward functions to a child process)
        state = dict(self.__dict__)
        del state["_lock"]
        state["pool"] = None  # processes do not travel: the copy uses the shared pool of config.workers
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def score(
        self,
        outputs: Sequence[Any],
        golds: Sequence[Any],
        tasks: str | AnswerRules | Sequence[str | AnswerRules | None] | None = None,
    ) -> list[Scored]:
        """Grade ``outputs[i]`` against ``golds[i]`` (column values, read by :func:`gold_of`).

        Args:
            outputs: the completions' text.
            golds: one gold column value per output.
            tasks: one task for all items, one per item (None items use the config's task), or None.

        Returns:
            One :class:`Scored` per item, in order.

        Raises:
            HarnessError: an unknown task, or a gold that holds no answer.
        """
        if len(outputs) != len(golds):
            raise HarnessError(f"expected one gold per completion, found {len(outputs)} completions and "
                               f"{len(golds)} golds")
        per_item = self._rules(tasks, len(outputs))
        groups: dict[AnswerRules, list[int]] = {}
        for i, rules in enumerate(per_item):
            groups.setdefault(rules, []).append(i)
        grades: list[Grade | None] = [None] * len(outputs)
        c = self.config
        for rules, idx in groups.items():
            read: dict[str, str | tuple[str, ...]] = {}  # a GRPO group repeats its gold: read it once
            gs = []
            for i in idx:
                v = golds[i]
                if isinstance(v, str):
                    if v not in read:
                        read[v] = gold_of(v, rules, f"gold {i}")
                    gs.append(read[v])
                else:
                    gs.append(gold_of(v, rules, f"gold {i}"))
            got = grade_batch([outputs[i] for i in idx], gs, rules, c.mode, workers=c.workers,
                              timeout_s=c.timeout_s, pool=self.pool)
            for i, one in zip(idx, got):
                grades[i] = one
        out = []
        for o, g in zip(outputs, grades):
            assert g is not None  # every index is in one group
            status = _status(o, g)
            out.append(Scored(c.value(status), status, g.extracted))
        self._count(out)
        return out

    def _rules(self, tasks: Any, n: int) -> list[AnswerRules]:
        if tasks is None or isinstance(tasks, (str, AnswerRules)):
            one = self._default_rules if tasks is None else rules_for(tasks)
            return [one] * n
        if len(tasks) != n:
            raise HarnessError(f"expected one task per completion, found {len(tasks)} tasks for {n} completions")
        cache: dict[Any, AnswerRules] = {}
        out = []
        for t in tasks:
            if t is None:
                out.append(self._default_rules)
                continue
            if t not in cache:
                cache[t] = rules_for(t)
            out.append(cache[t])
        return out

    def _count(self, scored: list[Scored]) -> None:
        batch = Counter(s.status for s in scored)
        with self._lock:
            self.counts.update(batch)
        bad = {k: batch[k] for k in ("timeout", "error") if batch[k]}
        if bad:
            logger.warning("reward batch of %d: %s (rewards %s)", len(scored),
                           ", ".join(f"{v} {k}" for k, v in bad.items()),
                           ", ".join(f"{k}={self.config.value(k)}" for k in bad))


# -- TRL ---------------------------------------------------------------------------------------------


def completion_text(completion: Any) -> str | None:
    """The text of a TRL completion: a string, or a conversation (a list of message dicts, whose last
    assistant message is graded). None when there is no text (graded as ``no_answer``)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        msgs = [m for m in completion if isinstance(m, Mapping)]
        assistant = [m for m in msgs if m.get("role", "assistant") == "assistant"] or msgs
        if assistant:
            content = assistant[-1].get("content")
            if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
                content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
            return content if isinstance(content, str) else None
    return None


class TRLReward(Rewarder):
    """A reward function for TRL's ``GRPOTrainer(reward_funcs=[TRLReward(...)])``.

    Called as ``f(completions, **columns)``: ``completions`` are strings or conversations; the gold comes
    from the dataset's ``answer`` column (or ``solution``: a worked solution's box is taken); an optional
    ``task`` column names each row's registered task (else the config's ``task``). Returns one float per
    completion. When TRL passes ``log_metric`` / ``log_extra``, the batch's timeout and error fractions
    are logged as metrics (``harness/timeout``, ``harness/error``) and each row's status and extracted
    answer as completion-table columns. Keyword arguments are :class:`RewardConfig` fields.

    Examples:
        >>> f = TRLReward(task="gsm8k")
        >>> f([[{"role": "assistant", "content": "#### 18"}]], answer=["She makes 9 * 2 = 18.\\n#### 18"])
        [1.0]
    """

    __name__ = "harness_accuracy"  # TRL logs rewards/<name>/mean

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        golds = kwargs.get("answer")
        if golds is None:
            golds = kwargs.get("solution")
        if golds is None:
            columns = sorted(k for k in kwargs if k not in ("log_extra", "log_metric", "trainer_state"))
            raise HarnessError(
                "expected the dataset to have an 'answer' (or 'solution') column with the reference answers, "
                f"found columns: {', '.join(columns) or 'none'}; rename the gold column to 'answer'."
            )
        texts = [completion_text(c) for c in completions]
        scored = self.score(texts, golds, kwargs.get("task"))
        log_metric, log_extra = kwargs.get("log_metric"), kwargs.get("log_extra")
        n = max(1, len(scored))
        if callable(log_metric):
            for k in ("timeout", "error"):
                log_metric(f"harness/{k}", sum(s.status == k for s in scored) / n)
        if callable(log_extra):
            log_extra("harness_status", [s.status for s in scored])
            log_extra("harness_extracted", [s.extracted or "" for s in scored])
        return [s.reward for s in scored]


# -- verl --------------------------------------------------------------------------------------------


_VERL: dict[tuple, Rewarder] = {}
_VERL_LOCK = threading.Lock()


def _verl_rewarder(options: Mapping[str, Any]) -> Rewarder:
    key = tuple(sorted(options.items()))
    with _VERL_LOCK:
        r = _VERL.get(key)
        if r is None:
            names = {f.name for f in fields(RewardConfig)}
            for k in options:
                if k not in names:
                    raise ConfigError(did_you_mean(k, names, "reward option"))
            r = _VERL[key] = Rewarder(**options)
        return r


def _verl_task(data_source: Any, extra_info: Any) -> str:
    if isinstance(extra_info, Mapping) and isinstance(extra_info.get("task"), str):
        return extra_info["task"]
    return DATA_SOURCES.get(str(data_source), str(data_source))


def _verl_dict(s: Scored) -> dict:
    # every sample carries the same keys (verl stacks them per key); the 0/1 keys average into rates
    return {"score": s.reward, "acc": float(s.status == "correct"), "status": s.status,
            "extracted": s.extracted or "", "timeout": float(s.status == "timeout"),
            "error": float(s.status == "error")}


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  **options: Any) -> dict:
    """verl's ``custom_reward_function``: grade one response.

    Args:
        data_source: the row's ``data_source`` (``openai/gsm8k``, ``DigitalLearningGmbH/MATH-lighteval``,
            ... see :data:`DATA_SOURCES`) or a registered task name; ``extra_info["task"]`` overrides it.
        solution_str: the decoded response.
        ground_truth: the row's ``reward_model.ground_truth`` (an answer, a worked solution or a list).
        extra_info: the row's ``extra_info`` (optional).
        **options: :class:`RewardConfig` fields, from ``custom_reward_function.reward_kwargs``.

    Returns:
        ``{"score", "acc", "status", "extracted", "timeout", "error"}`` (verl uses ``score``, logs the rest).

    Raises:
        HarnessError: an unknown data source or task (did you mean ...), a gold without an answer.

    Examples:
        >>> compute_score("openai/gsm8k", "so she makes #### 18", "18")["score"]
        1.0
    """
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **options)[0]


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Any] | None = None, **options: Any) -> list[dict]:
    """verl's batch form (``reward_model.reward_manager=batch``, ``custom_reward_function.name=
    compute_score_batch``): the dicts of :func:`compute_score`, one per item, graded together (with
    ``workers`` set in ``reward_kwargs``, on the process pool)."""
    extra = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    tasks = [_verl_task(d, e) for d, e in zip(data_sources, extra)]
    scored = _verl_rewarder(options).score(list(solution_strs), list(ground_truths), tasks)
    return [_verl_dict(s) for s in scored]


def verl_counts(**options: Any) -> Counter[str]:
    """The statuses counted so far by :func:`compute_score` with these ``options`` in this process."""
    return Counter(_verl_rewarder(options).counts)
