"""A full `wirewatch run` as a subprocess, the way an operator runs it: the real model, feeds on
127.0.0.1, the fake Discord (tests/fakediscord/), WIREWATCH_METRICS_PORT and JSON logs at
DEBUG. /healthz and /metrics are read with a real HTTP client while it runs; its whole log is
then grepped for the secrets and read line by line. Nothing here asserts on timing."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.app import open_app
from bot.core import commands
from bot.settings import Settings
from index.extract.extractor import Extractor
from tests.bot.discord_delivery_helpers import (  # noqa: F401
    ALPHA,
    ALPHA_WS,
    NEWS,
    NEWS_CH,
    fake_fixture,
    run_env,
    start_run,
)
from tests.bot.test_health import _sample
from tests.fakediscord import FakeDiscord
from tests.index.test_ingest import MOSUL, item, rss

ROOT = Path(__file__).resolve().parents[2]
LLM_KEY = "sk-llm-key-never-shown-4821"


def _lines(log_path: Path) -> list[dict[str, Any]]:
    text = log_path.read_text(encoding="utf-8", errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _tail(log_path: Path) -> str:
    return log_path.read_text(encoding="utf-8", errors="replace")[-4000:]


async def _wait_for_line(log_path: Path, process: Any, predicate: Any) -> dict[str, Any]:
    async with asyncio.timeout(240):
        while True:
            assert process.returncode is None, _tail(log_path)
            for line in _lines(log_path):
                if predicate(line):
                    return line
            await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_a_run_serves_health_and_metrics_and_never_logs_a_secret(
    settings: Settings,
    tmp_path: Path,
    model_cache: Path,
    gazetteer_cache: Path,
    extractor: Extractor,  # builds the gazetteer the process loads
    fake: FakeDiscord,  # noqa: F811
    httpserver_ipv4: HTTPServer,
) -> None:
    env = run_env(
        tmp_path,
        model_cache,
        gazetteer_cache,
        fake,
        WIREWATCH_LLM_API_KEY=LLM_KEY,
        WIREWATCH_METRICS_PORT="0",
        WIREWATCH_LOG_FORMAT="json",
        WIREWATCH_LOG_LEVEL="DEBUG",
        WIREWATCH_SCHEDULER_TICK_S="1",
    )
    settings = settings.model_copy(
        update={"data_dir": Path(env["WIREWATCH_DATA_DIR"]), "cache_dir": tmp_path / "cache"}
    )

    def feed(request: Request) -> Response:  # published when fetched: after the watch exists
        when = format_datetime(datetime.now(UTC))
        return Response(rss([item("m1", "Car bomb in Mosul market", MOSUL, date=when)]))

    httpserver_ipv4.expect_request("/feed.xml").respond_with_handler(feed)
    async with open_app(settings, with_model=False) as app:
        await commands.add_feed(app, httpserver_ipv4.url_for("/feed.xml"), workspace=ALPHA_WS)
        await commands.watch_add(app, "Mosul", channel=NEWS_CH)

    log_path = tmp_path / "run.log"
    process = await start_run(env, log_path)
    try:
        line = await _wait_for_line(log_path, process, lambda d: "/healthz" in d["msg"])
        base = line["msg"].rsplit(" ", 1)[1]
        assert base.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            async with asyncio.timeout(240):  # connected to the fake, a poll cycle finished
                while (health := await client.get("/healthz")).status_code != 200:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            assert health.json()["discord"] == "connected"
            [alert] = await fake.wait_for_messages(NEWS, 1, timeout=240)
            assert "Mosul" in json.dumps(alert)
            status = await (await fake.invoke("status", channel_id=NEWS)).final()
            answer = await (
                await fake.invoke("ask", {"question": "car bomb in Mosul?"}, channel_id=NEWS)
            ).final(timeout=120)
            for shown in (status, answer):
                assert fake.token not in json.dumps(shown) and LLM_KEY not in json.dumps(shown)
            metrics = (await client.get("/metrics")).text
        assert _sample(metrics, "wirewatch_feeds_polled_total") >= 1
        assert _sample(metrics, "wirewatch_articles_ingested_total") == 1
        assert _sample(metrics, "wirewatch_events_extracted_total") >= 1
        assert _sample(metrics, "wirewatch_alerts_queued_total") == 1
        assert _sample(metrics, "wirewatch_alerts_sent_total") == 1
        assert _sample(metrics, "wirewatch_alert_delay_seconds_count") == 1
        assert _sample(metrics, "wirewatch_ask_seconds_count") == 1
        assert _sample(metrics, "wirewatch_discord_connected") == 1
        assert _sample(metrics, "wirewatch_outbox_alerts") == 0
        assert _sample(metrics, "wirewatch_index_vectors") >= 1
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = log_path.read_text(encoding="utf-8", errors="replace")
    assert code == 0, text[-4000:]
    assert fake.token not in text and LLM_KEY not in text
    lines = _lines(log_path)  # every line is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= set(d) for d in lines)
    polled = [d for d in lines if d["msg"].startswith("feed polled")]
    assert polled and all("feed_id" in d and "feed_url" in d for d in polled)
    [delivered] = [d for d in lines if d["msg"] == "alert delivered"]
    assert delivered["alert_ids"] and delivered["target"] == NEWS_CH
    commands_run = {d["msg"]: d for d in lines if d["msg"] in ("/status", "/ask")}
    assert set(commands_run) == {"/status", "/ask"}
    assert all(d["guild_id"] == ALPHA and d["user_id"] for d in commands_run.values())
