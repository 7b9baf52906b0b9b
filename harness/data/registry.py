"""The :class:`TaskRegistry`: the built-in tasks, group aliases, and custom tasks registered at run time.

``harness.data.REGISTRY`` is the one the CLI, eval, synthesis and the public API use
(``harness.tasks``); build another (``TaskRegistry.builtin()``, or :meth:`TaskRegistry.copy`) to work
with tasks of your own without touching it, or :meth:`TaskRegistry.scoped` to undo registrations.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence

from harness.answers.rules import AnswerRules
from harness.data.schema import Problem
from harness.data.task import Task
from harness.errors import ConfigError, HarnessError, did_you_mean


class TaskRegistry:
    """Tasks by name, and group aliases that name several tasks.

    Read it as a mapping (``registry["svamp"]``, ``"svamp" in registry``, ``list(registry)``: names in
    sorted order); :meth:`register` adds a task, :meth:`get` looks one up with "did you mean".

    Examples:
        >>> reg = TaskRegistry.builtin()
        >>> reg["svamp"].rules
        AnswerRules(family='gsm8k', rel_tol=None)
        >>> reg.expand("classic")
        ['gsm8k', 'math500', 'svamp']
    """

    def __init__(self, tasks: Iterable[Task] = (), groups: Mapping[str, Sequence[str]] | None = None) -> None:
        self._builtin: dict[str, Task] = {t.name: t for t in tasks}
        self._custom: dict[str, Task] = {}
        self.groups: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in (groups or {}).items()}
        unknown = [m for ms in self.groups.values() for m in ms if m not in self._builtin]
        if unknown:
            raise ConfigError(f"Group aliases name unregistered tasks: {', '.join(unknown)}.")

    @classmethod
    def builtin(cls) -> TaskRegistry:
        """A fresh registry of the built-in tasks and groups (no custom tasks)."""
        from harness.data.sets import BUILTIN_TASKS, GROUPS

        return cls(BUILTIN_TASKS, GROUPS)

    # --- reading ---------------------------------------------------------------------------------

    def get(self, name: str) -> Task:
        """The task called ``name``.

        Raises:
            HarnessError: a group alias (naming its members), or an unknown name (with "did you mean").
        """
        task = self._custom.get(name) or self._builtin.get(name)
        if task is None:
            if name in self.groups:
                members = ",".join(self.groups[name])
                raise HarnessError(f"{name!r} is a group of tasks, not one task: pass --tasks {members} "
                                   "(callers expand groups with harness.data.expand_tasks).")
            raise HarnessError(did_you_mean(name, [*self.names(), *self.groups], "task"))
        return task

    def __getitem__(self, name: str) -> Task:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._custom or name in self._builtin

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def names(self) -> list[str]:
        """Every task name, sorted (built-in and custom)."""
        return sorted({*self._builtin, *self._custom})

    def builtin_names(self) -> list[str]:
        """The built-in task names, sorted."""
        return sorted(self._builtin)

    def is_custom(self, name: str) -> bool:
        return name in self._custom

    def rules(self, name: str) -> AnswerRules:
        """The answer rules of a task, as the grader takes them.

        Raises:
            HarnessError: unknown task (with "did you mean").
        """
        return self.get(name).rules

    def expand(self, names: str | Sequence[str]) -> list[str]:
        """Expand group aliases in a task list; keep order, drop repeats.

        Args:
            names: task names, aliases or JSONL paths (a comma-separated string is split).

        Returns:
            The task list with each alias replaced by its members; other items unchanged.
        """
        items = names.split(",") if isinstance(names, str) else list(names)
        out: list[str] = []
        for item in (x.strip() for x in items):
            for t in self.groups.get(item, (item,)) if item not in self._custom else (item,):
                if t and t not in out:
                    out.append(t)
        return out

    def help(self) -> str:
        """The task names and group aliases for help texts: ``"aime24, ..., svamp; groups: classic, ..."``."""
        groups = f"; groups: {', '.join(sorted(self.groups))}" if self.groups else ""
        return ", ".join(self.names()) + groups

    def load(self, name: str, split: str = "test", *, data_dir_: str | os.PathLike | None = None,
             allow_hub: bool | None = None) -> list[Problem]:
        """:meth:`Task.load` of the task called ``name``."""
        return self.get(name).load(split, data_dir_=data_dir_, allow_hub=allow_hub)

    # --- changing --------------------------------------------------------------------------------

    def register(self, task: Task) -> Task:
        """Add (or replace) a custom task; returns it.

        Raises:
            ConfigError: the name is a built-in task or a group alias.
        """
        if task.name in self._builtin or task.name in self.groups:
            what = "built-in task" if task.name in self._builtin else "group alias"
            raise ConfigError(f"A custom task cannot be called {task.name!r}: that is a {what}. "
                              f"Choose another name (e.g. {task.name}_custom).")
        self._custom[task.name] = task
        return task

    def unregister(self, name: str) -> None:
        """Remove a custom task (a missing name is fine)."""
        self._custom.pop(name, None)

    def copy(self) -> TaskRegistry:
        """An independent registry with the same tasks and groups."""
        new = TaskRegistry(self._builtin.values(), self.groups)
        new._custom = dict(self._custom)
        return new

    @contextlib.contextmanager
    def scoped(self) -> Iterator[TaskRegistry]:
        """Within the block, register freely; on leaving, the custom tasks are as they were before."""
        before = dict(self._custom)
        try:
            yield self
        finally:
            self._custom = before

    def __repr__(self) -> str:
        return f"TaskRegistry({len(self._builtin)} built-in, {len(self._custom)} custom, groups {sorted(self.groups)})"
