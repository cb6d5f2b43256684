"""The `wirewatch` command line (click), per ../shared/CONTRACT.md.

Exit codes: 0 success; 1 runtime failure; 2 bad usage or bad input (one line on stderr).
`--json` prints exactly one JSON document on stdout; progress and logs go to stderr.
Nothing reaches stderr unredacted (bot/logs.py): an `error:` line has the settings' secrets
blanked, and an exception no command expected is logged, traceback included, in the log format
(WIREWATCH_LOG_FORMAT) with the secrets blanked, then exits 1.

This module holds the `cli` group, the helpers every command shares and `main`; the commands
are in feeds.py (feeds and ingestion), ask.py (search, ask, extract), watches.py (watches and
alerts), run.py (run, chat, demo, invite), ops.py (backup, restore, prune, migrate-to) and
scale.py (worker), beside this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from bot.core.errors import UserError
from bot.logs import Redactor
from bot.settings import Settings
from index.errors import NewsIndexError

if TYPE_CHECKING:
    from bot.app import App, Repair

T = TypeVar("T")
log = logging.getLogger("wirewatch")


@dataclass
class Ctx:
    data_dir: Path | None
    verbose: int
    settings: Settings | None = None  # read on first use, so `--help` works whatever the env


def _fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, the secrets blanked (an exception's text may hold a database URL with
    its password), and exit `code`."""
    click.echo(f"error: {Redactor(_secrets())(message)}", err=True)
    sys.exit(code)


def _secrets() -> list[str]:
    """The secrets to blank: those of the settings read, else of the environment (and `.env`)
    if it holds valid settings."""
    from pydantic import ValidationError

    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Ctx) if ctx is not None else None
    if obj is not None and obj.settings is not None:
        return obj.settings.secret_values()
    try:
        return Settings().secret_values()
    except ValidationError:  # its messages quote no secret
        return []


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; expected failures become one line on stderr, anything else
    goes on to `_Group.invoke`."""
    try:
        return asyncio.run(coro)
    except UserError as exc:
        _fail(str(exc), 2)
    except NewsIndexError as exc:
        _fail(str(exc), 1)
    except sqlite3.Error as exc:
        _fail(f"database error: {exc} (is another process holding the data dir?)", 1)
    except OSError as exc:  # includes a lock on the vector index that was never released
        _fail(f"{type(exc).__name__}: {exc}", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # PostgreSQL's errors, without importing its driver here
        if type(exc).__module__.startswith("asyncpg"):
            _fail(f"database error: {type(exc).__name__}: {exc}", 1)
        raise


def _emit(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False))


def _settings(ctx: click.Context) -> Settings:
    """The settings (env, `.env`, then `--data-dir`), read once; a bad value exits 2."""
    from pydantic import ValidationError

    obj = ctx.find_object(Ctx)
    assert obj is not None, "the `cli` group sets ctx.obj"
    if obj.settings is None:
        try:
            settings = Settings()
        except ValidationError as exc:
            first = exc.errors()[0]
            field = "WIREWATCH_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
            message = str(first["msg"]).removeprefix("Value error, ")
            _fail(f"bad configuration {field}: {message}")
        if obj.data_dir is not None:
            settings = settings.model_copy(update={"data_dir": obj.data_dir})
        obj.settings = settings
        _setup_logging(logging.getLevelName(logging.getLogger().level), settings)
    return obj.settings


def _secret_url(ctx: click.Context, url: str) -> None:
    """A database URL given on the command line: its password is redacted like the settings'
    secrets, in logs, error lines and tracebacks."""
    from pydantic import SecretStr

    obj = ctx.find_object(Ctx)
    assert obj is not None, "the `cli` group sets ctx.obj"
    obj.settings = _settings(ctx).model_copy(update={"database_url": SecretStr(url)})
    _setup_logging(logging.getLevelName(logging.getLogger().level), obj.settings)


def _prepare_data_dir(settings: Settings) -> None:
    """Create the data dir, or exit 2 saying why it cannot be used."""
    path = settings.data_dir
    if path.exists() and not path.is_dir():
        _fail(
            f"the data directory {path} is a file; point --data-dir or WIREWATCH_DATA_DIR "
            "at a directory"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(
            f"cannot use {path} as the data directory ({exc.strerror or exc}); point "
            "--data-dir or WIREWATCH_DATA_DIR at a directory you can write to"
        )


def _with_app(
    ctx: click.Context,
    fn: Callable[[App], Awaitable[T]],
    *,
    with_model: bool = False,
    repair_mode: Repair = "none",
    with_extractor: bool = False,
) -> T:
    """Open the app for one command, run `fn` on it, close it. Commands that ingest ask for
    the event-metadata extractor too."""
    from bot.adapters.cli.render import progress_reporter
    from bot.app import open_app

    settings = _settings(ctx)
    _prepare_data_dir(settings)

    async def go() -> T:
        with progress_reporter() as progress:
            async with open_app(
                settings,
                with_model=with_model,
                repair_mode=repair_mode,
                progress=progress,
                with_extractor=with_extractor,
            ) as app:
                return await fn(app)

    return _run(go())


def _crash(ctx: click.Context, exc: Exception) -> NoReturn:
    """Log an exception no command expected through the redacting log handler, and exit 1.
    Logging is set up from the settings first, if no command read them yet, so the line has
    their format and their secrets blanked."""
    from pydantic import ValidationError

    obj = ctx.find_object(Ctx)
    if obj is not None and obj.settings is None:
        level = logging.getLevelName(logging.getLogger().level)
        with contextlib.suppress(ValidationError):  # bad settings: the plain format stays
            _setup_logging(level, Settings())
    log.critical("the command failed unexpectedly: %s: %s", type(exc).__name__, exc, exc_info=exc)
    sys.exit(1)


def _click_handles(exc: Exception) -> bool:
    """Whether click's own `main` turns `exc` into its message and exit code."""
    handled = (click.ClickException, click.exceptions.Exit, click.Abort, EOFError)
    return isinstance(exc, handled) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)


class _Group(click.Group):
    """The `wirewatch` group: an exception that escapes a command is logged by `_crash` while
    the command's logging is still set up (the group's context restores it on close), instead
    of reaching Python's handler, which would print the traceback unredacted."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if _click_handles(exc):
                raise
            _crash(ctx, exc)


def _setup_logging(level: str, settings: Settings | None = None) -> None:
    """Logs on stderr; with the settings, in their format and with their secrets redacted."""
    from bot.logs import configure

    if settings is None:
        configure(level)
    else:
        configure(level, settings.log_format, settings.secret_values())


def _guild_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--guild",
        type=click.IntRange(min=1),
        default=None,
        help="Act on this Discord server's workspace (its id) instead of the console's.",
    )(f)


def _scope(guild: int | None, channel: str | None = None) -> tuple[str, str | None]:
    """(workspace, channel) from --guild and --channel: the guild's workspace, else the
    channel's, else the console's. Exits with a usage error on a channel of another guild."""
    from bot.core.watches import channel_workspace

    if guild is not None and channel is not None and channel.isdigit():
        channel = f"discord:{guild}:{channel}"
    try:
        workspace = channel_workspace(channel) if channel else "console"
    except UserError as exc:
        _fail(str(exc))
    if guild is not None:
        if channel is not None and workspace != f"discord:{guild}":
            _fail(f"--channel {channel} is not a channel of --guild {guild}")
        workspace = f"discord:{guild}"
    return workspace, channel


@click.group(name="wirewatch", cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the database and vector index live (env WIREWATCH_DATA_DIR; default ./var).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug) to stderr.")
@click.version_option(package_name="wirewatch")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, verbose: int) -> None:
    """Wirewatch: watch conflict and security news feeds, search them, get alerts."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def restore_logging() -> None:  # `main()` may run more than once in a process (tests)
        root.handlers[:], level = saved
        root.setLevel(level)

    ctx.call_on_close(restore_logging)
    _setup_logging({0: "WARNING", 1: "INFO"}.get(verbose, "DEBUG"))
    ctx.obj = Ctx(data_dir=data_dir, verbose=verbose)


_CHANNEL_HELP = (
    "console (default) or discord:<guild_id>:<channel_id> (with --guild, the channel id alone)."
)


def _serve(ctx: click.Context, *, chat: bool = False, poll: bool = True) -> None:
    from bot.jobs import serve

    settings = _settings(ctx)
    _prepare_data_dir(settings)
    obj: Ctx = ctx.obj
    _setup_logging("DEBUG" if obj.verbose > 1 else settings.log_level, settings)
    _run(serve(settings, chat=chat, poll=poll))


# importing the command modules registers their commands on `cli`
from bot.adapters.cli import ask, feeds, ops, run, scale, watches  # noqa: E402, F401


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="wirewatch")


if __name__ == "__main__":  # pragma: no cover
    # run as a script, this module is `__main__`: the commands register on
    # `bot.adapters.cli.main`'s group
    from bot.adapters.cli.main import main as registered_main

    registered_main()
