"""Operations commands of the `wirewatch` command line: backup, restore, prune, migrate-to.

Registered on the `cli` group by bot/adapters/cli/main.py; same conventions (exit codes 0/1/2,
`--json` prints one document on stdout, progress on stderr when it is a terminal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot import store as chat_store
from bot.adapters.cli.main import (
    _emit,
    _fail,
    _prepare_data_dir,
    _run,
    _secret_url,
    _settings,
    _with_app,
    cli,
)
from bot.core.errors import UserError
from bot.settings import Settings

_VACUUM = {
    "none": "no vacuum",
    "incremental": "incremental vacuum",
    "full": "full VACUUM",
    "plain": "VACUUM: space reused, the files keep most of their size",
}


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def _counts_line(counts: dict[str, int]) -> str:
    keys = ("articles", "passages", "events", "stories", "feeds", "watches", "alerts")
    return ", ".join(f"{counts[k]} {k}" for k in keys if k in counts)


def _embedded_only(ctx: click.Context, command: str) -> Settings:
    """The settings, for a command of the embedded engine; a clear refusal on PostgreSQL."""
    settings = _settings(ctx)
    if settings.database_url is not None:
        _fail(
            f"`wirewatch {command}` works on the embedded engine's data dir; on PostgreSQL "
            "(WIREWATCH_DATABASE_URL) use pg_dump and pg_restore",
            2,
        )
    return settings


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def backup(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Copy the data dir into PATH (a new or empty folder), safely while the bot runs: the
    database through SQLite's online backup (one consistent moment), the vector index, a
    manifest with each file's SHA-256, the counts and the model cache's checksums."""
    from bot.adapters.cli.render import progress_reporter
    from index.errors import NewsIndexError
    from index.store import backup as backup_stage

    settings = _embedded_only(ctx, "backup")
    try:
        with progress_reporter() as progress:
            report = backup_stage.backup(
                settings.data_dir,
                path,
                model_cache=settings.model_cache_path,
                progress=progress,
                also_count=chat_store.COUNTS,
            )
    except NewsIndexError as exc:
        _fail(str(exc), 1)
    if as_json:
        _emit(report.doc())
        return
    size = sum(report.files.values())
    click.echo(
        f"backup in {report.path}: {_counts_line(report.counts)}; "
        f"{len(report.files)} files, {_mib(size)}, in {report.seconds:.1f} s"
    )


@cli.command()
@click.argument("path", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Replace the database the data dir already holds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def restore(ctx: click.Context, path: Path, force: bool, as_json: bool) -> None:
    """Restore the backup at PATH into the data dir. Checks the backup first (checksums,
    integrity, counts); refuses a data dir that a running bot or another command is using,
    and one that holds a database already unless --force. The next start rebuilds what the
    vector index lacks."""
    from index.errors import NewsIndexError
    from index.store import backup as backup_stage
    from index.store.datadir import DataDirBusy

    settings = _embedded_only(ctx, "restore")
    _prepare_data_dir(settings)
    try:
        report = backup_stage.restore(
            path,
            settings.data_dir,
            force=force,
            model_cache=settings.model_cache_path,
            also_count=chat_store.COUNTS,
        )
    except DataDirBusy as exc:
        _fail(str(exc), 2)
    except NewsIndexError as exc:
        _fail(str(exc), 1)
    if as_json:
        _emit(report.doc())
        return
    click.echo(
        f"restored the backup of {report.created_at} into {report.data_dir}: "
        f"{_counts_line(report.counts)}; integrity {report.integrity}"
    )


@cli.command()
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option(
    "--days",
    type=float,
    default=None,
    help="Keep this many days (default WIREWATCH_RETENTION_DAYS).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def prune(ctx: click.Context, dry_run: bool, days: float | None, as_json: bool) -> None:
    """Delete articles older than the retention period (published and stored before it) with
    their passages, full-text rows, vectors and event metadata, the delivered alerts left
    without articles and the stories left empty; then shrink the database file and the vector
    index. An older database is converted to incremental vacuum by one full VACUUM, which
    holds writers off while it runs. On PostgreSQL (WIREWATCH_DATABASE_URL) a plain VACUUM
    follows instead: writers go on, and the space freed is reused by new rows."""
    from bot.adapters.cli.render import progress_reporter
    from bot.core import maintenance

    async def go(app: Any) -> dict[str, Any]:
        with progress_reporter() as progress:
            report = await maintenance.prune(
                app,
                days=days,
                dry_run=dry_run,
                allow_full_vacuum=True,
                progress=(lambda done, total: progress("prune", done, total)) if progress else None,
            )
        return report.doc()

    doc = _with_app(ctx, go)
    if as_json:
        _emit(doc)
        return
    verb = "would prune" if dry_run else "pruned"
    click.echo(
        f"{verb} {doc['articles']} articles published and stored before {doc['cutoff']}: "
        f"{doc['passages']} passages, {doc['vectors']} vectors, {doc['events']} events, "
        f"{doc['alerts']} delivered alerts, {doc['stories']} stories"
    )
    if not dry_run:
        click.echo(
            f"database {_mib(doc['database_bytes_before'])} -> {_mib(doc['database_bytes_after'])}"
            f" ({_VACUUM[doc['vacuum']]}); vector index {_mib(doc['index_bytes_before'])} -> "
            f"{_mib(doc['index_bytes_after'])}"
        )


@cli.command("migrate-to")
@click.argument("url", required=False)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Rows per transaction.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def migrate_to(ctx: click.Context, url: str | None, batch_size: int, as_json: bool) -> None:
    """Copy the embedded instance (the data dir's SQLite database) into the PostgreSQL
    database at URL (postgresql://user:password@host/db): every table with its ids, the
    passages' vectors and text-search words, the alerts and the change cursors. Stop the bot
    first: a run copies the database as it was when it began. Run it again after an
    interruption to go on where it stopped. Refuses a database that holds rows of another
    instance. Checks every table's row count at the end. Without URL, WIREWATCH_DATABASE_URL
    (so the password need not appear in the process list)."""
    from bot.adapters.cli.render import progress_reporter
    from index.store import datadir
    from index.store.pg import copy as copy_stage

    if url is None:
        given = _settings(ctx).database_url
        if given is None:
            _fail("give the PostgreSQL URL, or set WIREWATCH_DATABASE_URL")
        url = given.get_secret_value()
    if not copy_stage.is_postgres_url(url):
        _fail("URL must be a PostgreSQL URL: postgresql://user:password@host:5432/database")
    # the embedded instance, wherever WIREWATCH_DATABASE_URL points
    settings = _settings(ctx).model_copy(update={"database_url": None})
    _secret_url(ctx, url)
    shown = copy_stage.masked_url(url)

    async def go() -> tuple[copy_stage.CopyReport, str | None]:
        with progress_reporter() as progress:
            try:
                report = await copy_stage.copy_instance(
                    settings.db_path,
                    url,
                    batch_size=batch_size,
                    progress=progress,
                    layers=(chat_store.copy_layer(),),
                )
            except copy_stage.CopyRefused as exc:
                raise UserError(str(exc)) from exc
            except copy_stage.CopyMismatch as exc:
                return exc.report, str(exc)
        return report, None

    if not settings.db_path.is_file():
        _fail(f"no database at {settings.db_path}: point --data-dir at the instance to copy")
    try:
        with datadir.using(settings.data_dir):
            report, mismatch = _run(go())
    except datadir.DataDirBusy as exc:
        _fail(str(exc), 2)
    if as_json:
        _emit(report.doc())
    elif mismatch is None:
        counts = {t.table: t.target for t in report.tables}
        copied = sum(t.copied for t in report.tables)
        how = (
            "already copied, nothing to do"
            if report.already_finished
            else f"{copied} rows copied" + (" (resumed)" if report.resumed else "")
        )
        click.echo(
            f"{report.source} -> {shown}: {_counts_line(counts)}; {how}; counts checked in "
            f"{len(report.tables)} tables, in {report.seconds:.1f} s"
        )
    if mismatch is not None:
        _fail(mismatch, 1)
