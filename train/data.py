"""SFT data: JSONL loading and checking, tokenization with prompt masking, packing, collators.

Row format (what ``synth`` writes)::

    {"prompt": "<rendered with a harness.prompts template>", "response": "... \\boxed{4}$.", ...}
    {"question": "What is 2+2?", "response": "...", "prompt_name": "qwen-boxed"}   # also accepted
    {"question": ..., "answer": ...}, {"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}

The shape is detected by :func:`harness.sftrows.sft_fields` (the one detector, shared with ``harness clean``).
Rows without a rendered ``prompt`` (a bare question, or the first user message) are rendered with
``harness.prompts.get_prompt(prompt_name).render(question).text`` (default ``qwen-boxed``), so a trained model
is evaluated in exactly the format it learned; the response is ``response``, ``answer`` or the last
assistant message.

Decisions (documented in train/README.md):

- A missing field, an empty file or a malformed line is an error (one line, with the file and line).
- A response with no final answer that ``harness.answers.extract_answer`` can find (strict mode,
  MATH rules, then GSM8K rules) is skipped and counted, with a warning; ``strict_data=True`` makes it
  an error instead. Teaching a model to end without an extractable answer costs strict-mode accuracy.
- An example longer than ``max_length`` tokens is skipped and counted (truncating it would cut the
  final answer off), never silently truncated.
- Training text is ``prompt`` + ``response`` (a single space is inserted when neither side has
  whitespace at the junction) + EOS; labels are -100 on every prompt token and on padding.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.io import iter_jsonl

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
DEFAULT_PROMPT = "qwen-boxed"


@dataclass(frozen=True)
class SFTRow:
    """One usable (prompt, response) pair and where it came from (``path:line``)."""

    prompt: str
    response: str
    source: str


@dataclass
class DataStats:
    """Counts for one data file: rows read, used, and skipped by reason."""

    path: str
    rows: int = 0
    used: int = 0
    no_answer: int = 0
    too_long: int = 0
    tokens: int = 0
    response_tokens: int = 0
    skipped_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows": self.rows,
            "used": self.used,
            "skipped_no_answer": self.no_answer,
            "skipped_too_long": self.too_long,
            "tokens": self.tokens,
            "response_tokens": self.response_tokens,
        }


def has_final_answer(response: str) -> bool:
    """Whether the strict extractor finds a final answer (MATH rules, then GSM8K rules)."""
    from harness.answers import extract_answer

    return any(extract_answer(response, task, "strict") is not None for task in ("math", "gsm8k"))


def read_sft_rows(path: str | Path, *, strict: bool = False) -> tuple[list[SFTRow], DataStats]:
    """Read and check an SFT JSONL file.

    Args:
        path: the JSONL file.
        strict: raise on a response with no extractable final answer instead of skipping it.

    Returns:
        The usable rows, and their :class:`DataStats` (``used`` is filled later by tokenization).

    Raises:
        DataError: missing file, malformed line, missing/empty fields, an empty file, an unknown
            ``prompt_name``, or (``strict``) a response without a final answer.
    """
    from harness.errors import HarnessError
    from harness.prompts import get_prompt
    from harness.sftrows import SHAPES, sft_fields

    stats = DataStats(path=str(path))
    rows: list[SFTRow] = []
    for lineno, obj in enumerate(iter_jsonl(path), 1):
        stats.rows += 1
        where = f"{path}: row {lineno}"
        f = sft_fields(obj, where)
        resp = f.response
        if resp is None or not resp.strip():
            raise DataError(
                f"{where}: expected a non-empty string field 'response' (or 'answer', or an assistant message), "
                f"found keys {sorted(obj)}. Each SFT row needs {SHAPES}."
            )
        prompt = f.prompt
        if prompt is None:  # a bare question (or the user message): rendered with the row's prompt template
            try:
                prompt = get_prompt(obj.get("prompt_name") or DEFAULT_PROMPT).render(f.problem).text
            except HarnessError as e:
                raise DataError(f"{where}: {e}") from None
        if not has_final_answer(resp):
            if strict:
                raise DataError(
                    f"{where}: the response has no final answer the strict grader can extract "
                    f"(ends {resp[-60:]!r}). Fix the row, or drop --strict-data to skip such rows."
                )
            stats.no_answer += 1
            stats.skipped_examples.append(where)
            continue
        rows.append(SFTRow(prompt=prompt, response=resp, source=where))
    if stats.rows == 0:
        raise DataError(f"{path}: expected SFT rows, found an empty file. Point --data at a non-empty JSONL file.")
    if stats.no_answer:
        log.warning(
            "%s: skipped %d of %d rows whose response has no extractable final answer (first: %s)",
            path, stats.no_answer, stats.rows, stats.skipped_examples[0],
        )
    return rows, stats


def join_prompt_response(prompt: str, response: str) -> tuple[str, str]:
    """The prompt, and the response text as it follows the prompt (with a joining space if needed)."""
    if prompt and response and not prompt[-1].isspace() and not response[0].isspace():
        response = " " + response
    return prompt, response


def tokenize_example(tokenizer, prompt: str, response: str) -> dict[str, list[int]]:
    """Token ids and labels for one example; labels are -100 on the prompt.

    The prompt is tokenized on its own (with the tokenizer's special tokens, e.g. BOS), as at
    evaluation time; the response follows without special tokens and ends with EOS.

    Returns:
        ``{"input_ids": [...], "labels": [...]}`` of equal length.
    """
    prompt, response = join_prompt_response(prompt, response)
    p_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    r_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        r_ids = r_ids + [tokenizer.eos_token_id]
    return {"input_ids": p_ids + r_ids, "labels": [IGNORE_INDEX] * len(p_ids) + list(r_ids)}


def load_sft_dataset(
    path: str | Path, tokenizer, *, max_length: int, strict: bool = False
) -> tuple[list[dict[str, list[int]]], DataStats]:
    """Read, check and tokenize one SFT file.

    Returns:
        A list of tokenized examples and the file's :class:`DataStats`.

    Raises:
        DataError: see :func:`read_sft_rows`; also when no example fits in ``max_length``.
    """
    rows, stats = read_sft_rows(path, strict=strict)
    examples = []
    for row in rows:
        ex = tokenize_example(tokenizer, row.prompt, row.response)
        if len(ex["input_ids"]) > max_length:
            stats.too_long += 1
            continue
        examples.append(ex)
        stats.tokens += len(ex["input_ids"])
        stats.response_tokens += sum(1 for t in ex["labels"] if t != IGNORE_INDEX)
    stats.used = len(examples)
    if stats.too_long:
        log.warning("%s: skipped %d examples longer than max_length %d tokens", path, stats.too_long, max_length)
    if not examples:
        raise DataError(
            f"{path}: no usable examples ({stats.rows} rows: {stats.no_answer} without a final answer, "
            f"{stats.too_long} longer than --max-length {max_length}). Fix the data or raise --max-length."
        )
    return examples, stats


def pack_examples(examples: Sequence[dict[str, list[int]]], max_length: int) -> list[dict[str, list[int]]]:
    """Pack examples into sequences of at most ``max_length`` tokens (best-fit decreasing).

    Each pack carries ``position_ids`` that restart at 0 for every example; with no attention mask,
    transformers derives a block-diagonal causal mask from them (``find_packed_sequence_indices``;
    flash-attention uses them as sequence boundaries), so examples do not attend to each other.
    Every example starts with a masked prompt token, so no loss crosses a boundary.

    Returns:
        Packs ``{"input_ids", "labels", "position_ids"}``, in a deterministic order.
    """
    order = sorted(range(len(examples)), key=lambda i: (-len(examples[i]["input_ids"]), i))
    packs: list[list[int]] = []
    free: list[tuple[int, int]] = []  # sorted (remaining capacity, pack index)
    for i in order:
        n = len(examples[i]["input_ids"])
        j = bisect.bisect_left(free, (n, -1))
        if j < len(free):
            cap, k = free.pop(j)
            packs[k].append(i)
            bisect.insort(free, (cap - n, k))
        else:
            packs.append([i])
            bisect.insort(free, (max_length - n, len(packs) - 1))
    out = []
    for members in packs:
        ids: list[int] = []
        labels: list[int] = []
        pos: list[int] = []
        for i in sorted(members):
            ex = examples[i]
            ids += ex["input_ids"]
            labels += ex["labels"]
            pos += list(range(len(ex["input_ids"])))
        out.append({"input_ids": ids, "labels": labels, "position_ids": pos})
    return out


def _pad_ids_labels(batch: Sequence[dict[str, list[int]]], pad_token_id: int):
    """Right-pad ``input_ids`` with ``pad_token_id`` and ``labels`` with -100 to the longest row."""
    import torch

    n = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), n), pad_token_id, dtype=torch.long)
    labels = torch.full((len(batch), n), IGNORE_INDEX, dtype=torch.long)
    for r, b in enumerate(batch):
        k = len(b["input_ids"])
        ids[r, :k] = torch.tensor(b["input_ids"])
        labels[r, :k] = torch.tensor(b["labels"])
    return ids, labels


class PadCollator:
    """Right-pads a batch of examples: pad id on inputs, -100 on labels, an attention mask."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, batch: Sequence[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        ids, labels = _pad_ids_labels(batch, self.pad_token_id)
        mask = torch.zeros_like(ids)
        for r, b in enumerate(batch):
            mask[r, : len(b["input_ids"])] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


class PackCollator:
    """Batches packs with ``position_ids`` and no attention mask; padding becomes its own masked segment.

    Also passes ``use_cache=False``: when the model builds a KV cache, transformers does not derive
    the block-diagonal mask from ``position_ids`` and examples would attend to each other.
    """

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, batch: Sequence[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        ids, labels = _pad_ids_labels(batch, self.pad_token_id)
        n = ids.shape[1]
        pos = torch.zeros_like(ids)
        for r, b in enumerate(batch):
            k = len(b["input_ids"])
            pos[r, :k] = torch.tensor(b["position_ids"])
            pos[r, k:] = torch.arange(n - k)
        # use_cache=False: with a KV cache transformers skips the packed-sequence mask (masking_utils).
        return {"input_ids": ids, "labels": labels, "position_ids": pos, "use_cache": False}
