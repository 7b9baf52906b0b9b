"""The evaluation runner: tasks x prompt x backend -> a resumable run directory.

``evaluate(EvalConfig(...))`` loads the tasks, renders prompts and streams the samples that are not
yet in ``<output_dir>/samples.jsonl`` through the backend (:func:`harness.backends.stream`): up to
``concurrency`` requests are in flight and a new one is issued as soon as any finishes (no batch
barrier), each finished sample is graded (strict and flexible, :func:`harness.answers.grade`) and
appended through :class:`harness.io.ResumableLog` as whole fsync'd lines in small groups, in completion
order. Finally :func:`harness.reports.summarize` writes ``results.json``.

Resuming: running the same config into the same ``output_dir`` again generates only the missing
``(task, id, sample_idx)`` keys. A torn last line (a ``kill -9`` mid-write) is cut off before
appending, so nothing is duplicated and earlier lines stay byte-identical. A different config
(anything that can change generations or grades; not the output dir, batch size, concurrency,
timeout, base URLs or date) is refused, except a larger ``limit``: it reuses what is done and adds
the rest.

Selection: ``limit=N`` keeps the first N problems of each task (file order); ``shard=(i, n)``
then keeps the problems whose index (after the limit) satisfies ``index % n == i``, so the
shards of one config partition exactly the unsharded problem set (``harness merge`` joins them).

Examples:
    >>> cfg = EvalConfig(model="./ckpt", tasks=("math500",), limit=10, output_dir="runs/x")  # doctest: +SKIP
    >>> results = evaluate(cfg)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

from harness.answers import ENGINE_VERSION, AnswerRules, grade, unclosed_think
from harness.backends import (
    DEFAULT_WINDOW,
    Backend,
    BackendName,
    Generation,
    Request,
    SamplingParams,
    default_window,
    make_backend,
    parse_base_urls,
    stream,
)
from harness.data import Problem, expand_tasks, get_task, load_task, register_jsonl_task, task_help
from harness.errors import BackendError, ConfigError, DataError, HarnessError
from harness.io import (
    ResumableLog,
    config_hash,
    diff_fields,
    file_sha256,
    git_commit,
    now_iso,
    refuse_changed_config,
)
from harness.judge import JudgeConfig, judge_run
from harness.options import check
from harness.prompts import PromptTemplate, default_prompt, get_prompt
from harness.records import MANIFEST, MODES, RESULTS, SAMPLES, Sample, load_run, sample_key, write_manifest
from harness.rundir import RunDir
from harness.version import __version__

log = logging.getLogger(__name__)

#: The --serve-cmd server's output, in the run directory.
SERVER_LOG = "server.log"
#: EvalConfig fields that never change generations or grades (left out of config_hash).
UNHASHED = (
    "output_dir", "batch_size", "concurrency", "request_timeout", "base_url", "data_dir", "backend_kwargs",
    "serve_cmd", "serve_timeout",
)


@dataclass(frozen=True)
class EvalConfig:
    """Everything ``harness eval`` takes; each field is one CLI flag (generated from this class by
    :func:`harness.options.click_options`: the ``help`` metadata is the one place an option is documented;
    ``sep``/``repeat``/``parse``/``flag`` say how a flag's text is read)."""

    WHAT: ClassVar[str] = "eval config"

    model: str = field(metadata={"help": "checkpoint dir, hub id, or served model name (openai)", "required": True})
    tasks: tuple[str, ...] = field(default=("math500",), metadata={
        "help": f"task names ({task_help()}) or JSONL paths, comma-separated", "sep": ",", "repeat": True,
        "required": True})
    backend: BackendName = field(default="hf", metadata={"help": "generation backend"})
    base_url: tuple[str, ...] = field(default=(), metadata={
        "help": "openai: server URL(s), e.g. http://127.0.0.1:8000/v1; repeat the flag or comma-separate "
                "several (one per server: requests go to the least-loaded one)", "sep": ",", "repeat": True})
    serve_cmd: str | None = field(default=None, metadata={
        "help": "openai: the command that serves the model, with {model} and {port} placeholders, e.g. "
                "'vllm serve {model} --port {port}'; started on a free loopback port when samples are missing, "
                "stopped (with its process group) when the evaluation ends, fails or is killed; its output "
                "goes to OUTPUT_DIR/server.log"})
    serve_timeout: float = field(default=900.0, metadata={
        "help": "seconds --serve-cmd may take to answer GET /v1/models before the run gives up", "gt": 0})
    concurrency: int | None = field(default=None, metadata={
        "help": "requests in flight; a new one starts as soon as one finishes. openai: concurrent HTTP "
                f"requests (default {DEFAULT_WINDOW['openai']}); vllm: requests kept queued in the engine "
                f"(default {DEFAULT_WINDOW['vllm']}); hf: prompts sorted by length together (default "
                f"{DEFAULT_WINDOW['hf']})", "min": 1})
    request_timeout: float = field(default=600.0, metadata={
        "help": "openai: seconds one request may take (long reasoning outputs need minutes)", "gt": 0})
    prompt: str | None = field(default=None, metadata={"help": "prompt template name (default: per task)"})
    num_fewshot: int | None = field(default=None, metadata={
        "help": "few-shot examples (default: the prompt's)", "min": 0})
    limit: int | None = field(default=None, metadata={
        "help": "first N problems of each task (a larger N on a finished run adds the rest)", "min": 1})
    batch_size: int = field(default=8, metadata={
        "help": "hf: prompts per forward pass (other backends: unused)", "min": 1})
    max_new_tokens: int = field(default=1024, metadata={"help": "generation budget per sample", "min": 1})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature (0: greedy)", "min": 0})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling p", "gt": 0, "max": 1})
    n: int = field(default=1, metadata={"help": "samples per problem (maj@k, pass@k when > 1)", "min": 1})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    output_dir: str | None = field(default=None, metadata={
        "help": "run directory; re-run to resume (default runs/<model>-<hash of model path and backend>-<date>)"})
    shard: tuple[int, int] | None = field(default=None, metadata={
        "help": "i/n: evaluate problems with index % n == i (join with harness merge)", "parse": lambda text: parse_shard(text)})
    data_dir: str | None = field(default=None, metadata={"help": "benchmark data folder"})
    split: str = field(default="test", metadata={"help": "data split"})
    chat: bool | None = field(default=None, metadata={
        "help": "send chat messages (default: when the model has a chat template)"})
    fields: tuple[tuple[str, str], ...] = field(default=(), metadata={
        "help": "custom JSONL field map OURS=THEIRS, e.g. question=problem (repeatable)", "flag": "--field"})
    answer_task: Literal["math", "gsm8k"] = field(default="math", metadata={
        "help": "answer rules for custom JSONL tasks"})
    backend_kwargs: tuple[tuple[str, Any], ...] = field(default=(), metadata={
        "help": "KEY=VALUE for the backend constructor, e.g. tensor_parallel_size=2 (vllm), device=cuda:1 (hf) "
                "(repeatable; values parsed as JSON when they parse)", "flag": "--backend-arg"})

    def __post_init__(self) -> None:
        if isinstance(self.base_url, (str, list, tuple)):
            object.__setattr__(self, "base_url", parse_base_urls(self.base_url))
        check(self, _eval_cross_checks)

    @property
    def window(self) -> int:
        """The in-flight window: ``concurrency``, else the backend's default (:data:`DEFAULT_WINDOW`)."""
        return default_window(self.backend, self.concurrency)


def _eval_cross_checks(cfg: EvalConfig) -> list[str]:
    """Rules between fields (types and ranges are checked from the field metadata)."""
    errs = []
    if cfg.shard is not None and not (cfg.shard[1] >= 1 and 0 <= cfg.shard[0] < cfg.shard[1]):
        errs.append(f"shard: i/n needs 0 <= i < n, found {cfg.shard[0]}/{cfg.shard[1]}")
    if cfg.serve_cmd is not None:
        missing = [p for p in ("{model}", "{port}") if p not in cfg.serve_cmd]
        if cfg.backend != "openai":
            errs.append(f"serve_cmd: needs --backend openai (it starts an OpenAI-compatible server), found "
                        f"backend {cfg.backend!r}")
        if missing:
            errs.append(f"serve_cmd: expected the placeholders {{model}} and {{port}}, found no "
                        f"{' and no '.join(missing)} in {cfg.serve_cmd!r}; e.g. 'vllm serve {{model}} --port {{port}}'")
        if cfg.base_url:
            errs.append("serve_cmd: starts its own server; drop --base-url (or drop --serve-cmd to use that server)")
    elif cfg.backend == "openai" and not cfg.base_url:
        errs.append("--backend openai needs --base-url, the server's URL such as http://127.0.0.1:8000/v1 "
                    "(start one with `harness serve --model DIR --port 8000` or `vllm serve MODEL`), or "
                    "--serve-cmd to start one per run")
    return errs


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """Parse ``"i/n"`` into ``(i, n)``.

    Raises:
        ConfigError: not of the form i/n with 0 <= i < n.
    """
    if text is None or text == "":
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard expects i/n such as 0/4, found {text!r}.") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"--shard i/n needs 0 <= i < n, found {text!r}.")
    return (i, n)


def hide_loading_bars() -> None:
    """Hide transformers' weight loading/saving bars (``--no-progress``: the run shows no bar at all);
    nothing to do without transformers."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()


def default_output_dir(model: str, backend: str = "hf", base_url: Sequence[str] = ()) -> str:
    """``runs/<model-basename>-<hash>-<YYYYMMDD>``; the hash covers the model's absolute path (or hub id /
    served name), the backend and the server URLs, so two checkpoints both named ``ckpt`` never share
    a folder, nor do two backends of one model."""
    name = model.rstrip("/")
    local = Path(name).expanduser()
    ident = str(local.resolve()) if local.exists() else name
    h = hashlib.blake2b("|".join([ident, backend, *base_url]).encode(), digest_size=4).hexdigest()
    base = Path(name).name or "model"
    return str(Path("runs") / f"{base}-{h}-{_dt.date.today().strftime('%Y%m%d')}")


@dataclass(frozen=True)
class ResolvedTask:
    name: str
    version: str
    problems: tuple[Problem, ...]
    prompt: PromptTemplate
    rules: AnswerRules  # the task's own; with a rel_tol, samples also get correct_tol_* verdicts


def _is_path(t: str) -> bool:
    """A --tasks item is a file path unless it names a registered task."""
    from harness.data import task_names

    if t in task_names():
        return False
    return t.endswith(".jsonl") or os.sep in t or Path(t).is_file()


def _task_spec(cfg: EvalConfig, t: str) -> tuple[str, Any]:
    """``(name, spec)`` of one ``--tasks`` item; a JSONL path is registered as a custom task first.

    Raises:
        DataError: a task file that does not exist.
        HarnessError: an unknown task name (with "did you mean"), a file shadowing a built-in task.
    """
    if _is_path(t):
        p = Path(t).expanduser().resolve()
        if not p.is_file():
            raise DataError(f"Expected a JSONL task file at {p}, but it does not exist. Check --tasks.")
        name = p.stem
        from harness.data import TASKS

        if name in TASKS:
            raise ConfigError(f"Custom task file {p} would shadow the built-in task {name!r}; "
                              f"rename the file (e.g. {name}_custom.jsonl).")
        return name, register_jsonl_task(
            name, p, fields=dict(cfg.fields) or None, answer_task=cfg.answer_task,
            version=f"custom-{file_sha256(p)[:12]}", split=cfg.split,
        )
    spec = get_task(t)
    return spec.name, spec


def task_problems(cfg: EvalConfig) -> list[str]:
    """Every problem of ``cfg``'s task list and prompt, found without loading any problem: unknown task
    names (with "did you mean"), missing task files, a task listed twice, an unknown prompt. One message
    each; the loop checks these before it writes anything."""
    errs: list[str] = []
    seen: set[str] = set()
    prompts = [cfg.prompt] if cfg.prompt else []
    for t in expand_tasks(cfg.tasks):
        try:
            name, _ = _task_spec(cfg, t)
        except HarnessError as e:
            errs.append(str(e).rstrip("."))
            continue
        if name in seen:
            errs.append(f"Task {name!r} is listed twice; list each task once")
        seen.add(name)
        prompts += [] if cfg.prompt else [default_prompt(name)]
    for p in dict.fromkeys(prompts):
        try:
            get_prompt(p)
        except HarnessError as e:
            errs.append(str(e).rstrip("."))
    return errs


def resolve_tasks(cfg: EvalConfig) -> list[ResolvedTask]:
    """Load every task of ``cfg`` (custom JSONL paths registered first), apply limit and shard.

    Raises:
        DataError: a task has no data, is empty, or has a malformed line (file:line).
        HarnessError: unknown task or prompt (with "did you mean").
    """
    out = []
    seen: set[str] = set()
    for t in expand_tasks(cfg.tasks):
        name, spec = _task_spec(cfg, t)
        if name in seen:
            raise ConfigError(f"Task {name!r} is listed twice in --tasks; list each task once.")
        seen.add(name)
        problems = load_task(name, cfg.split, data_dir_=cfg.data_dir)
        if cfg.limit is not None:
            problems = problems[: cfg.limit]
        if cfg.shard is not None:
            i, n = cfg.shard
            problems = [p for k, p in enumerate(problems) if k % n == i]
        ids = [p.id for p in problems]
        if len(set(ids)) != len(ids):
            dup = next(x for x in ids if ids.count(x) > 1)
            raise DataError(f"Task {name!r} has duplicate problem id {dup!r}; ids must be unique.")
        prompt = get_prompt(cfg.prompt or default_prompt(name))
        prompt.render("check", cfg.num_fewshot)  # fail now, not after the model loaded, on a bad --num-fewshot
        out.append(ResolvedTask(name, spec.version, tuple(problems), prompt, spec.rules))
    return out


def hashed_config(cfg: EvalConfig, tasks: Sequence[ResolvedTask]) -> dict:
    """The part of the config that can change generations or grades (what config_hash covers)."""
    return {
        "model": cfg.model,
        "backend": cfg.backend,
        "tasks": {t.name: t.version for t in tasks},
        "answer_tasks": {t.name: t.rules.family for t in tasks},
        "split": cfg.split,
        "prompt": {t.name: t.prompt.ident() for t in tasks},
        "n_shot": cfg.num_fewshot,
        "chat": cfg.chat,
        "sampling": {
            "temperature": cfg.temperature, "top_p": cfg.top_p, "max_new_tokens": cfg.max_new_tokens,
            "n": cfg.n, "seed": cfg.seed,
        },
        "limit": cfg.limit,
        "shard": list(cfg.shard) if cfg.shard else None,
        "answer_engine": ENGINE_VERSION,
    } | ({"rel_tol": {t.name: t.rules.rel_tol for t in tasks}} if any(t.rules.rel_tol is not None for t in tasks)
         else {})


def build_manifest(cfg: EvalConfig, tasks: Sequence[ResolvedTask]) -> dict:
    """The manifest for a new run (see :data:`harness.records.MANIFEST_FIELDS`)."""
    hc = hashed_config(cfg, tasks)
    prompts = {t.prompt.name: t.prompt.version for t in tasks}
    return {
        "model": cfg.model,
        "backend": cfg.backend,
        "tasks": hc["tasks"],
        "answer_tasks": hc["answer_tasks"],
        "split": cfg.split,
        "prompt": (tasks[0].prompt.ident() if len(prompts) == 1 else hc["prompt"]),
        "n_shot": cfg.num_fewshot if cfg.num_fewshot is not None else tasks[0].prompt.default_n_shot,
        "sampling": hc["sampling"],
        "limit": cfg.limit,
        "shard": hc["shard"],
        "answer_engine": ENGINE_VERSION,
        "harness_version": __version__,
        "commit": git_commit(),
        "date": now_iso(),
        "config": hc,
        "config_hash": config_hash(hc),
    }


def _without_limit(config: Mapping) -> dict:
    return {k: v for k, v in config.items() if k != "limit"}


def _accept_larger_limit(out: Path) -> Any:
    """The eval stage's one allowed change (for :func:`harness.rundir.resume_policy`): a larger ``limit``
    keeps the finished samples and adds the rest; any other change gets the one refusal.

    Raises:
        ConfigError: other fields differ (the refusal), or ``limit`` shrank.
    """

    def accept(old: Mapping, new: Mapping) -> dict:
        old_cfg, new_cfg = old.get("config") or {}, new["config"]
        refuse_changed_config(out, _without_limit(old_cfg), _without_limit(new_cfg), "use a new --output-dir")
        was, now = old_cfg.get("limit"), new_cfg.get("limit")
        if now is not None and (was is None or now < was):
            raise ConfigError(_shrink_message(out, was, now))
        log.info("%s: --limit %s -> %s: keeping the finished samples, adding the rest", out, was, now)
        return {**new, "date": old.get("date", new["date"])}

    return accept


def _samples_mismatch(run: Any, tasks: Sequence[ResolvedTask], cfg: EvalConfig) -> str | None:
    """None when every recorded sample could have been made by this config (its task, problem and sample
    index are in the selection, its prompt holds the problem's question, its tokens fit
    ``max_new_tokens``), else what does not fit. Sampling settings (temperature, seed) leave no trace
    in a sample and cannot be checked."""
    problems = {(t.name, str(p.id)): p for t in tasks for p in t.problems}
    for s in run.records:
        if (s.task, s.id) not in problems or s.sample_idx >= cfg.n:
            return f"sample {s.key} is not in this command's selection"
        text = s.prompt if isinstance(s.prompt, str) else json.dumps(s.prompt, ensure_ascii=False)
        question = problems[(s.task, s.id)].question
        if question not in text and json.dumps(question, ensure_ascii=False)[1:-1] not in text:
            return f"the prompt of sample {s.key} does not hold its problem's question"
        if s.tokens is not None and s.tokens > cfg.max_new_tokens:
            return f"sample {s.key} has {s.tokens} tokens, more than --max-new-tokens {cfg.max_new_tokens}"
    return None


def _shrink_message(out: Path, was: int | None, now: int) -> str:
    held = f"--limit {was}" if was is not None else "every problem (no --limit)"
    fix = f"pass --limit {was} or more (or no --limit)" if was is not None else "drop --limit"
    return (f"{out} holds a run of {held}; --limit {now} would leave finished samples out of its results: "
            f"{fix}, or use a new --output-dir.")


def make_record(task: ResolvedTask, problem: Problem, idx: int, prompt: Any, gen: Generation,
                gen_s: float) -> dict:
    """One samples.jsonl record (a :class:`harness.records.Sample`), graded strict and flexible (and,
    for a task with a numeric tolerance setting, also under that tolerance)."""
    g = {mode: grade(gen.text, problem.answer, task.rules.exact(), mode) for mode in MODES}
    tol = ({mode: bool(grade(gen.text, problem.answer, task.rules, mode).correct)
            for mode in MODES} if task.rules.rel_tol is not None else {})
    return Sample(
        task=task.name, id=str(problem.id), sample_idx=idx, subject=problem.subject, level=problem.level,
        gold=list(problem.answer) if isinstance(problem.answer, tuple) else problem.answer,
        prompt=prompt, output=gen.text,
        extracted_strict=g["strict"].extracted, extracted_flexible=g["flexible"].extracted,
        correct_strict=bool(g["strict"].correct), correct_flexible=bool(g["flexible"].correct),
        status_strict=g["strict"].status, status_flexible=g["flexible"].status,
        correct_tol_strict=tol.get("strict"), correct_tol_flexible=tol.get("flexible"),
        prompt_tokens=int(gen.prompt_tokens), tokens=int(gen.tokens),
        finish_reason=gen.finish_reason, truncated=gen.finish_reason == "length",
        unclosed_think=unclosed_think(gen.text), gen_s=round(gen_s, 6),
        replaced_chars=gen.meta.get("replaced_chars"),
        grading_backstop=True if any(x.backstop for x in g.values()) else None,
    ).to_dict()


def _use_chat(cfg: EvalConfig, backend: Backend) -> bool:
    if cfg.chat is not None:
        return cfg.chat
    for attr in ("has_chat_template", "supports_chat", "chat"):
        v = getattr(backend, attr, None)
        if isinstance(v, bool):
            return v
    return False


def _sent_text(backend: Backend, prompt: Any) -> Any:
    """What is recorded as ``prompt``: the exact text for string prompts or when the backend can
    render chat messages (HFBackend applies the chat template), else the messages themselves."""
    if isinstance(prompt, str):
        return prompt
    render = getattr(backend, "render", None)
    if callable(render):
        try:
            return render(prompt)
        except Exception:
            log.debug("backend.render failed; recording chat messages", exc_info=True)
    return prompt


def _missing(tasks: Sequence[ResolvedTask], done: set, n: int) -> tuple[list[tuple[int, int, list[int]]], int]:
    """``([(task index, problem index, missing sample indices)], total samples)`` of the selection."""
    todo, total = [], 0
    for ti, t in enumerate(tasks):
        for pi, p in enumerate(t.problems):
            total += n
            miss = [i for i in range(n) if (t.name, str(p.id), i) not in done]
            if miss:
                todo.append((ti, pi, miss))
    return todo, total


def evaluate(cfg: EvalConfig, *, backend: Backend | None = None, progress: bool = True,
             judge: JudgeConfig | None = None) -> dict:
    """Run (or resume) an evaluation and return the results dict (also written to results.json).

    Args:
        cfg: the configuration.
        backend: an already built backend (tests, benchmarks); default :func:`harness.backends.make_backend`,
            built only when some sample is missing. A backend passed in is not closed here.
        progress: show a tqdm bar (samples done, in flight, tokens/s, ETA).
        judge: then send the samples the rules could not decide to this judge (:func:`harness.judge.judge_run`);
            the run gets a ``judged`` column and the manifest a ``judge`` block.

    Returns:
        The :func:`harness.reports.summarize` dict plus ``"output_dir"`` and ``"generation"``
        (this invocation's generated samples, tokens, seconds), and with a judge ``"judge_pass"``
        (this invocation's judged samples, requests, tokens).

    Raises:
        ConfigError: bad flags, or ``output_dir`` holds a run with a different config.
        DataError: missing/empty/malformed task data.
        BackendError: the backend cannot load the model or reach its server (samples already finished stay
            recorded).
    """
    from harness.io import atomic_write_json
    from harness.progress import StreamProgress
    from harness.reports import summarize

    tasks = resolve_tasks(cfg)
    out = Path(cfg.output_dir or default_output_dir(cfg.model, cfg.backend, cfg.base_url))
    manifest = build_manifest(cfg, tasks)
    own_backend = backend is None
    gen = {"samples": 0, "tokens": 0, "seconds": 0.0}
    rundir = RunDir(out, what="`harness eval`", fix="use a new --output-dir")
    samples_log = rundir.log(SAMPLES)
    server = contextlib.ExitStack()  # the --serve-cmd server, stopped after the backend is closed
    try:
        with rundir, server, samples_log:
            run = load_run(out, require_manifest=False)
            has_work = (out / SAMPLES).is_file() and (out / SAMPLES).stat().st_size > 0
            manifest = rundir.resume(manifest, has_work=has_work, write=False, accept=_accept_larger_limit(out),
                                     rebuild=lambda: _samples_mismatch(run, tasks, cfg))
            todo, total = _missing(tasks, set(run.by_key()), cfg.n)
            n_missing = sum(len(m) for _, _, m in todo)
            if run.n_bad_lines:
                log.warning("%s: ignored %d malformed line(s) (no sample can be read from them); %s", out / SAMPLES,
                            run.n_bad_lines, f"{n_missing} missing sample(s) are generated now" if n_missing
                            else "no sample is missing")
            log.info("%s: %d of %d samples done, %d to generate", out, total - n_missing, total, n_missing)
            if todo and backend is None:
                base_url = cfg.base_url
                if cfg.serve_cmd is not None:
                    from harness.servecmd import serving

                    base_url = (server.enter_context(serving(cfg.serve_cmd, cfg.model, log_path=out / SERVER_LOG,
                                                             timeout_s=cfg.serve_timeout)),)
                backend = make_backend(cfg.backend, model=cfg.model, base_url=base_url, window=cfg.window,
                                       request_timeout=cfg.request_timeout, batch_size=cfg.batch_size,
                                       extra=dict(cfg.backend_kwargs))
            if todo and judge is None:  # new samples no judge sees: the run's judged column would not cover them
                manifest = {k: v for k, v in manifest.items() if k != "judge"}
            write_manifest(out, manifest)  # after the model loaded: a mistyped --model leaves no manifest
            if todo:
                with StreamProgress(total=total, initial=total - n_missing, unit="sample", desc="eval",
                                    enabled=progress) as bar:
                    assert backend is not None  # made above when anything is left to do
                    _generate(cfg, tasks, todo, backend, samples_log, bar, gen)
            if judge is not None:
                samples_log.flush()
                judged = judge_run(out, judge, {(t.name, str(p.id)): p.question for t in tasks for p in t.problems},
                                   {t.name: t.rules.family for t in tasks})
                write_manifest(out, {**manifest, "judge": judge.describe()})
        results = summarize(load_run(out))
        atomic_write_json(out / RESULTS, results)
    finally:
        if own_backend and backend is not None:
            close = getattr(backend, "close", None)
            if close is not None:
                close()
    results = dict(results)
    results["output_dir"] = str(out)
    results["generation"] = {
        "samples": gen["samples"], "tokens": gen["tokens"], "seconds": round(gen["seconds"], 4),
        "tokens_per_s": round(gen["tokens"] / gen["seconds"], 2) if gen["seconds"] > 0 else None,
    }
    if judge is not None:
        results["judge_pass"] = judged.to_dict()
    return results


def _generate(cfg: EvalConfig, tasks: Sequence[ResolvedTask], todo: list[tuple[int, int, list[int]]],
              backend: Backend, samples_log: ResumableLog, bar: Any, gen: dict) -> None:
    """Stream the missing samples through ``backend``; grade and queue each one as it finishes.

    ``gen_s`` of a record is its share of the wall time since the previous result, so that the
    ``gen_s`` of a run sum to its generation wall time (tokens/s = sum tokens / sum gen_s).

    Raises:
        BackendError: from the backend, or a result without ``n`` generations (never recorded).
    """
    chat = _use_chat(cfg, backend)
    params = [SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                             n=cfg.n, seed=cfg.seed, stop=tuple(t.prompt.stop)) for t in tasks]

    def requests() -> Iterator[Request]:
        for ti, pi, miss in todo:
            t = tasks[ti]
            rendered = t.prompt.render(t.problems[pi].question, cfg.num_fewshot)
            bar.issued(1)
            yield Request((ti, pi, tuple(miss)), rendered.as_input(chat), params[ti])

    t0 = last = time.perf_counter()
    try:
        for req, gens in stream(backend, requests(), window=cfg.window):
            ti, pi, miss = cast(tuple[int, int, tuple[int, ...]], req.key)
            if len(gens) < cfg.n:
                raise BackendError(f"expected {cfg.n} generation(s) from backend {cfg.backend!r} for one prompt, "
                                   f"found {len(gens)}; nothing was recorded for it (a backend bug).")
            now = time.perf_counter()
            per, last = (now - last) / len(miss), now
            sent = _sent_text(backend, req.prompt)
            recs = [make_record(tasks[ti], tasks[ti].problems[pi], i, sent, gens[i], per) for i in miss]
            samples_log.add(recs)
            tokens = sum(int(g.tokens) for g in gens[: cfg.n])
            gen["samples"] += len(recs)
            gen["tokens"] += tokens
            bar.finished(len(recs), tokens)
    finally:
        gen["seconds"] = time.perf_counter() - t0


def config_from_manifest_without_shard(manifest: Mapping) -> dict:
    """A manifest's hashed config with ``shard`` removed (what shards of one evaluation share)."""
    cfg = dict(manifest.get("config") or {})
    cfg.pop("shard", None)
    return cfg


def merge_runs(out_dir: str | os.PathLike, run_dirs: Sequence[str | os.PathLike]) -> dict:
    """Combine shard run directories (same config except ``shard``) into one run directory.

    Identical duplicate samples are kept once; duplicates whose outputs or verdicts disagree are refused.
    The merged manifest has ``shard: null`` and the config hash of the unsharded run, so running
    ``harness eval`` with that config into ``out_dir`` resumes it (fills any missing problems).

    Returns:
        ``{"samples": int, "missing": {task: [ids]}, "results": summarize(...)}`` where ``missing``
        lists problems of the unsharded selection that no shard has.

    Raises:
        ConfigError: configs differ, samples disagree, or ``out_dir`` already holds samples.
    """
    from harness.io import atomic_write_json, write_jsonl
    from harness.reports import summarize

    if not run_dirs:
        raise ConfigError("harness merge needs at least one run directory to merge.")
    runs = [load_run(d) for d in run_dirs]
    base = config_from_manifest_without_shard(runs[0].manifest)
    if not base:
        raise ConfigError(f"{runs[0].path}/{MANIFEST} has no 'config'; it was not written by `harness eval`.")
    for r in runs[1:]:
        other = config_from_manifest_without_shard(r.manifest)
        if other != base:
            raise ConfigError(
                f"Cannot merge {r.path} with {runs[0].path}: configs differ in "
                f"{'; '.join(diff_fields(base, other))}. Merge only shards of one evaluation."
            )
    out = Path(out_dir)
    if (out / SAMPLES).exists() and (out / SAMPLES).stat().st_size > 0:
        raise ConfigError(f"{out / SAMPLES} already exists; merge into a new directory.")
    merged: dict[tuple[str, str, int], dict] = {}
    verdict_keys = ("output", "correct_strict", "correct_flexible")
    for r in runs:
        for s in r.samples:
            k = sample_key(s)
            if k in merged:
                if any(merged[k].get(x) != s.get(x) for x in verdict_keys):
                    raise ConfigError(
                        f"Sample {k} appears in more than one run with different outputs/verdicts "
                        f"(one is in {r.path}); the runs overlap and disagree, refusing to merge."
                    )
                continue
            merged[k] = s
    hc = dict(base)
    hc["shard"] = None
    manifest = dict(runs[0].manifest)
    manifest.update(shard=None, config=hc, config_hash=config_hash(hc), merged_from=[str(r.path) for r in runs],
                    date=now_iso())
    # Which problems of the unsharded selection are missing? The shards' manifest is enough
    # to list the expected ids only when the data is available; report per shard coverage instead.
    missing = _missing_problems(hc, merged)
    out.mkdir(parents=True, exist_ok=True)
    order = sorted(merged, key=lambda k: (k[0], _natural(k[1]), k[2]))
    write_manifest(out, manifest)
    write_jsonl(out / SAMPLES, (merged[k] for k in order))
    results = summarize(load_run(out))
    atomic_write_json(out / RESULTS, results)
    return {"samples": len(merged), "missing": missing, "results": results}


def _natural(s: str) -> tuple:
    import re

    return tuple(int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s))


def _missing_problems(hc: Mapping, merged: Mapping[tuple[str, str, int], dict]) -> dict[str, list[str]]:
    """Problem ids (of the registered tasks, with the run's limit) absent from ``merged``; best effort."""
    n = int((hc.get("sampling") or {}).get("n", 1))
    missing: dict[str, list[str]] = {}
    for name in hc.get("tasks") or {}:
        try:
            problems = load_task(name, hc.get("split", "test"))
        except HarnessError:
            log.info("merge: cannot load task %r to list missing problems", name)
            continue
        if hc.get("limit"):
            problems = problems[: int(hc["limit"])]
        miss = [p.id for p in problems if any((name, str(p.id), i) not in merged for i in range(n))]
        if miss:
            missing[name] = miss
    return missing
