"""``harness serve``: serve a checkpoint over an OpenAI-compatible HTTP API (through the ``hf`` backend)."""

from __future__ import annotations

import click


@click.command("serve")
@click.option("--model", required=True, help="Checkpoint directory (or hub id when online).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free one (the URL is printed).",
)
@click.option("--served-model-name", default=None, help="Model id clients send (default: --model as given).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ...")
@click.option(
    "--dtype", default="auto", show_default=True, help="auto (bf16 on CUDA, fp32 on CPU), bfloat16, ..."
)
@click.option(
    "--batch-size", default=8, show_default=True, type=click.IntRange(1), help="Prompts per generate call."
)
@click.option("--trust-remote-code", is_flag=True, help="Allow custom model code from the checkpoint.")
@click.option(
    "--api-key",
    envvar="HARNESS_API_KEY",
    show_envvar=True,
    default=None,
    help="Clients must send 'Authorization: Bearer KEY' (required when --host is not a loopback address).",
)
def serve(model, host, port, served_model_name, device, dtype, batch_size, trust_remote_code, api_key) -> None:
    """Serve MODEL at /v1/completions and /v1/chat/completions (OpenAI-compatible).

    \b
    Example:
        harness serve --model ./ckpt --port 8000
        harness eval --backend openai --model ./ckpt --base-url http://127.0.0.1:8000/v1 --tasks gsm8k
        HARNESS_API_KEY=... harness serve --model ./ckpt --host 0.0.0.0   # others need the key
    """
    import sys

    from harness.backends.hf import HFBackend
    from harness.errors import HarnessError
    from harness.serve import is_loopback, make_server

    if not api_key and not is_loopback(host):
        raise HarnessError(
            f"expected an API key to serve on {host} (not a loopback address: anyone on the network could "
            "use the model), found none; pass --api-key KEY or set HARNESS_API_KEY (clients send it as "
            "OPENAI_API_KEY), or serve on --host 127.0.0.1."
        )
    name = served_model_name or model
    try:  # bind first, so a busy port fails before a long model load
        server = make_server(None, model_name=name, host=host, port=port, api_key=api_key)
    except OSError as e:
        raise HarnessError(
            f"expected to listen on {host}:{port}, found {e.strerror or e}; "
            "pick another --port (0 picks a free one)."
        ) from None
    try:
        backend = HFBackend(
            model=model,
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            trust_remote_code=trust_remote_code,
        )
    except BaseException:
        server.server_close()
        raise
    server.backend = backend
    click.echo(f"Serving {name} at {server.url}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        backend.close()
