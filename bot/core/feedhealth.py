"""Stage: feeds failing without a break (feeds.failing_since) -> notices to the channels that
follow them -> a chat. Side effects: reads feeds, subscriptions and watches; writes
`feed_notice_state` and `feed_notices` (through bot/store/noticerows.py); posts through a ChatPort.

A feed that has failed for longer than a grace period gets one notice in each channel that
follows it, naming the reason, and one more there when it works again; never one per failed
poll: `feed_notice_state` remembers, per workspace and feed, that the workspace was told.
Notices have their own outbox and go out as alerts do: recorded before they are posted, marked
after, under the same key `n<notice_id>` on every try. More than `AlertPolicy.digest_after`
notices due in one channel at once (every feed fails when the bot's own network is down) go
out as one message that lists them.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import datetime, timedelta

from bot.core.delivery import AlertPolicy, give_up_channel, next_try
from bot.core.ports import Card, ChatPort, DeliveryError
from bot.core.watches import watch_rows
from bot.store import notice_rows as store_notice_rows
from bot.store.noticerows import (
    Notice,
    NoticeRows,
    NoticeText,
)
from index.errors import StoreError
from index.store.interfaces import Storage
from index.timeutil import from_iso, to_iso

log = logging.getLogger(__name__)

CONSOLE = "console"
REASON_CHARS = 80
DIGEST_LINES = 15

# The stored error (index/fetch/feeds.py, index/fetch/parse.py, index/ingest.py) -> a short phrase.
_HTTP_STATUS = re.compile(r"^HTTP (\d{3})\b")
_NOT_A_FEED = (
    "empty body",
    "not an RSS or Atom feed",
    "no entries;",
    "feedparser failed:",
    "entities would expand",
)


def classify_error(error: str | None) -> str:
    """A short phrase for a feed's stored error: "HTTP 503", "timed out", "DNS lookup failed",
    "TLS error", "refused address" (the SSRF guard), "not a feed", "too large", "could not
    connect", "too many redirects", else the error itself, shortened."""
    text = " ".join((error or "").split())
    if not text:
        return "unknown error"
    if found := _HTTP_STATUS.match(text):
        return f"HTTP {found[1]}"
    if text.startswith("timed out"):
        return "timed out"
    if "could not resolve" in text:
        return "DNS lookup failed"
    if text.startswith("refused to connect to "):  # the SSRF guard (AddressBlocked)
        return "refused address"
    if re.search(r"\b(SSL|TLS)\b|certificate", text, re.IGNORECASE):
        return "TLS error"
    if text.startswith("body too large"):
        return "too large"
    if text.startswith(_NOT_A_FEED):
        return "not a feed"
    if text.startswith("could not connect"):
        return "could not connect"
    if text.startswith("too many redirects"):
        return "too many redirects"
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1].rstrip() + "…"


# ---- recording ---------------------------------------------------------------------------------
def notice_rows(store: Storage) -> NoticeRows:
    """The notice tables of `store`."""
    return store_notice_rows(store)


async def check_feed_health(store: Storage, *, now: datetime, grace: timedelta) -> int:
    """Record the notices due after a poll: a feed failing since `grace` ago or longer, that a
    workspace following it has not been told of, gives one notice per channel of that
    subscription; a feed the workspace was told of that works again gives one notice to the
    same channels. Returns how many notices were recorded."""
    rows = notice_rows(store)
    recorded = await _recoveries(rows, now)
    for feed in await rows.failing_unnoticed(now - grace):
        reason = classify_error(feed.last_error)
        name = feed.name or feed.url
        channels = await _channels(store, feed.workspace_id, feed.workspace, feed.channel)
        title, body = failing_text(
            name,
            reason,
            now - feed.failing_since,
            disabled_after=None if feed.enabled else feed.error_count,
        )
        if not await rows.record_failing(feed, NoticeText(reason, title, body), channels, now):
            continue  # another check got there first
        recorded += len(channels)
        log.info(
            "feed failing since %s (%s): %d channels told",
            to_iso(feed.failing_since),
            reason,
            len(channels),
            extra={"feed_url": feed.url},
        )
    return recorded


async def _recoveries(rows: NoticeRows, now: datetime) -> int:
    """Notices for the feeds that work again; the state of a subscription that was removed
    meanwhile goes without one."""
    recorded = 0
    for feed in await rows.noticed_and_over():
        channels = feed.channels if feed.subscribed else ()
        title, body = recovered_text(feed.name or feed.url, feed.reason, now - feed.failing_since)
        if not await rows.record_over(feed, NoticeText(feed.reason, title, body), channels, now):
            continue
        recorded += len(channels)
        if channels:
            log.info(
                "feed works again: %d channels told", len(channels), extra={"feed_url": feed.url}
            )
    return recorded


async def _channels(
    store: Storage, workspace_id: int, workspace: str, channel: str | None
) -> list[str]:
    """Where a subscription's notices go: the channel it was added in; else every channel of
    the workspace with a watch that is not paused; else, for the console, the console."""
    if channel:
        return [channel]
    if found := await watch_rows(store).active_channels(workspace_id):
        return found
    return [CONSOLE] if workspace == CONSOLE else []


def failing_text(
    name: str, reason: str, failing_for: timedelta, *, disabled_after: int | None
) -> tuple[str, str]:
    """Title and body of a 'feed_failing' notice."""
    body = f"No news from {name} for {duration(failing_for)}: fetching it fails ({reason})."
    if disabled_after is None:
        body += " It is tried again less and less often; a notice follows when it works again."
    else:
        body += (
            f" It was disabled after {disabled_after} failures in a row; re-add the feed to "
            "enable it again."
        )
    return f"Feed failing: {name}", body


def recovered_text(name: str, reason: str, failed_for: timedelta) -> tuple[str, str]:
    """Title and body of a 'feed_recovered' notice."""
    return (
        f"Feed working again: {name}",
        f"{name} works again, after failing for {duration(failed_for)} ({reason}).",
    )


def duration(span: timedelta) -> str:
    """ "45 min", "1 h 5 min", "2 d 3 h" (rounded down to the minute)."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def _when(value: str | None) -> str:
    at = from_iso(value)
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "?"


# ---- reading -----------------------------------------------------------------------------------
def notice_card(notice: Notice) -> Card:
    """One notice, as a card."""
    fields = [
        ("Feed", notice.feed_name or notice.feed_url),
        ("Reason", notice.reason),
        ("Failing since", _when(to_iso(notice.failing_since))),
    ]
    if notice.kind == "feed_recovered":
        fields.append(("Working again since", _when(to_iso(notice.created_at))))
    return Card(
        title=notice.title,
        url=notice.feed_url,
        body=notice.body,
        fields=tuple(fields),
        kind="notice",
        ref=f"notice {notice.notice_id}",
    )


async def list_notices(
    store: Storage,
    *,
    workspace_id: int | None = None,
    channel: str | None = None,
    pending_only: bool = False,
    limit: int = 50,
) -> list[Notice]:
    """Feed notices, newest first."""
    return await notice_rows(store).find(
        workspace_id=workspace_id, channel=channel, pending_only=pending_only, limit=limit
    )


def digest_card(notices: list[Notice]) -> Card:
    """Many notices at once, in one message."""
    kinds = {n.kind for n in notices}
    title = (
        f"{len(notices)} feeds failing"
        if kinds == {"feed_failing"}
        else f"{len(notices)} feeds working again"
        if kinds == {"feed_recovered"}
        else f"{len(notices)} feed notices"
    )
    items = []
    for n in notices[:DIGEST_LINES]:
        state = "failing since" if n.kind == "feed_failing" else "working again; failed since"
        detail = f"{state} {_when(to_iso(n.failing_since))}: {n.reason}"
        items.append((n.feed_name or n.feed_url, n.feed_url, detail))
    more = len(notices) - DIGEST_LINES
    return Card(
        title=title,
        url=None,
        body=f"... and {more} more" if more > 0 else "",
        footer="rolled into one message so the channel is not flooded",
        kind="notice",
        items=tuple(items),
        ref=f"notices {min(n.notice_id for n in notices)}-{max(n.notice_id for n in notices)}",
    )


# ---- delivery ----------------------------------------------------------------------------------
async def deliver_notices(
    store: Storage, port: ChatPort, *, now: datetime, policy: AlertPolicy
) -> int:
    """Post the due notices of the channels `port` serves; returns how many notices were posted
    (a digest counts each notice it holds). A transient failure is retried with backoff; a
    channel that is gone is given up as for alerts (its watches paused)."""
    rows = notice_rows(store)
    channels: dict[str, list[Notice]] = defaultdict(list)
    for notice in await rows.due(now):
        if port.accepts(notice.channel):
            channels[notice.channel].append(notice)
    posted = 0
    for channel, notices in channels.items():
        try:
            posted += await _deliver_channel(store, rows, port, channel, notices, now, policy)
        except StoreError:
            raise
        except Exception:  # one channel's trouble must not hold up the others
            log.exception("notice delivery to a channel failed", extra={"target": channel})
    return posted


async def _deliver_channel(
    store: Storage,
    rows: NoticeRows,
    port: ChatPort,
    channel: str,
    notices: list[Notice],
    now: datetime,
    policy: AlertPolicy,
) -> int:
    # Messages: sends interrupted earlier go again under their key, with the same members.
    claimed: dict[str, list[Notice]] = defaultdict(list)
    for n in notices:
        if n.send_key:
            claimed[n.send_key].append(n)
    messages = list(claimed.items())
    fresh = [n for n in notices if not n.send_key]
    if len(fresh) > policy.digest_after:  # keys stay short: a Discord nonce takes 25 characters
        messages.append((f"n{fresh[0].notice_id}n{len(fresh)}", fresh))
    else:
        messages.extend((f"n{n.notice_id}", [n]) for n in fresh)
    posted = 0
    for key, members in messages:
        ids = [n.notice_id for n in members]
        await rows.claim(ids, key)
        digest = len(members) > 1 or key.count("n") > 1
        card = digest_card(members) if digest else notice_card(members[0])
        try:
            await port.send(channel, card, key=key, retry=key in claimed)
        except DeliveryError as exc:
            if exc.channel_gone:
                await rows.give_up_channel(channel, exc.reason)
                await give_up_channel(store, channel, exc.reason, now=now)
                return posted
            await _failed(rows, members, exc, now, policy)
            if exc.permanent:
                continue
            return posted  # the chat is down: the rest wait for the retry
        except StoreError:
            raise
        except Exception as exc:  # a chat adapter's bug or outage: retry later
            log.exception("chat failed to post a notice", extra={"target": channel})
            await _failed(rows, members, DeliveryError(type(exc).__name__), now, policy)
            return posted
        await rows.delivered(ids, now)
        posted += len(members)
    return posted


async def _failed(
    rows: NoticeRows, members: list[Notice], exc: DeliveryError, now: datetime, policy: AlertPolicy
) -> None:
    attempts, when = next_try(max(n.attempts for n in members), exc, now, policy)
    await rows.failed(
        [n.notice_id for n in members],
        attempts=attempts,
        retry_at=when,
        error=exc.reason,
        permanent=exc.permanent,
    )
    log.warning(
        "notice delivery failed%s: %s",
        "" if exc.permanent else ", will retry",
        exc.reason,
        extra={"target": members[0].channel},
    )
