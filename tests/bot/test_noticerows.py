"""The feed notices behind their interface (bot/store/noticerows.py), on each engine: a real SQLite
file and a real PostgreSQL database run the same test bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.noticerows import NoticedFeed, NoticeText
from tests.engines import Engine

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
URL = "https://example.org/feed.xml"
FAILING = NoticeText(reason="HTTP 503", title="Feed failing", body="A has failed for 2 hours.")
RECOVERED = NoticeText(reason="HTTP 503", title="Feed recovered", body="A works again.")


async def test_failing_feeds_are_noticed_once_and_their_end_once(engine: Engine) -> None:
    rows = engine.notices
    console = await engine.workspace("console", NOW)
    guild = await engine.workspace("discord:1", NOW)
    feed = await engine.follow(console, URL, NOW, channel="console", name="A")
    assert await engine.follow(guild, URL, NOW, channel="discord:1:9", name=None) == feed
    await engine.follow(console, "https://example.org/other.xml", NOW, channel=None, name="B")
    assert await rows.failing_unnoticed(NOW) == []

    await engine.set_failing(feed, NOW - timedelta(hours=2), "HTTP 503")
    assert await rows.failing_unnoticed(NOW - timedelta(hours=3)) == []  # not failing so long
    failing = await rows.failing_unnoticed(NOW - timedelta(hours=1))
    assert [(f.workspace_id, f.workspace, f.channel, f.name) for f in failing] == [
        (console, "console", "console", "A"),
        (guild, "discord:1", "discord:1:9", None),
    ]
    first = failing[0]
    assert (first.feed_id, first.url, first.failing_since) == (feed, URL, NOW - timedelta(hours=2))
    assert (first.last_error, first.error_count, first.enabled) == ("HTTP 503", 3, True)

    assert await rows.record_failing(first, FAILING, ["console"], NOW)
    assert not await rows.record_failing(first, FAILING, ["console"], NOW)  # remembered already
    assert [f.workspace_id for f in await rows.failing_unnoticed(NOW)] == [guild]
    [notice] = await rows.find(workspace_id=console)
    assert (notice.kind, notice.channel, notice.feed_id, notice.feed_url, notice.feed_name) == (
        "feed_failing",
        "console",
        feed,
        URL,
        "A",
    )
    assert (notice.reason, notice.title, notice.body) == (
        FAILING.reason,
        FAILING.title,
        FAILING.body,
    )
    assert (notice.failing_since, notice.created_at) == (NOW - timedelta(hours=2), NOW)
    assert (notice.delivered_at, notice.send_key, notice.attempts, notice.failed) == (
        None,
        None,
        0,
        False,
    )
    assert await rows.noticed_and_over() == []  # still failing since the same time

    await engine.set_failing(feed, None)
    over = await rows.noticed_and_over()
    assert over == [
        NoticedFeed(
            workspace_id=console,
            feed_id=feed,
            failing_since=NOW - timedelta(hours=2),
            reason="HTTP 503",
            channels=("console",),
            name="A",
            url=URL,
            subscribed=True,
        )
    ]
    assert await rows.record_over(over[0], RECOVERED, over[0].channels, NOW + timedelta(hours=1))
    assert not await rows.record_over(over[0], RECOVERED, over[0].channels, NOW)
    assert await rows.noticed_and_over() == []
    assert [n.kind for n in await rows.find(workspace_id=console)] == [
        "feed_recovered",
        "feed_failing",
    ]


async def test_a_new_run_of_failures_or_an_unfollowed_feed_ends_the_notice(
    engine: Engine,
) -> None:
    rows = engine.notices
    console = await engine.workspace("console", NOW)
    guild = await engine.workspace("discord:1", NOW)
    feed = await engine.follow(console, URL, NOW, channel="console", name="A")
    await engine.follow(guild, URL, NOW, channel="discord:1:9", name=None)
    await engine.set_failing(feed, NOW - timedelta(hours=2), "timed out")
    for failing in await rows.failing_unnoticed(NOW):
        assert await rows.record_failing(failing, FAILING, [failing.channel or "x"], NOW)

    await engine.unfollow(guild, feed)
    [gone] = await rows.noticed_and_over()
    assert (gone.workspace_id, gone.subscribed, gone.name, gone.channels) == (
        guild,
        False,
        None,  # no subscription's name, and the feed has no title
        ("discord:1:9",),
    )
    await engine.set_failing(feed, NOW - timedelta(minutes=30), "timed out")  # another run
    assert [(o.workspace_id, o.subscribed) for o in await rows.noticed_and_over()] == [
        (console, True),
        (guild, False),
    ]


async def test_the_outbox_claim_deliver_retry_and_give_up(engine: Engine) -> None:
    rows = engine.notices
    console = await engine.workspace("console", NOW)
    feed = await engine.follow(console, URL, NOW, channel="c1", name="A")
    await engine.set_failing(feed, NOW - timedelta(hours=2), "HTTP 503")
    [failing] = await rows.failing_unnoticed(NOW)
    assert await rows.record_failing(failing, FAILING, ["c1", "c2", "c3"], NOW)
    due = await rows.due(NOW)
    assert [n.channel for n in due] == ["c1", "c2", "c3"]  # oldest first
    one, two, three = (n.notice_id for n in due)

    await rows.claim([one], "send-1")
    assert [n.send_key for n in await rows.find(channel="c1")] == ["send-1"]
    await rows.delivered([one], NOW + timedelta(minutes=1, milliseconds=400))
    [sent] = await rows.find(channel="c1")
    assert (sent.delivered_at, sent.send_key) == (NOW + timedelta(minutes=1), None)  # to the second
    assert [n.notice_id for n in await rows.due(NOW)] == [two, three]

    retry_at = NOW + timedelta(minutes=10)
    await rows.failed([two], attempts=1, retry_at=retry_at, error="HTTP 500", permanent=False)
    await rows.failed([three], attempts=1, retry_at=retry_at, error="forbidden", permanent=True)
    assert await rows.due(NOW + timedelta(minutes=5)) == []
    [retry] = await rows.due(retry_at)
    assert (retry.notice_id, retry.attempts, retry.next_attempt_at, retry.last_error) == (
        two,
        1,
        retry_at,
        "HTTP 500",
    )
    assert [n.notice_id for n in await rows.find(pending_only=True)] == [two]
    assert [n.notice_id for n in await rows.find(workspace_id=console, limit=2)] == [three, two]
    assert await rows.find(workspace_id=console + 1) == []

    await rows.give_up_channel("c2", "channel gone")
    assert await rows.due(NOW + timedelta(days=1)) == []
    [given_up] = await rows.find(channel="c2")
    assert (given_up.failed, given_up.attempts, given_up.next_attempt_at, given_up.last_error) == (
        True,
        2,
        None,
        "channel gone",
    )
    await rows.claim([], "send-2")  # no notices: nothing to do
