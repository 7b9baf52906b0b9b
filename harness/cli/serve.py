"""``harness serve``: serve a checkpoint over an OpenAI-compatible HTTP API (through the ``hf`` backend).
Every flag is a field of :class:`harness.serve.ServeConfig`."""

from __future__ import annotations

import click


def _serve_options(f):
    from harness.options import click_options
    from harness.serve import ServeConfig

    return click_options(ServeConfig)(f)


@click.command("serve")
@_serve_options
def serve(**flags) -> None:
    """Serve MODEL at /v1/completions and /v1/chat/completions (OpenAI-compatible: streaming, logprobs,
    echo, token-id prompts; see docs/serving.md).

    \b
    Example:
        harness serve --model ./ckpt --port 8000
        harness eval --backend openai --model ./ckpt --base-url http://127.0.0.1:8000/v1 --tasks gsm8k
        HARNESS_API_KEY=... harness serve --model ./ckpt --host 0.0.0.0   # others need the key
    """
    import os
    import sys
    from pathlib import Path

    from harness.backends.hf import HFBackend
    from harness.errors import HarnessError
    from harness.options import from_mapping, given
    from harness.serve import ServeConfig, check_bind, make_server, serve_until_interrupted

    values = given(flags)
    if values.get("api_key") is None and os.environ.get("HARNESS_API_KEY"):
        values["api_key"] = os.environ["HARNESS_API_KEY"]
    cfg = from_mapping(ServeConfig, values, where="flags")
    check_bind(cfg.host, cfg.api_key)
    template = None
    if cfg.chat_template is not None:
        try:
            template = Path(cfg.chat_template).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise HarnessError(f"expected a Jinja chat template file at --chat-template {cfg.chat_template}, "
                               f"found one that cannot be read ({e}); pass a readable text file.") from None
    try:  # bind first, so a busy port fails before a long model load
        server = make_server(None, cfg)
    except OSError as e:
        raise HarnessError(
            f"expected to listen on {cfg.host}:{cfg.port}, found {e.strerror or e}; "
            "pick another --port (0 picks a free one)."
        ) from None
    try:
        backend = HFBackend(model=cfg.model, device=cfg.device, dtype=cfg.dtype, batch_size=cfg.batch_size,
                            trust_remote_code=cfg.trust_remote_code)
    except BaseException:
        server.server_close()
        raise
    if template is not None:
        backend.tokenizer.chat_template = template
        backend.has_chat_template = True
    server.backend = backend
    click.echo(f"Serving {cfg.name} at {server.url}")
    sys.stdout.flush()
    try:
        serve_until_interrupted(server)
    finally:
        backend.close()
