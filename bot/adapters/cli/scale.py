"""The command-line commands of a deployment on PostgreSQL beyond one process: `worker`.
Importing this module registers them on `bot.adapters.cli.main.cli`."""

from __future__ import annotations

import click

from bot.adapters.cli.main import (
    Ctx,
    _emit,
    _prepare_data_dir,
    _run,
    _settings,
    _setup_logging,
    cli,
)


@cli.command()
@click.option("--once", is_flag=True, help="Poll what is due now, then exit.")
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=None,
    help="Feeds claimed at a time (default: 4 x WIREWATCH_MAX_PARALLEL_FEEDS).",
)
@click.option(
    "--name", default=None, help="This worker's name in claims and logs (default host:pid)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON when done (with --once).")
@click.pass_context
def worker(
    ctx: click.Context, once: bool, batch: int | None, name: str | None, as_json: bool
) -> None:
    """Poll and ingest on PostgreSQL (WIREWATCH_DATABASE_URL), beside any number of workers.

    Claims due feeds so no two workers poll one feed, shares each host's fetch limit with the
    other workers, stores, extracts and embeds, and records alerts in the outbox; `wirewatch
    run` delivers them. A killed worker's feeds are retaken when its claims expire. With
    WIREWATCH_METRICS_PORT set, serves /healthz and /metrics as `run` does. Stops cleanly on
    SIGINT/SIGTERM."""
    from bot.core.commands import report_doc
    from bot.worker import work

    settings = _settings(ctx)
    _prepare_data_dir(settings)
    obj: Ctx = ctx.obj
    _setup_logging("DEBUG" if obj.verbose > 1 else settings.log_level, settings)
    done = _run(work(settings, once=once, batch=batch, name=name))
    if as_json:
        _emit({"worker": done.worker_id, "rounds": done.rounds, **report_doc(done.report)})
    elif once:
        click.echo(
            f"{done.worker_id}: {done.report.feeds_polled} feeds polled, "
            f"{done.report.new_articles} new articles, {done.report.failed_feeds} failed"
        )
