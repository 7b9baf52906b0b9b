"""``harness serve-reward``: the answer engine as a remote reward model over HTTP (OpenRLHF's ``--remote_rm_url``).

Every :class:`harness.reward.RewardConfig` field is a flag, generated from the dataclass.
"""

from __future__ import annotations

import click

from harness.options import click_options, from_mapping, given
from harness.reward import RewardConfig


@click.command("serve-reward")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port; 0 picks a free one (the URL is printed).")
@click.option(
    "--api-key",
    envvar="HARNESS_API_KEY",
    show_envvar=True,
    default=None,
    help="Clients must send 'Authorization: Bearer KEY' (required when --host is not a loopback address).",
)
@click_options(RewardConfig, shown={"workers": 2})
def serve_reward(host, port, api_key, **options) -> None:
    """Answer POST /get_reward {"query", "prompts", "labels"} with {"rewards", "scores", "extra_logs", "status"}:
    each response (query minus its prompt) graded against its label by the answer engine.

    \b
    Example:
        harness serve-reward --port 8001 --task gsm8k --workers 2 --wrong -0.5
        openrlhf.cli.train_ppo_ray ... --remote_rm_url http://127.0.0.1:8001/get_reward
    """
    import sys

    from harness.errors import HarnessError
    from harness.rewardserve import make_reward_server
    from harness.serve import check_bind, serve_until_interrupted

    check_bind(host, api_key)
    config = from_mapping(RewardConfig, {"workers": 2, **given(options)}, where="flags")
    try:
        server = make_reward_server(config, host=host, port=port, api_key=api_key)
    except OSError as e:
        raise HarnessError(
            f"expected to listen on {host}:{port}, found {e.strerror or e}; pick another --port (0 picks a free one)."
        ) from None
    click.echo(f"Serving rewards at {server.url} (task {config.task}, {config.workers} workers)")
    sys.stdout.flush()
    serve_until_interrupted(server)
