"""Benchmark: what a Discord user of `wirewatch run` waits for, through the fake Discord of the
tests: alerts after a poll, and /ask. Also run as `bench/alerts.py --discord`.

The real bot (`bot.adapters.discord.client.WirewatchBot`, discord.py) logs in to the fake
Discord of `tests/fakediscord/` (REST + gateway websocket on 127.0.0.1, started here, in this
process and on this event loop: its own work is inside the timings). Times are taken by the fake:
a REST request's `time` is `time.monotonic()` when it arrives, and the benchmark marks its own
moments with `time.monotonic()` too.

What is measured, and how:

* Alerts. Each poll: a fresh data dir, `open_app` with the real model and extractor (loaded once
  for the whole benchmark) and a fixed clock, as bench/alerts.py runs it, whose helpers are
  reused: the same `--articles` (default 50) real feed entries (`pick_articles`, `feed_bodies`,
  served on 127.0.0.1), the same 200 group, place and keyword watches (`watch_candidates`,
  `add_watches`), here all on one Discord channel `discord:<guild>:<channel>`, and the feeds
  subscribed by the guild's workspace `discord:<guild>`. Settings: `alert_digest_after` 1,000
  and `alert_rate_per_hour` 100,000, so every alert is its own message (no digest, no rate
  limit). The bot is logged in (`login`, `connect`, ready), then `commands.poll_once` is timed.
  For each alert: the seconds from the poll's end (and from its start, and from the return of
  the `after_extract` hook that records the alerts) to the arrival at the fake of the message
  POST carrying it (the post's nonce is the outbox key `a<alert_id>`). Two ways to deliver:
  - delivery loop (the product): `bot.jobs.delivery_loop(app, DiscordChat(bot), ready=...)`
    runs beside the poll as `wirewatch run` runs it (bot/jobs.py `serve`); it wakes when alerts
    are recorded, which is during the poll, so posts may arrive before the poll's end (negative
    seconds from the end);
  - plain call (the baseline): no loop; `commands.deliver_alerts(app, DiscordChat(bot))` once,
    right after `poll_once` returns.
  One warm-up poll (with the loop) is not counted; then `--runs` runs of both, their order
  alternating from run to run. Percentiles pool the alerts of every run; one line per run
  follows. Goal printed beside them: p95 at most 2 s from the poll's end with the loop.
* /ask. A data dir of `--size` (default 10,000) passages built by bench/ask.py (`prepare_corpus`,
  `build`: real feed text, real event metadata, synthetic passage vectors; see its docstring).
  Its feeds are subscribed by the "console" workspace; here the guild's workspace
  `discord:<guild>` is subscribed to the same feeds through `Store.subscribe`, so it sees the
  same passages, and BOTH paths ask in the guild's workspace. The app is opened as a reader
  (`open_app(settings, embedder=..., repair_mode="index")`, clock fixed as bench/ask.py's).
  The bot logged in, each question of bench/ask.py's `QUESTIONS` is asked once untimed through
  both paths, then `--asks` (default 100) questions in seeded shuffled rounds, each through:
  - Discord: `fake.invoke("ask", {"question": q}, ...)`, the slash command as a user sends it;
    timed: to the first response (`responded_after_s`: the defer, "thinking..."; goal p95 at
    most 300 ms, Discord's own limit is 3 s) and to the arrival of the follow-up POST that
    carries the answer embed;
  - plain: `await commands.ask(app, q, workspace=...)` (what the follow-up should be close to).
  The two alternate which goes first from ask to ask.

Each part prints how many CPU cores other processes kept busy (bench/load.py); other engineers'
tests may run meanwhile: the figure says how far to trust the timings. Real Discord limits a
channel to about 5 messages per 5 s; the fake imposes no rate limit, so with more alerts than
that the alert figures are what the bot does, not what Discord would let through.

Figures are printed, never asserted. Progress goes to stderr; `--json` prints one JSON document.

  .venv/bin/python bench/discord_alerts.py [--runs 3] [--articles 50] [--asks 100] [--size 10000]
      [--only alerts|ask] [--backend auto] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: bench, tests

import numpy as np  # noqa: E402

from bench import alerts as alerts_bench  # noqa: E402  (sets the offline model variables)
from bench import ask as ask_bench  # noqa: E402
from bench.ingest import find_shared_data  # noqa: E402
from bench.load import OtherLoad, add_backend_option, finite  # noqa: E402
from bench.search import percentiles  # noqa: E402
from bot.app import open_app  # noqa: E402
from bot.core import commands  # noqa: E402
from bot.demo import serve_feeds  # noqa: E402
from bot.jobs import delivery_loop  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.extract.extractor import Extractor  # noqa: E402
from index.retrieve.embed import DEFAULT_MODEL, Embedder, load_embedder  # noqa: E402
from tests.fakediscord import FakeDiscord, FakeGuild, point_discord_at  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    from bot.adapters.discord.chat import DiscordChat, channel_name, workspace_name
    from bot.adapters.discord.client import WirewatchBot

GUILD_ID = 800_000_000_000_000_001
CHANNEL_ID = 810_000_000_000_000_001
DIGEST_AFTER = 1_000  # alert_digest_after: more alerts than any poll here brings
RATE_PER_HOUR = 100_000  # alert_rate_per_hour: never reached here
ALERT_GOAL_S = 2.0  # p95 from the poll's end to the alert's message, with the delivery loop
DEFER_GOAL_MS = 300.0  # p95 of the first response to /ask
READY_TIMEOUT_S = 30.0
DELIVER_TIMEOUT_S = 120.0
ANSWER_TIMEOUT_S = 60.0
BUSY_CORES = 0.2  # other processes' load above which a part's timings are flagged
MODES = ("loop", "plain")
MODE_LABELS = {"loop": "delivery loop", "plain": "plain call"}


def _guild() -> FakeGuild:
    return FakeGuild(GUILD_ID, "Wirewatch bench", {CHANNEL_ID: "alerts"})


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _logged_in(app: Any, fake: FakeDiscord, state_dir: Path) -> tuple[WirewatchBot, Any]:
    """The real bot, logged in to the fake and ready; and its gateway task."""
    bot = WirewatchBot(app, state_path=state_dir / "discord_commands.json")
    await bot.login(fake.token)
    gateway = asyncio.create_task(bot.connect(reconnect=False))
    await asyncio.wait_for(bot.wait_until_ready(), READY_TIMEOUT_S)
    return bot, gateway


async def _log_out(bot: WirewatchBot, gateway: asyncio.Task[None]) -> None:
    await bot.close()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(gateway, 10)


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


# ---- alerts -------------------------------------------------------------------------------------
async def _alerts_poll(env: alerts_bench.Env, settings: Settings, mode: str) -> dict[str, Any]:
    """One poll in a fresh data dir, its alerts delivered to the fake by `mode`."""
    clock = alerts_bench.Clock(env.created_at)
    channel, workspace = channel_name(GUILD_ID, CHANNEL_ID), workspace_name(GUILD_ID)
    posts_path = f"/channels/{CHANNEL_ID}/messages"
    with serve_feeds(env.bodies) as base:
        async with FakeDiscord([_guild()]) as fake:
            with point_discord_at(fake):
                async with open_app(
                    settings, embedder=env.embedder, extractor=env.extractor, now=clock
                ) as app:
                    watches = await alerts_bench.add_watches(
                        app, alerts_bench.QUOTAS, env.terms, channel=channel
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
                    bot, gateway = await _logged_in(app, fake, settings.data_dir)
                    chat = DiscordChat(bot)
                    loop_task: asyncio.Task[None] | None = None
                    try:
                        if mode == "loop":
                            loop_task = asyncio.create_task(
                                delivery_loop(app, chat, ready=bot.wait_until_ready)
                            )
                            await asyncio.sleep(0.05)  # the loop listens before the poll
                        clock.at = env.created_at + alerts_bench.POLL_AFTER
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
                        await _log_out(bot, gateway)
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


def run_alerts_poll(env: alerts_bench.Env, workdir: Path, name: str, mode: str) -> dict[str, Any]:
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


def measure_alerts(env: alerts_bench.Env, runs: int, workdir: Path) -> dict[str, Any]:
    _progress("alerts: warm-up poll (delivery loop; not counted) ...")
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
            _progress(
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


# ---- /ask ---------------------------------------------------------------------------------------
async def _ask_part(
    corpus: ask_bench.Corpus,
    embedder: Embedder,
    cfg: ask_bench.Config,
    size: int,
    workdir: Path,
) -> dict[str, Any]:
    settings = Settings(_env_file=None, data_dir=workdir / f"ask{size}")
    _progress(f"/ask: storing {size:,} passages (bench/ask.py's build) ...")
    built = await ask_bench.build(settings, size, corpus, embedder, cfg, _progress)
    workspace = workspace_name(GUILD_ID)
    now = ask_bench.NOW
    async with open_app(settings, embedder=embedder, repair_mode="index", now=lambda: now) as app:
        await app.catalogue()
        await app.gazetteer()
        console = await app.workspace_id("console")
        guild = await app.workspace_id(workspace)
        for f in await app.store.list_feeds(console):
            await app.store.subscribe(guild, f.url, interval_s=f.interval_s, name=f.name, now=now)
        seen_console = (await app.store.counts(console)).passages
        seen_guild = (await app.store.counts(guild)).passages
        if seen_guild != seen_console:
            raise RuntimeError(f"the guild sees {seen_guild} passages, the console {seen_console}")
        async with FakeDiscord([_guild()]) as fake:
            with point_discord_at(fake):
                bot, gateway = await _logged_in(app, fake, settings.data_dir)
                try:
                    return await _asks(app, fake, workspace, cfg) | {
                        "size": size,
                        "build": built,
                        "visible_passages": seen_guild,
                    }
                finally:
                    await _log_out(bot, gateway)


async def _discord_ask(fake: FakeDiscord, question: str) -> dict[str, Any]:
    """One /ask through the fake: seconds to the first response and to the follow-up."""
    first = len(fake.requests)
    rec = await fake.invoke("ask", {"question": question}, channel_id=CHANNEL_ID, guild_id=GUILD_ID)
    final = await rec.final(timeout=ANSWER_TIMEOUT_S)
    path = f"/webhooks/{fake.application_id}/{rec.token}"
    followup = next(
        (r for r in fake.requests[first:] if r.method == "POST" and r.path == path), None
    )
    return {
        "first_response_s": rec.responded_after_s,
        "followup_s": followup.time - rec.sent_at if followup is not None else float("nan"),
        "deferred": bool(rec.responses) and rec.responses[0].get("type") == 5,
        "embed": bool(final.get("embeds")),
        "text": final.get("content") or "",
    }


async def _plain_ask(app: Any, question: str, workspace: str, k: int) -> dict[str, Any]:
    """The baseline: the command layer's call, timed alone."""
    started = time.monotonic()
    doc = await commands.ask(app, question, k=k, workspace=workspace)
    return {"plain_s": time.monotonic() - started, "citations": len(doc["citations"])}


async def _asks(
    app: Any, fake: FakeDiscord, workspace: str, cfg: ask_bench.Config
) -> dict[str, Any]:
    rng = random.Random(cfg.seed)
    warm = [q for _, q in ask_bench.QUESTIONS]
    rng.shuffle(warm)
    _progress(f"/ask: {len(warm)} warm-up questions through both paths ...")
    for question in warm:
        await _discord_ask(fake, question)
        await commands.ask(app, question, k=cfg.k, workspace=workspace)
    plan: list[str] = []
    while len(plan) < cfg.asks:
        batch = [q for _, q in ask_bench.QUESTIONS]
        rng.shuffle(batch)
        plan.extend(batch)
    plan = plan[: cfg.asks]
    _progress(f"/ask: {len(plan)} timed questions, each through both paths ...")
    rows: list[dict[str, Any]] = []
    load = OtherLoad()
    load.start()
    for i, question in enumerate(plan):
        if i % 2:
            plain = await _plain_ask(app, question, workspace, cfg.k)
            row = await _discord_ask(fake, question)
        else:
            row = await _discord_ask(fake, question)
            plain = await _plain_ask(app, question, workspace, cfg.k)
        rows.append({"question": question, **row, **plain})
    load.stop()
    failed = [r for r in rows if not r["embed"]]
    return {
        "asks": len(rows),
        "first_response": percentiles([r["first_response_s"] for r in rows]),
        "followup": percentiles([r["followup_s"] for r in rows]),
        "plain": percentiles([r["plain_s"] for r in rows]),
        "followup_minus_plain": percentiles([r["followup_s"] - r["plain_s"] for r in rows]),
        "deferred": sum(r["deferred"] for r in rows),
        "answer_embeds": len(rows) - len(failed),
        "not_answered": [{"question": r["question"], "text": r["text"][:200]} for r in failed],
        "answered_with_citations": sum(r["citations"] > 0 for r in rows),
        "other_cores": load.cores,
        "goal": {
            "first_response_p95_ms": DEFER_GOAL_MS,
            "met": percentiles([r["first_response_s"] for r in rows])["p95_ms"] <= DEFER_GOAL_MS,
        },
    }


# ---- output -------------------------------------------------------------------------------------
def _fmt(s: dict[str, float]) -> str:
    return f"{s['p50']:7.3f} {s['p95']:7.3f} {s['max']:7.3f}"


def print_text(doc: dict[str, Any], write: Callable[[str], None]) -> None:
    meta = doc["meta"]
    write(
        "Wirewatch through the fake Discord: the real bot (WirewatchBot, discord.py "
        f"{meta['discord']}) logged in to tests/fakediscord/ on 127.0.0.1, same process"
    )
    write(
        f"  machine: {meta['cpus']} CPUs, torch threads {meta['torch_threads']}, python "
        f"{meta['python']}, torch {meta['torch']}; model {meta['model']} (loaded once, "
        f"{meta['load_s']:.1f} s)"
    )
    if "alerts" in doc:
        a = doc["alerts"]
        loop, plain = a["modes"]["loop"], a["modes"]["plain"]
        m = loop["median"]
        write("")
        write(
            f"== Alerts: {meta['articles']} new articles, {m['watches']:.0f} watches of "
            "bench/alerts.py on one channel discord:<guild>:<channel> =="
        )
        write(
            f"  alert_digest_after {DIGEST_AFTER}, alert_rate_per_hour {RATE_PER_HOUR}: every "
            "alert is its own message (no digest, no rate limit)"
        )
        write(
            f"  {meta['runs']} runs after one warm-up poll; seconds per alert to its message POST "
            "reaching the fake, pooled over the runs"
        )
        write(f"{'':<46}{'delivery loop':>24}{'plain call':>24}")
        write(f"{'(seconds)':<46}{'p50     p95     max':>24}{'p50     p95     max':>24}")
        for key, label in (
            ("after_end_s", "from the poll's end"),
            ("after_start_s", "from the poll's start"),
            ("after_recorded_s", "from the alerts recorded (after_extract)"),
        ):
            write(f"{label:<46}{_fmt(loop[key]):>24}{_fmt(plain[key]):>24}")
        write(f"{'medians per run:':<46}")
        for key, label, fmt in (
            ("alerts", "alerts", ".0f"),
            ("messages", "messages posted", ".0f"),
            ("failed_posts", "posts refused", ".0f"),
            ("edits", "edits", ".0f"),
            ("poll_s", "poll (s)", ".3f"),
            ("alerts_recorded_s", "poll's start -> alerts recorded (s)", ".3f"),
            ("plain_call_s", "the plain deliver_alerts call (s)", ".3f"),
            ("other_cores", "CPU cores other processes kept busy", ".2f"),
        ):
            values = [x["median"][key] for x in (loop, plain)]
            cells = "".join(f"{format(v, fmt) if v == v else '-':>24}" for v in values)
            write(f"  {label:<44}{cells}")
        g = a["goal"]
        write(
            f"Goal: p95 <= {ALERT_GOAL_S:.0f} s from the poll's end to each alert's message, "
            f"delivery loop: {g['measured_s']:.3f} s, {'met' if g['met'] else 'NOT met'}"
        )
        write("Per run (from the poll's end: p50 / p95 / max s; alerts; others' cores):")
        for i in range(meta["runs"]):
            parts = []
            for x in (loop, plain):
                r = x["runs"][i]
                e = r["after_end"]
                parts.append(
                    f"{x['label']} {e['p50']:.3f} / {e['p95']:.3f} / {e['max']:.3f}; "
                    f"{r['alerts']} alerts ({r['other_cores']:.2f})"
                )
            write(f"  run {i + 1} ({a['orders'][i]}): " + "; ".join(parts))
        busy = [
            i + 1
            for i in range(meta["runs"])
            if any(x["runs"][i]["other_cores"] > BUSY_CORES for x in (loop, plain))
        ]
        if busy:
            write(
                f"  Other processes kept more than {BUSY_CORES} cores busy in run(s) "
                f"{', '.join(map(str, busy))}: those timings are not reliable."
            )
    if "ask" in doc:
        k = doc["ask"]
        write("")
        write(
            f"== /ask at {k['size']:,} passages (bench/ask.py's corpus; the guild's workspace "
            f"sees {k['visible_passages']:,}) =="
        )
        write(
            f"  {k['asks']} timed asks after {meta['questions']} warm-up questions, each through "
            "the fake Discord and as the plain call, alternating which goes first"
        )
        write(f"{'(ms)':<46}{'p50':>8}{'p95':>8}{'mean':>8}{'max':>8}")
        for key, label in (
            ("first_response", "Discord: first response (the defer)"),
            ("followup", "Discord: follow-up (the answer embed)"),
            ("plain", "plain: await commands.ask(...)"),
            ("followup_minus_plain", "follow-up minus plain, ask by ask"),
        ):
            p = k[key]
            write(
                f"{label:<46}{p['p50_ms']:>8.1f}{p['p95_ms']:>8.1f}{p['mean_ms']:>8.1f}"
                f"{p['max_ms']:>8.1f}"
            )
        write(
            f"  deferred {k['deferred']}/{k['asks']}, answered with an embed "
            f"{k['answer_embeds']}/{k['asks']}, plain answers with citations "
            f"{k['answered_with_citations']}/{k['asks']}; other processes kept "
            f"{k['other_cores']:.2f} CPU cores busy"
        )
        for r in k["not_answered"][:5]:
            write(f"  no embed: {r['question']}: {r['text']}")
        p95 = k["first_response"]["p95_ms"]
        write(
            f"Goal: first response p95 <= {DEFER_GOAL_MS:.0f} ms: {p95:.1f} ms, "
            f"{'met' if k['goal']['met'] else 'NOT met'}"
            + (" (timings not reliable: others were busy)" if k["other_cores"] > BUSY_CORES else "")
        )
    if doc.get("skipped_terms"):
        write("")
        write(
            f"Watch terms refused and replaced by the next candidate: {len(doc['skipped_terms'])}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/discord_alerts.py",
        description="What a Discord user waits for, through the fake Discord of the tests: "
        "alerts after a poll (delivery loop against a plain deliver call) and /ask (first "
        "response and follow-up against the plain commands.ask).",
    )
    parser.add_argument("--runs", type=int, default=3, help="alert polls per way (default 3)")
    parser.add_argument(
        "--articles", type=int, default=50, help="new articles per poll (default 50)"
    )
    parser.add_argument("--asks", type=int, default=100, help="timed /ask questions (default 100)")
    parser.add_argument(
        "--size", type=int, default=10_000, help="passages of the /ask corpus (default 10000)"
    )
    parser.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    parser.add_argument("--only", choices=("alerts", "ask"), help="run one part only")
    add_backend_option(parser)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.articles < 1 or args.asks < 1 or args.size < 100:
        parser.error("--runs, --articles and --asks take 1 or more, --size 100 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = find_shared_data("bench/discord_alerts.py")
    if data is None:
        return 2
    feeds_dir = data / "news_feeds"
    import torch

    cache_dir = Settings(_env_file=None).cache_path
    _progress(f"loading {DEFAULT_MODEL} ({args.backend}) and the extractor ...")
    started = time.perf_counter()
    embedder = load_embedder(DEFAULT_MODEL, args.backend, cache_dir=cache_dir / "models")
    extractor = Extractor.load(embedder, cache_dir / "gazetteer") if args.only != "ask" else None
    load_s = time.perf_counter() - started
    doc: dict[str, Any] = {
        "meta": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "discord": importlib.metadata.version("discord.py"),
            "model": embedder.model_id,
            "load_s": load_s,
            "runs": args.runs,
            "articles": args.articles,
            "asks": args.asks,
            "size": args.size,
            "seed": args.seed,
            "questions": len(ask_bench.QUESTIONS),
            "alert_digest_after": DIGEST_AFTER,
            "alert_rate_per_hour": RATE_PER_HOUR,
        }
    }
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-discord-") as tmp:
        if extractor is not None:
            created_at = datetime.now(UTC).replace(microsecond=0)
            picked = alerts_bench.pick_articles(feeds_dir, args.articles, created_at)
            if len(picked) < args.articles:
                _progress(
                    f"only {len(picked)} usable entries in {feeds_dir}, {args.articles} wanted"
                )
                return 2
            bodies = alerts_bench.feed_bodies(picked, created_at + alerts_bench.PUBLISHED_AFTER)
            env = alerts_bench.Env(
                bodies,
                embedder,
                extractor,
                alerts_bench.watch_candidates(extractor),
                cache_dir,
                created_at,
            )
            doc["alerts"] = measure_alerts(env, args.runs, Path(tmp))
            doc["skipped_terms"] = doc["alerts"].pop("skipped_terms")
            doc["meta"]["feeds"] = len(bodies)
        if args.only != "alerts":
            cfg = ask_bench.Config(
                asks=args.asks, warmup=len(ask_bench.QUESTIONS), k=5, noise=0.02, seed=args.seed
            )
            corpus = ask_bench.prepare_corpus(
                feeds_dir, embedder, cache_dir / "gazetteer", _progress
            )
            doc["ask"] = asyncio.run(_ask_part(corpus, embedder, cfg, args.size, Path(tmp)))
    if args.json:
        print(json.dumps(finite(doc), indent=2, allow_nan=False))
    else:
        print_text(doc, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
