"""The alerts part of bench/discord_alerts.py: one poll whose alerts go to the fake Discord
(by the delivery loop or by one plain deliver call), timed from the poll to each alert's
message, and the runs of both ways with their percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import statistics
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import alerts_inputs, alerts_poll
from bench.discord_alerts_bot import (
    CHANNEL_ID,
    GUILD_ID,
    bench_guild,
    bot_log_out,
    bot_logged_in,
    progress,
)
from bench.load import OtherLoad
from bot.app import open_app
from bot.core import commands
from bot.demo import serve_feeds
from bot.jobs import delivery_loop
from bot.settings import Settings
from tests.fakediscord import FakeDiscord, point_discord_at

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    from bot.adapters.discord.chat import DiscordChat, channel_name, workspace_name

DIGEST_AFTER = 1_000  # alert_digest_after: more alerts than any poll here brings
RATE_PER_HOUR = 100_000  # alert_rate_per_hour: never reached here
ALERT_GOAL_S = 2.0  # p95 from the poll's end to the alert's message, with the delivery loop
DELIVER_TIMEOUT_S = 120.0
MODES = ("loop", "plain")
MODE_LABELS = {"loop": "delivery loop", "plain": "plain call"}


def spread_s(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max of seconds."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan"), "n": 0}
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "max": float(a.max()),
        "n": int(a.size),
    }


async def _alerts_poll(env: alerts_poll.Env, settings: Settings, mode: str) -> dict[str, Any]:
    """One poll in a fresh data dir, its alerts delivered to the fake by `mode`."""
    clock = alerts_poll.Clock(env.created_at)
    channel, workspace = channel_name(GUILD_ID, CHANNEL_ID), workspace_name(GUILD_ID)
    posts_path = f"/channels/{CHANNEL_ID}/messages"
    with serve_feeds(env.bodies) as base:
        async with FakeDiscord([bench_guild()]) as fake:
            with point_discord_at(fake):
                async with open_app(
                    settings, embedder=env.embedder, extractor=env.extractor, now=clock
                ) as app:
                    watches = await alerts_inputs.add_watches(
                        app, alerts_inputs.QUOTAS, env.terms, channel=channel
                    )
                    for name in env.bodies:
                        await commands.add_feed(
                            app, base + name, interval_s=300, workspace=workspace
                        )
                    pipeline = app.require_pipeline()
                    record_hook = pipeline.after_extract
                    assert record_hook is not None, "open_app set no watch hook"
                    recorded: list[float] = []

                    async def after_extract(ids: Any, report: Any) -> None:
                        await record_hook(ids, report)
                        recorded.append(time.monotonic())

                    pipeline.after_extract = after_extract
                    bot, gateway = await bot_logged_in(app, fake, settings.data_dir)
                    chat = DiscordChat(bot)
                    loop_task: asyncio.Task[None] | None = None
                    try:
                        if mode == "loop":
                            loop_task = asyncio.create_task(
                                delivery_loop(app, chat, ready=bot.wait_until_ready)
                            )
                            await asyncio.sleep(0.05)  # the loop listens before the poll
                        clock.at = env.created_at + alerts_poll.POLL_AFTER
                        first_request = len(fake.requests)
                        load = OtherLoad()
                        load.start()
                        started = time.monotonic()
                        doc = await commands.poll_once(app, workspace=workspace)
                        ended = time.monotonic()
                        plain_s = float("nan")
                        if mode == "plain":
                            await commands.deliver_alerts(app, chat)
                            plain_s = time.monotonic() - ended
                        rows = await app.store.fetch_all(
                            "SELECT alert_id FROM alerts WHERE channel = ?", (channel,)
                        )
                        ids = {int(r[0]) for r in rows}

                        def posted() -> dict[int, float]:
                            out: dict[int, float] = {}
                            for r in fake.requests[first_request:]:
                                if r.method != "POST" or r.path != posts_path or r.status != 200:
                                    continue
                                nonce = str((r.json or {}).get("nonce") or "")
                                if nonce.startswith("a") and nonce[1:].isdigit():
                                    out.setdefault(int(nonce[1:]), r.time)
                            return out

                        await fake.wait_until(
                            lambda: True if ids <= posted().keys() else None,
                            DELIVER_TIMEOUT_S,
                            f"the {len(ids)} alerts' messages",
                        )
                        load.stop()
                    finally:
                        if loop_task is not None:
                            loop_task.cancel()
                            with contextlib.suppress(asyncio.CancelledError):
                                await loop_task
                        await bot_log_out(bot, gateway)
                    requests = fake.requests[first_request:]
    times = posted()
    posts = [r for r in requests if r.method == "POST" and r.path == posts_path]
    at = [times[i] for i in sorted(ids)]
    recorded_at = recorded[-1] if recorded else float("nan")
    return {
        "watches": sum(watches.added.values()),
        "new_articles": doc["new_articles"],
        "alerts": len(ids),
        "messages": sum(r.status == 200 for r in posts),
        "failed_posts": sum(r.status != 200 for r in posts),
        "edits": sum(r.method == "PATCH" and r.path.startswith(posts_path) for r in requests),
        "poll_s": ended - started,
        "alerts_recorded_s": recorded_at - started,
        "plain_call_s": plain_s,
        "other_cores": load.cores,
        "after_end_s": [t - ended for t in at],
        "after_start_s": [t - started for t in at],
        "after_recorded_s": [t - recorded_at for t in at],
        "skipped_terms": watches.skipped,
    }


def run_alerts_poll(env: alerts_poll.Env, workdir: Path, name: str, mode: str) -> dict[str, Any]:
    data_dir = workdir / name
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        allowed_networks=["127.0.0.1/32"],
        cache_dir=env.cache_dir,
        alert_digest_after=DIGEST_AFTER,
        alert_rate_per_hour=RATE_PER_HOUR,
    )
    try:
        return asyncio.run(_alerts_poll(env, settings, mode))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def measure_alerts(env: alerts_poll.Env, runs: int, workdir: Path) -> dict[str, Any]:
    progress("alerts: warm-up poll (delivery loop; not counted) ...")
    warm = run_alerts_poll(env, workdir, "warmup", "loop")
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    orders: list[str] = []
    for i in range(runs):
        order = MODES if i % 2 == 0 else MODES[::-1]
        orders.append(" then ".join(order))
        for mode in order:
            fig = run_alerts_poll(env, workdir, f"run{i}-{mode}", mode)
            results[mode].append(fig)
            end = spread_s(fig["after_end_s"])
            progress(
                f"alerts run {i + 1}/{runs} {MODE_LABELS[mode]}: {fig['alerts']} alerts in "
                f"{fig['messages']} messages; poll {fig['poll_s']:.2f} s; from the poll's end "
                f"p50 {end['p50']:.3f} s, p95 {end['p95']:.3f} s, max {end['max']:.3f} s "
                f"(others kept {fig['other_cores']:.2f} cores busy)"
            )
    out: dict[str, Any] = {"orders": orders, "skipped_terms": warm["skipped_terms"], "modes": {}}
    for mode in MODES:
        rs = results[mode]
        out["modes"][mode] = {
            "label": MODE_LABELS[mode],
            "after_end_s": spread_s([v for r in rs for v in r["after_end_s"]]),
            "after_start_s": spread_s([v for r in rs for v in r["after_start_s"]]),
            "after_recorded_s": spread_s([v for r in rs for v in r["after_recorded_s"]]),
            "median": {
                k: float(statistics.median(float(r[k]) for r in rs))
                for k in (
                    "watches",
                    "new_articles",
                    "alerts",
                    "messages",
                    "failed_posts",
                    "edits",
                    "poll_s",
                    "alerts_recorded_s",
                    "plain_call_s",
                    "other_cores",
                )
            },
            "runs": [
                {k: v for k, v in r.items() if k != "skipped_terms"}
                | {"after_end": spread_s(r["after_end_s"])}
                for r in rs
            ],
        }
    p95 = out["modes"]["loop"]["after_end_s"]["p95"]
    out["goal"] = {"p95_after_end_s": ALERT_GOAL_S, "measured_s": p95, "met": p95 <= ALERT_GOAL_S}
    return out
