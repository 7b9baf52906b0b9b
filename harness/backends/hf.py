"""The ``hf`` backend: batched ``transformers`` generation on CPU or GPU.

Prompts are tokenized once, sorted by length (so a batch wastes little padding), padded on the
LEFT, generated with ``model.generate`` ``batch_size`` at a time and put back in input order
(:meth:`HFBackend.generate`), or yielded batch by batch as they finish (:meth:`HFBackend.stream`,
what the runners use: the window of requests is sorted by length together). Chat prompts go through the
tokenizer's chat template when it has one, else :func:`messages_to_text`. Sampling is exactly
``temperature`` + ``top_p`` (top-k and repetition penalty from the checkpoint's
``generation_config.json`` are switched off, as in vLLM and OpenAI-compatible servers), so
the same :class:`SamplingParams` mean the same thing on every backend.

Examples:
    >>> from harness.backends.hf import HFBackend  # doctest: +SKIP
    >>> be = HFBackend(model="./ckpt", batch_size=8)  # doctest: +SKIP
    >>> be.generate(["1+1="], SamplingParams(max_new_tokens=8))[0][0].text  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from harness.backends import base
from harness.backends.base import Generation, PromptInput, Request, SamplingParams, messages_to_text
from harness.errors import BackendError
from harness.io import hub_reachable

log = logging.getLogger(__name__)

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def _looks_local(model: str) -> bool:
    """True when ``model`` is meant as a path rather than a hub id (``org/name``)."""
    return os.path.exists(model) or model.startswith((".", "/", "~")) or model.count("/") > 1


def check_checkpoint_dir(path: Path) -> None:
    """Raise one clear :class:`BackendError` unless ``path`` holds a loadable checkpoint.

    Args:
        path: a local directory.

    Raises:
        BackendError: not a directory, no/garbage ``config.json``, or no weight files.
    """
    if not path.is_dir():
        raise BackendError(
            f"expected a checkpoint directory with config.json at {path}, found "
            f"{'a file' if path.exists() else 'nothing'}; pass a directory saved with save_pretrained "
            "or a hub id (hub ids need network access)."
        )
    cfg = path / "config.json"
    if not cfg.is_file():
        found = sorted(p.name for p in path.iterdir())[:8]
        raise BackendError(
            f"expected a checkpoint directory with config.json at {path}, "
            f"found {found or 'an empty directory'}; "
            "pass a directory saved with model.save_pretrained()."
        )
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BackendError(
            f"expected valid JSON in {cfg}, found a file that does not parse ({e}); re-save the checkpoint."
        ) from None
    if not isinstance(data, dict) or "model_type" not in data:
        raise BackendError(
            f"expected a transformers config with a 'model_type' key in {cfg}, found "
            f"{type(data).__name__} with keys {sorted(data)[:6] if isinstance(data, dict) else '-'}; "
            "re-save the checkpoint with save_pretrained."
        )
    if not any((path / w).is_file() for w in WEIGHT_FILES) and not list(path.glob("*.safetensors")):
        raise BackendError(
            f"expected model weights ({', '.join(WEIGHT_FILES[::2])}) in {path}, found none; "
            "the checkpoint is incomplete: re-save it with model.save_pretrained()."
        )


def resolve_dtype(dtype: str, device: str):
    """Map ``"auto"``/a name to a torch dtype: bf16 on CUDA where supported (else fp16), fp32 on CPU.

    Args:
        dtype: "auto", "bfloat16"/"bf16", "float16"/"fp16", "float32"/"fp32".
        device: the torch device string the model goes to.

    Returns:
        a ``torch.dtype``.

    Raises:
        BackendError: an unknown dtype name.
    """
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    names = {
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
        "half": torch.float16,
        "float32": torch.float32,
        "fp32": torch.float32,
        "float": torch.float32,
    }
    if dtype not in names:
        from harness.errors import did_you_mean

        raise BackendError(did_you_mean(dtype, ["auto", "bfloat16", "float16", "float32"], "dtype"))
    return names[dtype]


class HFBackend:
    """Batched ``transformers`` generation.

    Args:
        model: a local checkpoint directory (``config.json`` + weights + tokenizer) or a hub id.
        device: "auto" (CUDA if available, else CPU), "cpu", "cuda", "cuda:1", ...
        dtype: "auto" (bf16 on CUDA where supported, fp32 on CPU) or a dtype name.
        batch_size: prompts per ``model.generate`` call (each yields ``n`` sequences).
        trust_remote_code: passed to ``from_pretrained``.

    Raises:
        BackendError: the model cannot be found or loaded (one line, with the fix).
    """

    name = "hf"

    def __init__(
        self,
        *,
        model: str | os.PathLike,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        trust_remote_code: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise BackendError(f"expected batch_size >= 1, found {batch_size}; pass --batch-size 1 or more.")
        self.model_name = str(model)
        self.batch_size = batch_size
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.dtype = resolve_dtype(dtype, device)
        src = str(model)
        offline = False
        if _looks_local(src):
            src = str(Path(src).expanduser())
            check_checkpoint_dir(Path(src))
        else:
            offline = not hub_reachable()  # offline: use the local HF cache only, no slow retries
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                src, trust_remote_code=trust_remote_code, local_files_only=offline
            )
            self.model = AutoModelForCausalLM.from_pretrained(
                src, dtype=self.dtype, trust_remote_code=trust_remote_code, local_files_only=offline
            )
        except BackendError:
            raise
        except Exception as e:  # noqa: BLE001 - transformers raises OSError/ValueError/KeyError/... for a bad checkpoint
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if offline:
                raise BackendError(
                    f"expected a checkpoint directory with config.json, found {src!r}: "
                    "no such directory, and "
                    "the hub is unreachable and has no cached copy; pass a local directory saved with "
                    "save_pretrained (hub ids need network access)."
                ) from None
            raise BackendError(
                f"expected a checkpoint directory with config.json or a reachable hub id, found {src!r} "
                f"that could not be loaded ({type(e).__name__}: {msg}); pass a directory saved with "
                "save_pretrained (hub ids need network access)."
            ) from None
        self.model.to(device)
        self.model.eval()
        tok = self.tokenizer
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            if tok.eos_token_id is None:
                raise BackendError(
                    f"expected the tokenizer of {src} to define a pad or eos token, found neither; "
                    "set tokenizer.pad_token and re-save it."
                )
            tok.pad_token = tok.eos_token
        self.has_chat_template = bool(getattr(tok, "chat_template", None))
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = tok.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        log.info("loaded %s on %s (%s)", src, device, self.dtype)

    # -- prompts --------------------------------------------------------------------------------

    def render(self, prompt: PromptInput) -> str:
        """The exact text fed to the model for ``prompt`` (chat template applied for messages)."""
        if isinstance(prompt, str):
            return prompt
        if self.has_chat_template:
            return self.tokenizer.apply_chat_template(
                list(prompt), tokenize=False, add_generation_prompt=True
            )
        return messages_to_text(prompt)

    def encode(self, prompt: PromptInput) -> list[int]:
        """Token ids for ``prompt`` (a chat template adds its own special tokens)."""
        text = self.render(prompt)
        chat = not isinstance(prompt, str) and self.has_chat_template
        ids = self.tokenizer(text, add_special_tokens=not chat)["input_ids"]
        if not ids:  # an empty prompt: start from BOS (or EOS) so generate has a position to attend to
            start = (
                self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else min(self.eos_ids)
            )
            ids = [start]
        return ids

    def count_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` under this model's tokenizer."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # -- generation -----------------------------------------------------------------------------

    def _gen_kwargs(self, params: SamplingParams, n_seq: int) -> dict:
        sample = params.temperature > 0
        kw: dict = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": sample,
            "num_return_sequences": n_seq,
            "pad_token_id": self.tokenizer.pad_token_id,
            "repetition_penalty": 1.0,
        }
        if sample:
            kw.update(temperature=params.temperature, top_p=params.top_p, top_k=0)
        else:
            kw.update(temperature=None, top_p=None, top_k=None)
        if params.stop:
            kw.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        return kw

    def _finish(self, ids: list[int], n_prompt: int, params: SamplingParams) -> Generation:
        """Turn one row of generated ids into a :class:`Generation`."""
        pad = self.tokenizer.pad_token_id
        n = len(ids)
        hit_eos = False
        for i, t in enumerate(ids):
            if t in self.eos_ids:
                n, hit_eos = i + 1, True
                break
        if not hit_eos and pad not in self.eos_ids:
            while n and ids[n - 1] == pad:  # rows that stopped early (stop string) are pad-filled
                n -= 1
        text = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
        cut = min((p for p in (text.find(s) for s in params.stop) if p >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
        stopped = hit_eos or cut >= 0 or n < params.max_new_tokens
        return Generation(
            text=text,
            tokens=n,
            prompt_tokens=n_prompt,
            finish_reason="stop" if stopped else "length",
            meta={"token_ids": ids[:n]},
        )

    @property
    def context_length(self) -> int | None:
        """The model's context in tokens (``max_position_embeddings``), or None when its config has none."""
        limit = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        return limit if isinstance(limit, int) and limit > 0 else None

    def check_context(self, encoded: Sequence[list[int]], params: SamplingParams) -> None:
        """Raise one clear :class:`BackendError` when a prompt plus ``max_new_tokens`` cannot fit the
        model's context (``max_position_embeddings``).

        Raises:
            BackendError: the longest prompt alone fills the context (the fix is another prompt or model,
                not the budget), or prompt plus budget does (the fix names the budget that fits).
        """
        limit = self.context_length
        if limit is None or not encoded:
            return
        longest = max(len(e) for e in encoded)
        if longest + params.max_new_tokens <= limit:
            return
        if longest >= limit:
            raise BackendError(
                f"this model's context ({limit} positions, max_position_embeddings) cannot hold this task's "
                f"prompts: the longest is {longest} tokens, leaving no room to generate. Use a shorter prompt "
                "(fewer --num-fewshot examples, or another --prompt), or a model with a longer context."
            )
        raise BackendError(
            f"a prompt of {longest} tokens plus --max-new-tokens {params.max_new_tokens} exceeds this model's "
            f"context ({limit} positions, max_position_embeddings). Lower --max-new-tokens to "
            f"{limit - longest} or less, or use a shorter prompt (fewer --num-fewshot examples)."
        )

    def _sorted_batches(
        self,
        encoded: Sequence[list[int]],
        params: SamplingParams,
        *,
        logprobs: int | None = None,
        on_token: Callable[[int, int, int], None] | None = None,
    ) -> Iterator[list[tuple[int, list[Generation]]]]:
        """Generate for ``encoded`` prompts longest first, ``batch_size`` per forward pass, yielding each
        batch's ``(input index, params.n generations)`` as soon as it is done.

        Args:
            encoded: prompt token ids.
            params: sampling parameters.
            logprobs: also record each generated token's log-probability and the ``logprobs`` most likely
                tokens at its step (``meta["logprobs"]``, see :meth:`generate_ids`).
            on_token: called as ``on_token(input index, sequence, token id)`` for every token as soon as
                it is generated (before the batch ends; tokens after a row's end are pad tokens).
        """
        import torch

        self.check_context(encoded, params)
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        sample = params.temperature > 0
        n_seq = params.n if sample else 1
        kwargs = self._gen_kwargs(params, n_seq)
        if logprobs is not None:
            kwargs.update(return_dict_in_generate=True, output_logits=True)
        pad = self.tokenizer.pad_token_id
        for b, start in enumerate(range(0, len(order), self.batch_size)):
            idx = order[start : start + self.batch_size]
            width = max(len(encoded[i]) for i in idx)
            input_ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids = encoded[i]
                if ids:
                    input_ids[r, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                    mask[r, width - len(ids) :] = 1
            if sample:
                torch.manual_seed(params.seed + b)
            if on_token is not None:
                kwargs["streamer"] = _RowStreamer(on_token, idx, n_seq)
            with torch.inference_mode():
                out = self.model.generate(
                    input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device), **kwargs
                )
            seqs = out.sequences if logprobs is not None else out
            rows = seqs[:, width:].tolist()
            steps = _step_logprobs(out.logits, rows, logprobs) if logprobs is not None else None
            done = []
            for r, i in enumerate(idx):
                gens = []
                for j in range(n_seq):
                    g = self._finish(rows[r * n_seq + j], len(encoded[i]), params)
                    if steps is not None:
                        g.meta["logprobs"] = steps[r * n_seq + j][: g.tokens]
                    gens.append(g)
                if not sample and params.n > 1:
                    gens = [
                        Generation(g.text, g.tokens, g.prompt_tokens, g.finish_reason, dict(g.meta))
                        for g in gens * params.n
                    ]
                done.append((i, gens))
            yield done

    def generate_ids(
        self,
        encoded: Sequence[list[int]],
        params: SamplingParams,
        *,
        logprobs: int | None = None,
        on_token: Callable[[int, int, int], None] | None = None,
    ) -> list[list[Generation]]:
        """Generate from prompts given as token ids (what ``harness serve`` calls), in input order.

        Args:
            encoded: prompt token ids (used as given: no BOS or template is added).
            params: sampling parameters.
            logprobs: when not None, each :class:`Generation` carries ``meta["token_ids"]`` (its generated
                ids) and ``meta["logprobs"]``: per generated token ``(log-probability, [(token id,
                log-probability), ...] of the logprobs most likely tokens)``, from the model's raw
                distribution (before temperature and top-p, as vLLM reports them).
            on_token: streaming hook, see :meth:`_sorted_batches`.

        Returns:
            one list of ``params.n`` generations per prompt.

        Raises:
            BackendError: a prompt (plus the budget) does not fit the model's context.
        """
        out: list[list[Generation] | None] = [None] * len(encoded)
        for batch in self._sorted_batches(encoded, params, logprobs=logprobs, on_token=on_token):
            for i, gens in batch:
                out[i] = gens
        return out  # type: ignore[return-value]

    def prompt_logprobs(
        self, encoded: Sequence[list[int]], top: int
    ) -> list[list[tuple[float, list[tuple[int, float]]] | None]]:
        """Score prompts: each token's log-probability given the tokens before it (one forward pass).

        Args:
            encoded: token ids of each prompt.
            top: how many most likely tokens to list at each position.

        Returns:
            per prompt, per token: None for the first token (nothing precedes it), else ``(log-probability,
            [(token id, log-probability), ...] of the top most likely tokens)``.
        """
        import torch

        out: list[list | None] = [None] * len(encoded)
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encoded[i]) for i in idx)
            # right padding: a causal model's positions before the padding are untouched by it
            input_ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                input_ids[r, : len(encoded[i])] = torch.tensor(encoded[i], dtype=torch.long)
                mask[r, : len(encoded[i])] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)).logits
                for r, i in enumerate(idx):
                    ids = encoded[i]
                    rows: list = [None]
                    for c in range(0, len(ids) - 1, 512):  # bounded memory: 512 positions x vocab at a time
                        part = torch.log_softmax(logits[r, c : min(c + 512, len(ids) - 1)].float(), dim=-1)
                        rows += _pick_logprobs(part, ids[c + 1 : c + 1 + part.shape[0]], top)
                    out[i] = rows
        return out  # type: ignore[return-value]

    def generate(self, prompts: Sequence[PromptInput], params: SamplingParams) -> list[list[Generation]]:
        """Generate ``params.n`` completions per prompt, returned in input order.

        Args:
            prompts: plain strings or chat messages.
            params: sampling parameters; temperature 0 is greedy (then ``n`` copies of one output).

        Returns:
            one list of ``params.n`` :class:`Generation` per prompt, in input order.

        Raises:
            BackendError: a prompt (plus the budget) does not fit the model's context.
        """
        return self.generate_ids([self.encode(p) for p in prompts], params)

    def stream(self, requests: Iterable[Request | None], *, window: int) -> Iterator[tuple[Request, list[Generation]]]:
        """Yield ``(request, generations)`` batch by batch: up to ``max(window, batch_size)`` requests are
        tokenized and sorted by length together (as lm-eval does, so batches waste little padding), then run
        ``batch_size`` per forward pass; each batch's results are yielded as soon as it is done. A ``None``
        from ``requests`` (nothing ready yet) runs what is gathered so far, then asks again.

        Raises:
            BackendError: a prompt (plus the budget) does not fit the model's context.
        """
        for chunk in base.take_windows(requests, max(window, self.batch_size)):
            for params, group in base.by_params(chunk):
                for batch in self._sorted_batches([self.encode(r.prompt) for r in group], params):
                    yield from ((group[i], gens) for i, gens in batch)

    def close(self) -> None:
        """Free the model (and GPU memory)."""
        self.model = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception as e:  # noqa: BLE001  # pragma: no cover
            log.debug("could not empty the CUDA cache: %s", e)


class _RowStreamer:
    """A ``transformers`` streamer (``put``/``end``, the interface of ``BaseStreamer``) handing each step's
    new token of every row to ``emit(input index, sequence, token id)`` (row ``r`` is sequence ``r % n_seq`` of
    input ``idx[r // n_seq]``); the first ``put`` (the prompt) is skipped."""

    def __init__(self, emit: Callable[[int, int, int], None], idx: list[int], n_seq: int) -> None:
        self.emit = emit
        self.idx = idx
        self.n_seq = n_seq
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for r, tok in enumerate(value.reshape(-1).tolist()):
            self.emit(self.idx[r // self.n_seq], r % self.n_seq, tok)

    def end(self) -> None:
        pass


def _pick_logprobs(logprobs, chosen: Sequence[int], top: int) -> list[tuple[float, list[tuple[int, float]]]]:
    """Per row of ``logprobs`` (positions x vocab): the chosen token's log-probability and the ``top`` best."""
    import torch

    picked = logprobs.gather(1, torch.tensor(list(chosen), device=logprobs.device)[:, None])[:, 0].tolist()
    if top > 0:
        vals, ids = logprobs.topk(top, dim=-1)
        tops = [list(zip(i, v)) for i, v in zip(ids.tolist(), vals.tolist())]
    else:
        tops = [[] for _ in picked]
    return list(zip(picked, tops))


def _step_logprobs(logits, rows: list[list[int]], top: int) -> list[list[tuple[float, list[tuple[int, float]]]]]:
    """Per generated row, per step: ``(log-probability of the row's token, top alternatives)`` from the raw
    per-step logits ``generate(output_logits=True)`` returns (a tuple of steps x (rows, vocab))."""
    import torch

    per_row: list[list] = [[] for _ in rows]
    for t, step in enumerate(logits):
        lp = torch.log_softmax(step.float(), dim=-1)
        for r, got in enumerate(_pick_logprobs(lp, [row[t] for row in rows], top)):
            per_row[r].append(got)
    return per_row
