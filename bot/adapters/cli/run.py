"""Stage: the command line's long-running commands: `run` (poll, serve the chats, deliver
alerts), `chat` (the console chat alone), `demo`, and `invite` (the URL that adds the bot to
a server). Side effects: those of the services they start (bot/jobs.py, bot/demo/).

Importing this module registers them on `bot.adapters.cli.main.cli` (bot/adapters/cli/main.py
imports it); the conventions are bot/adapters/cli/main.py's: exit codes 0/1/2, `--json` prints one
document on stdout, errors are one line on stderr.
"""

from __future__ import annotations

import sys

import click

from bot.adapters.cli.main import _fail, _prepare_data_dir, _run, _serve, _settings, cli
from bot.core.errors import UserError


# ---- running --------------------------------------------------------------------------------
@cli.command()
@click.option(
    "--no-poll",
    is_flag=True,
    help="Serve commands and deliver alerts only; `wirewatch worker` processes poll.",
)
@click.pass_context
def run(ctx: click.Context, no_poll: bool) -> None:
    """Poll feeds on their schedule and deliver alerts until interrupted (logs to stderr).

    With WIREWATCH_DISCORD_TOKEN set, the Discord bot serves slash commands and posts alerts
    to Discord channels; on a terminal the console chat runs beside it. With
    WIREWATCH_METRICS_PORT set, serves /healthz and /metrics (on 127.0.0.1 unless
    WIREWATCH_METRICS_HOST says otherwise). Stops cleanly on SIGINT/SIGTERM.

    On PostgreSQL (WIREWATCH_DATABASE_URL) any number of `run` processes may share the
    database: polls are claimed feed by feed, and exactly one process (the holder of the sender
    lease) delivers the outbox."""
    _serve(ctx, chat=sys.stdin is not None and sys.stdin.isatty(), poll=not no_poll)


@cli.command()
@click.option(
    "--client-id",
    type=click.IntRange(min=1),
    default=None,
    help="The bot's application id (default: read from WIREWATCH_DISCORD_TOKEN).",
)
@click.pass_context
def invite(ctx: click.Context, client_id: int | None) -> None:
    """Print the URL that adds the bot to a server (scopes bot and applications.commands;
    permissions View Channel, Send Messages, Embed Links, Read Message History)."""
    from bot.adapters.discord.service import application_id_from_token, invite_url

    if client_id is None:
        token = _settings(ctx).discord_token
        if token is None:
            _fail("set WIREWATCH_DISCORD_TOKEN or give --client-id (the Application ID)")
        try:
            client_id = application_id_from_token(token.get_secret_value())
        except UserError as exc:
            _fail(str(exc))
    click.echo(invite_url(client_id))


@cli.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """The console chat alone (no scheduler): search, feeds, stats."""
    from bot.adapters.console import chat as console_chat

    settings = _settings(ctx)
    _prepare_data_dir(settings)
    _run(console_chat(settings))


@cli.command()
@click.option("--no-chat", is_flag=True, help="Exit after the walkthrough.")
@click.option("--port", type=int, default=0, help="Port for the sample feed server (0 = any).")
@click.pass_context
def demo(ctx: click.Context, no_chat: bool, port: int) -> None:
    """Walk through Wirewatch on its own sample feeds, served on 127.0.0.1."""
    from bot.demo import run_demo

    settings = _settings(ctx)
    _prepare_data_dir(settings)
    chat = not no_chat and sys.stdin is not None and sys.stdin.isatty()
    _run(run_demo(settings, chat=chat, port=port))
