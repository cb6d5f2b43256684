"""The /ask part of bench/discord_alerts.py: bench/ask.py's corpus built in a data dir that the
guild's workspace sees, and each question asked through the fake Discord's slash command and
through the plain command-layer call, timed."""

from __future__ import annotations

import random
import time
import warnings
from pathlib import Path
from typing import Any

from bench import ask as ask_bench
from bench.discord_alerts_bot import (
    CHANNEL_ID,
    GUILD_ID,
    bench_guild,
    bot_log_out,
    bot_logged_in,
    progress,
)
from bench.load import OtherLoad
from bench.search import percentiles
from bot.app import open_app
from bot.core import commands
from bot.settings import Settings
from index.retrieve.embed import Embedder
from tests.fakediscord import FakeDiscord, point_discord_at

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    from bot.adapters.discord.chat import workspace_name

DEFER_GOAL_MS = 300.0  # p95 of the first response to /ask
ANSWER_TIMEOUT_S = 60.0


async def ask_part(
    corpus: ask_bench.Corpus,
    embedder: Embedder,
    cfg: ask_bench.Config,
    size: int,
    workdir: Path,
) -> dict[str, Any]:
    settings = Settings(_env_file=None, data_dir=workdir / f"ask{size}")
    progress(f"/ask: storing {size:,} passages (bench/ask.py's build) ...")
    built = await ask_bench.build(settings, size, corpus, embedder, cfg, progress)
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
        async with FakeDiscord([bench_guild()]) as fake:
            with point_discord_at(fake):
                bot, gateway = await bot_logged_in(app, fake, settings.data_dir)
                try:
                    return await _asks(app, fake, workspace, cfg) | {
                        "size": size,
                        "build": built,
                        "visible_passages": seen_guild,
                    }
                finally:
                    await bot_log_out(bot, gateway)


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
    progress(f"/ask: {len(warm)} warm-up questions through both paths ...")
    for question in warm:
        await _discord_ask(fake, question)
        await commands.ask(app, question, k=cfg.k, workspace=workspace)
    plan: list[str] = []
    while len(plan) < cfg.asks:
        batch = [q for _, q in ask_bench.QUESTIONS]
        rng.shuffle(batch)
        plan.extend(batch)
    plan = plan[: cfg.asks]
    progress(f"/ask: {len(plan)} timed questions, each through both paths ...")
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
