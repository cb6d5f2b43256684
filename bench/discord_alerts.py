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
The parts: bench/discord_alerts_bot.py (the bot on the fake Discord),
bench/discord_alerts_delivery.py (the alerts part), bench/discord_alerts_ask.py (the /ask part)
and bench/discord_alerts_report.py (the printed report).

  .venv/bin/python bench/discord_alerts.py [--runs 3] [--articles 50] [--asks 100] [--size 10000]
      [--only alerts|ask] [--backend auto] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: bench, tests

from bench import alerts_inputs  # noqa: E402
from bench import ask as ask_bench  # noqa: E402
from bench.alerts_poll import Env  # noqa: E402
from bench.discord_alerts_ask import ask_part  # noqa: E402
from bench.discord_alerts_bot import progress  # noqa: E402
from bench.discord_alerts_delivery import DIGEST_AFTER, RATE_PER_HOUR, measure_alerts  # noqa: E402
from bench.discord_alerts_report import print_text  # noqa: E402
from bench.ingest import find_shared_data  # noqa: E402
from bench.load import add_backend_option, finite  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.extract.extractor import Extractor  # noqa: E402
from index.retrieve.embed import DEFAULT_MODEL, load_embedder  # noqa: E402


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
    progress(f"loading {DEFAULT_MODEL} ({args.backend}) and the extractor ...")
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
            picked = alerts_inputs.pick_articles(feeds_dir, args.articles, created_at)
            if len(picked) < args.articles:
                progress(
                    f"only {len(picked)} usable entries in {feeds_dir}, {args.articles} wanted"
                )
                return 2
            bodies = alerts_inputs.feed_bodies(picked, created_at + alerts_inputs.PUBLISHED_AFTER)
            env = Env(
                bodies,
                embedder,
                extractor,
                alerts_inputs.watch_candidates(extractor),
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
                feeds_dir, embedder, cache_dir / "gazetteer", progress
            )
            doc["ask"] = asyncio.run(ask_part(corpus, embedder, cfg, args.size, Path(tmp)))
    if args.json:
        print(json.dumps(finite(doc), indent=2, allow_nan=False))
    else:
        print_text(doc, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
