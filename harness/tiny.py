"""Tiny real checkpoints built locally (no hub): a small ``LlamaForCausalLM`` plus a character-level
tokenizer, saved with ``save_pretrained``. Tests and the CPU demo load them through the same code
paths as a real checkpoint.

Examples:
    >>> path = build_tiny_checkpoint("/tmp/tiny")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterable
from pathlib import Path

SPECIAL = ["<pad>", "<s>", "</s>", "<unk>"]
#: Characters the tokenizer knows: printable ASCII plus newline and tab. Others map to <unk>.
CHARS = sorted(set(string.printable) - set("\x0b\x0c\r"))

CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant: {% endif %}"
)


def _wrap(tk, chat_template: bool):
    """A ``tokenizers.Tokenizer`` as a left-padding ``PreTrainedTokenizerFast`` with our special tokens."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        padding_side="left",
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tokenizer(*, chat_template: bool = False):
    """A character-level ``PreTrainedTokenizerFast`` built from scratch."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {tok: i for i, tok in enumerate(SPECIAL + CHARS)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tk.decoder = decoders.Fuse()
    return _wrap(tk, chat_template)


def build_bpe_tokenizer(corpus: Iterable[str], *, vocab_size: int = 512, chat_template: bool = False):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``corpus`` (digits always split one per token).

    Byte-level, so any text round-trips; trained on the texts a model will see, so prompts are ~3x
    shorter than with :func:`build_tokenizer` (the CPU demo uses this).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(list(corpus), trainer)
    return _wrap(tk, chat_template)


def build_tiny_checkpoint(
    path: str | os.PathLike,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    intermediate_size: int = 128,
    max_position_embeddings: int = 2048,
    seed: int = 0,
    chat_template: bool = False,
    corpus: Iterable[str] | None = None,
    vocab_size: int = 512,
) -> Path:
    """Build, randomly initialise (seeded) and save a tiny Llama checkpoint with its tokenizer.

    The tokenizer is character-level, or a byte-level BPE trained on ``corpus`` when one is given.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if corpus is not None:
        tok = build_bpe_tokenizer(corpus, vocab_size=vocab_size, chat_template=chat_template)
    else:
        tok = build_tokenizer(chat_template=chat_template)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
