"""The `wirewatch` command line: watches muted, removed, ambiguous or refused; the console
script's one-line error; a failing feed that stays with its feed; ask's bad input; the
--guild workspace; and the invite URL.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.bot.cli_helpers import (
    FEEDS,
    PUBLIC_URL,
    assert_iso_utc,
    clean_env_fixture,  # noqa: F401
    data_dir_fixture,  # noqa: F401
    doc_of,
    entries_in,
    error_line,
    feeds_of,
    run_subprocess,
    wirewatch,
)


def test_watch_mute_unmute_remove(data_dir: Path) -> None:
    added = doc_of(wirewatch(data_dir, "watch", "add", "ceasefire", "--json"))
    assert (added["kind"], added["canonical"]) == ("keyword", "ceasefire")
    wid = str(added["watch_id"])
    muted = doc_of(wirewatch(data_dir, "watch", "mute", wid, "2h", "--json"))
    until = assert_iso_utc(muted["muted_until"])
    assert timedelta(hours=1, minutes=59) < until - datetime.now(UTC) <= timedelta(hours=2)
    [listed] = doc_of(wirewatch(data_dir, "watch", "list", "--json"))["watches"]
    assert listed["muted_until"] == muted["muted_until"]
    wirewatch(data_dir, "watch", "unmute", wid)
    [listed] = doc_of(wirewatch(data_dir, "watch", "list", "--json"))["watches"]
    assert listed["muted_until"] is None
    other = "discord:1:2"
    assert doc_of(wirewatch(data_dir, "watch", "list", "--channel", other, "--json")) == {
        "watches": []
    }
    says = error_line(wirewatch(data_dir, "watch", "remove", wid, "--channel", other, code=2))
    assert f"no watch {wid}" in says
    assert doc_of(wirewatch(data_dir, "watch", "remove", wid, "--json")) == {"removed": int(wid)}
    assert doc_of(wirewatch(data_dir, "watch", "list", "--json")) == {"watches": []}


def test_an_ambiguous_watch_exits_2_with_the_choices(data_dir: Path) -> None:
    result = wirewatch(data_dir, "watch", "add", "Tripoli", "--json", code=2)
    doc = doc_of(result)
    assert "ambiguous" in error_line(result)
    terms = [c["term"] for c in doc["choices"]]
    assert any("Lebanon" in c["label"] for c in doc["choices"])
    picked = next(c for c in doc["choices"] if "Lebanon" in c["label"])
    added = doc_of(wirewatch(data_dir, "watch", "add", picked["term"], "--json"))
    assert added["kind"] == "place" and picked["term"] in terms


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["(car bomb"], "bad keyword query"),
        (["Deir ez-Zor", "--radius", "20"], "needs a town"),
        (["ISIL", "--radius", "20"], "for place watches"),
        (["ISIL", "--channel", "#ops"], "is not a channel"),
        (["ISIL", "--type", "parades"], "unknown event type"),
        (["ISIL", "--backfill", "yesterday"], "backfill"),
        (["Qwzxbury", "--kind", "place"], "no place called"),
        (["ISIL", "--min-killed", "0"], "min killed takes 1 or more"),
    ],
)
def test_watch_add_refuses_bad_input(data_dir: Path, args: list[str], says: str) -> None:
    assert says in error_line(wirewatch(data_dir, "watch", "add", *args, code=2))
    assert doc_of(wirewatch(data_dir, "stats", "--json"))["watches"] == 0


def test_watch_mute_refuses_a_bad_duration(data_dir: Path) -> None:
    wid = str(doc_of(wirewatch(data_dir, "watch", "add", "ceasefire", "--json"))["watch_id"])
    assert "not a duration" in error_line(wirewatch(data_dir, "watch", "mute", wid, "soon", code=2))


def test_the_console_script_exits_2_with_one_line(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("wirewatch")
    assert script.is_file(), "the `wirewatch` console script is not installed beside python"
    proc = run_subprocess(
        str(script),
        "--data-dir",
        str(tmp_path / "data"),
        "feeds",
        "add",
        "ftp://example.com/feed.xml",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: only http")


# ---- a failing feed stays with its feed -------------------------------------------------------
def test_a_failing_feed_is_recorded_and_the_others_still_ingested(
    httpserver_ipv4: HTTPServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = FEEDS["tigris_daily.xml"]
    httpserver_ipv4.expect_request("/good.xml").respond_with_data(
        body, content_type="application/rss+xml"
    )
    httpserver_ipv4.expect_request("/broken.xml").respond_with_data("oops", status=500)
    monkeypatch.setenv("WIREWATCH_ALLOWED_NETWORKS", "127.0.0.1/32")
    good = httpserver_ipv4.url_for("/good.xml")
    broken = httpserver_ipv4.url_for("/broken.xml")
    wirewatch(data_dir, "feeds", "add", broken)
    wirewatch(data_dir, "feeds", "add", good)

    result = wirewatch(data_dir, "-v", "poll", "--once", "--json")
    doc = doc_of(result)  # the logs -v asked for went to stderr
    assert (doc["feeds_polled"], doc["failed_feeds"]) == (2, 1)
    assert doc["new_articles"] == entries_in(body) > 0
    assert "HTTP 500" in result.stderr and broken in result.stderr

    feeds = {f["url"]: f for f in feeds_of(data_dir)}
    assert feeds[broken]["error_count"] == 1 and feeds[broken]["last_status"] == "error"
    assert "HTTP 500" in feeds[broken]["last_error"] and feeds[broken]["articles"] == 0
    assert feeds[broken]["enabled"] is True
    assert_iso_utc(feeds[broken]["last_polled_at"])
    assert feeds[good]["error_count"] == 0 and feeds[good]["last_error"] is None
    assert feeds[good]["articles"] == entries_in(body)
    assert doc_of(wirewatch(data_dir, "stats", "--json"))["articles"] == entries_in(body)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["   "], "the question is empty"),
        ([], "give a QUESTION or --batch FILE"),
        (["what?", "--batch", "q.txt"], "give a QUESTION or --batch FILE"),
        (["what?", "--k", "0"], "k takes 1 to 20"),
        (["what?", "--channel", "#ops"], "is not a channel"),
        (["--batch", "missing.txt"], "cannot read missing.txt"),
    ],
)
def test_ask_refuses_bad_input(data_dir: Path, args: list[str], says: str) -> None:
    assert says in error_line(wirewatch(data_dir, "ask", *args, code=2))


def test_guild_flag_acts_on_that_servers_workspace(data_dir: Path) -> None:
    doc = doc_of(wirewatch(data_dir, "feeds", "add", PUBLIC_URL, "--guild", "42", "--json"))
    assert feeds_of(data_dir) == []  # the console's feeds
    listed = doc_of(wirewatch(data_dir, "feeds", "list", "--guild", "42", "--json"))["feeds"]
    assert [f["feed_id"] for f in listed] == [doc["feed_id"]]
    assert doc_of(wirewatch(data_dir, "feeds", "list", "--guild", "43", "--json"))["feeds"] == []
    stats = doc_of(wirewatch(data_dir, "stats", "--guild", "42", "--json"))
    assert stats["feeds"] == 1
    assert "not a channel of --guild 42" in error_line(
        wirewatch(data_dir, "alerts", "--guild", "42", "--channel", "discord:7:8", code=2)
    )
    assert "--guild needs --channel" in error_line(
        wirewatch(data_dir, "watch", "add", "ISIL", "--guild", "42", code=2)
    )
    wirewatch(data_dir, "feeds", "remove", str(doc["feed_id"]), code=2)  # not the console's
    wirewatch(data_dir, "feeds", "remove", str(doc["feed_id"]), "--guild", "42")


def test_invite_prints_the_oauth2_url_with_only_the_needed_permissions(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    ident = base64.b64encode(b"123456789012345678").decode().rstrip("=")
    monkeypatch.setenv("WIREWATCH_DISCORD_TOKEN", f"{ident}.GhIjKl.secret-part")
    url = wirewatch(data_dir, "invite").stdout.strip()
    assert url.startswith("https://discord.com/oauth2/authorize?")
    assert "client_id=123456789012345678" in url
    assert "scope=bot+applications.commands" in url
    # View Channel (1 << 10), Send Messages (1 << 11), Embed Links (1 << 14),
    # Read Message History (1 << 16), nothing more
    assert f"permissions={(1 << 10) | (1 << 11) | (1 << 14) | (1 << 16)}" in url
    assert "secret-part" not in url
    assert "client_id=99" in wirewatch(data_dir, "invite", "--client-id", "99").stdout
    monkeypatch.setenv("WIREWATCH_DISCORD_TOKEN", "not-a-token")
    assert "--client-id" in error_line(wirewatch(data_dir, "invite", code=2))
