"""Variable-length (per-example) attention for packed training sequences, on any device.

A pack holds several examples one after another, with ``position_ids`` restarting at 0 at each
example. transformers' ``sdpa`` path turns that into a dense block-diagonal ``L x L`` mask, so every
pack costs full quadratic attention over the whole pack (and, on CPU, keeps an ``L x L`` weight matrix
per head for the backward pass). Flash-attention's varlen kernels avoid that on GPUs; this module does
the same with plain ``torch.nn.functional.scaled_dot_product_attention``: it cuts the pack at the
example boundaries and runs causal attention on each example alone (``is_causal=True``, no mask), so
attention work is the sum of the examples' own ``n^2`` and nothing crosses a boundary.

It is registered with transformers' ``AttentionInterface`` under :data:`VARLEN_SDPA`. That name has no
mask function, so transformers builds no mask at all and passes ``position_ids`` through to the
attention call, where the boundaries are read. Only packed training uses it (no attention mask, no
KV cache); anything else is refused with one clear error rather than silently attending wrongly.

Examples:
    >>> import torch
    >>> segment_bounds(torch.tensor([0, 1, 2, 0, 1, 0]))
    [(0, 3), (3, 5), (5, 6)]
"""

from __future__ import annotations

import logging
from typing import Any

from harness.errors import ConfigError

log = logging.getLogger(__name__)

#: The attention implementation name registered with transformers.
VARLEN_SDPA = "sdpa_varlen"


def segment_bounds(position_ids) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` spans of the examples in one packed row.

    A new example starts wherever a position is not the previous position + 1 (as in
    ``transformers.masking_utils.find_packed_sequence_indices``).

    Args:
        position_ids: a 1-D integer tensor (one row).

    Returns:
        The spans, in order, covering the whole row.
    """
    import torch

    n = int(position_ids.shape[0])
    if n == 0:
        return []
    brk = torch.nonzero(position_ids[1:] != position_ids[:-1] + 1).flatten().add_(1).tolist()
    starts = [0, *brk]
    return list(zip(starts, [*brk, n]))


def varlen_sdpa_attention_forward(
    module: Any,
    query,
    key,
    value,
    attention_mask,
    dropout: float = 0.0,
    scaling: float | None = None,
    position_ids=None,
    **kwargs: Any,
):
    """Causal attention within each example of packed rows (an ``AttentionInterface`` function).

    Args:
        module: the attention module (unused; part of the interface).
        query: ``(batch, heads, length, head_dim)``.
        key: ``(batch, kv_heads, length, head_dim)``; grouped-query heads are repeated to match.
        value: like ``key``.
        attention_mask: must be ``None`` (packed rows carry their boundaries in ``position_ids``).
        dropout: attention dropout probability.
        scaling: softmax scale (default ``head_dim ** -0.5``).
        position_ids: ``(batch or 1, length)``; an example starts where positions do not increase by 1.

    Returns:
        ``(output of shape (batch, length, heads, head_dim), None)``, as transformers expects.

    Raises:
        ConfigError: called with an attention mask, without ``position_ids``, or with a KV cache
            (query and key lengths differ): this implementation is for packed training only.
    """
    import torch
    import torch.nn.functional as F

    if attention_mask is not None or position_ids is None or query.shape[2] != key.shape[2]:
        raise ConfigError(
            f"Attention '{VARLEN_SDPA}' is for packed training only (position_ids, no attention mask, no KV "
            f"cache); found mask={attention_mask is not None}, position_ids={position_ids is not None}. "
            "Set the model's attention implementation back to 'sdpa' for other uses."
        )
    bsz, n_heads = query.shape[:2]
    n_rep = n_heads // key.shape[1]
    if n_rep > 1:
        key = key.repeat_interleave(n_rep, dim=1)
        value = value.repeat_interleave(n_rep, dim=1)
    pos = position_ids.expand(bsz, -1)
    rows = []
    # torch.split (not indexing): its backward concatenates the pieces' gradients once, where each
    # slice's backward would allocate and fill a full-size zero tensor per example.
    for b, (q, k, v) in enumerate(zip(query.split(1), key.split(1), value.split(1))):
        sizes = [e - s for s, e in segment_bounds(pos[b])]
        parts = [
            F.scaled_dot_product_attention(qs, ks, vs, dropout_p=dropout, is_causal=True, scale=scaling)
            for qs, ks, vs in zip(q.split(sizes, dim=2), k.split(sizes, dim=2), v.split(sizes, dim=2))
        ]
        rows.append(parts[0] if len(parts) == 1 else torch.cat(parts, dim=2))
    out = rows[0] if bsz == 1 else torch.cat(rows, dim=0)
    return out.transpose(1, 2).contiguous(), None


def register() -> str:
    """Register :func:`varlen_sdpa_attention_forward` with transformers (idempotent).

    Returns:
        The implementation name, :data:`VARLEN_SDPA`.
    """
    from transformers import AttentionInterface

    AttentionInterface.register(VARLEN_SDPA, varlen_sdpa_attention_forward)
    return VARLEN_SDPA


def use_packed_attention(model) -> str | None:
    """Switch ``model`` to per-example attention for packed training, unless it already runs a
    flash-attention kernel (which reads the same boundaries from ``position_ids`` natively).

    Returns:
        The previous implementation name to restore before saving, or None when nothing changed.
    """
    current = getattr(model.config, "_attn_implementation", None) or "sdpa"
    if current.startswith("flash_attention") or current == VARLEN_SDPA:
        return None
    register()
    model.set_attn_implementation(VARLEN_SDPA)
    log.info("packing: attention %s -> %s (per-example causal attention)", current, VARLEN_SDPA)
    return current
