"""Stage: feeds failing without a break (feeds.failing_since) -> notices to the channels that
follow them -> a chat. Side effects: reads feeds, subscriptions and watches; writes
`feed_notice_state` and `feed_notices`; posts through a ChatPort.

A feed that has failed for longer than a grace period gets one notice in each channel that
follows it, naming the reason, and one more there when it works again; never one per failed
poll: `feed_notice_state` remembers, per workspace and feed, that the workspace was told.
Notices have their own outbox and go out as alerts do: recorded before they are posted, marked
after, under the same key `n<notice_id>` on every try. More than `AlertPolicy.digest_after`
notices due in one channel at once (every feed fails when the bot's own network is down) go
out as one message that lists them.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.alerts import AlertPolicy, give_up_channel, retry_at
from bot.ports import Card, ChatPort, DeliveryError
from index.errors import StoreError
from index.store import Store, where
from index.timeutil import from_iso, to_iso

log = logging.getLogger(__name__)

NoticeKind = Literal["feed_failing", "feed_recovered"]
CONSOLE = "console"
REASON_CHARS = 80
DIGEST_LINES = 15

# The stored error (index/feeds.py, index/parse.py, index/ingest.py) -> a short phrase.
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
async def check_feed_health(store: Store, *, now: datetime, grace: timedelta) -> int:
    """Record the notices due after a poll: a feed failing since `grace` ago or longer, that a
    workspace following it has not been told of, gives one notice per channel of that
    subscription; a feed the workspace was told of that works again gives one notice to the
    same channels. Returns how many notices were recorded."""
    recorded = await _recoveries(store, now)
    rows = await store.fetch_all(
        "SELECT s.workspace_id, w.name AS workspace, s.feed_id, s.channel, "
        "coalesce(s.name, f.title) AS name, f.url, f.failing_since, f.last_error, "
        "f.error_count, f.enabled FROM subscriptions s "
        "JOIN feeds f ON f.feed_id = s.feed_id "
        "JOIN workspaces w ON w.workspace_id = s.workspace_id "
        "WHERE f.kind = 'http' AND f.failing_since IS NOT NULL AND f.failing_since <= ? "
        "AND NOT EXISTS (SELECT 1 FROM feed_notice_state n "
        "  WHERE n.workspace_id = s.workspace_id AND n.feed_id = s.feed_id) "
        "ORDER BY s.workspace_id, s.feed_id",
        (to_iso(now - grace),),
    )
    for r in rows:
        since = from_iso(r["failing_since"]) or now
        reason = classify_error(r["last_error"])
        name = r["name"] or r["url"]
        channels = await _channels(store, r["workspace_id"], r["workspace"], r["channel"])
        title, body = failing_text(
            name, reason, now - since, disabled_after=None if r["enabled"] else r["error_count"]
        )
        async with store.transaction():
            cursor = await store.db.execute(
                "INSERT OR IGNORE INTO feed_notice_state VALUES (?, ?, 'failing', ?, ?, ?, ?)",
                (
                    r["workspace_id"],
                    r["feed_id"],
                    r["failing_since"],
                    reason,
                    json.dumps(channels),
                    to_iso(now),
                ),
            )
            if cursor.rowcount == 0:  # another check got there first
                continue
            for channel in channels:
                await _add_notice(store, r, channel, "feed_failing", reason, title, body, now)
        recorded += len(channels)
        log.info(
            "feed failing since %s (%s): %d channels told",
            r["failing_since"],
            reason,
            len(channels),
            extra={"feed_url": r["url"]},
        )
    return recorded


async def _recoveries(store: Store, now: datetime) -> int:
    """Notices for the feeds that work again; the state of a subscription that was removed
    meanwhile goes without one."""
    rows = await store.fetch_all(
        "SELECT n.workspace_id, n.feed_id, n.failing_since, n.reason, n.channels, f.url, "
        "coalesce(s.name, f.title) AS name, s.feed_id IS NOT NULL AS subscribed "
        "FROM feed_notice_state n JOIN feeds f ON f.feed_id = n.feed_id "
        "LEFT JOIN subscriptions s ON s.workspace_id = n.workspace_id AND s.feed_id = n.feed_id "
        "WHERE s.feed_id IS NULL OR f.failing_since IS NULL OR f.failing_since != n.failing_since "
        "ORDER BY n.workspace_id, n.feed_id"
    )
    recorded = 0
    for r in rows:
        channels: list[str] = json.loads(r["channels"]) if r["subscribed"] else []
        since = from_iso(r["failing_since"]) or now
        title, body = recovered_text(r["name"] or r["url"], r["reason"], now - since)
        async with store.transaction():
            cursor = await store.db.execute(
                "DELETE FROM feed_notice_state WHERE workspace_id = ? AND feed_id = ?",
                (r["workspace_id"], r["feed_id"]),
            )
            if cursor.rowcount == 0:
                continue
            for channel in channels:
                await _add_notice(
                    store, r, channel, "feed_recovered", r["reason"], title, body, now
                )
        recorded += len(channels)
        if channels:
            log.info(
                "feed works again: %d channels told", len(channels), extra={"feed_url": r["url"]}
            )
    return recorded


async def _channels(
    store: Store, workspace_id: int, workspace: str, channel: str | None
) -> list[str]:
    """Where a subscription's notices go: the channel it was added in; else every channel of
    the workspace with a watch that is not paused; else, for the console, the console."""
    if channel:
        return [channel]
    rows = await store.fetch_all(
        "SELECT DISTINCT channel FROM watches WHERE workspace_id = ? AND paused_reason IS NULL "
        "ORDER BY channel",
        (workspace_id,),
    )
    if rows:
        return [str(r[0]) for r in rows]
    return [CONSOLE] if workspace == CONSOLE else []


async def _add_notice(
    store: Store,
    r: Any,
    channel: str,
    kind: NoticeKind,
    reason: str,
    title: str,
    body: str,
    now: datetime,
) -> None:
    """Insert one notice of the feed of row `r` (inside the caller's transaction)."""
    await store.db.execute(
        "INSERT INTO feed_notices (workspace_id, channel, feed_id, kind, feed_url, feed_name, "
        "reason, failing_since, title, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            r["workspace_id"],
            channel,
            r["feed_id"],
            kind,
            r["url"],
            r["name"],
            reason,
            r["failing_since"],
            title,
            body,
            to_iso(now),
        ),
    )


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
@dataclass(frozen=True, slots=True)
class Notice:
    """One feed notice, as stored."""

    notice_id: int
    workspace_id: int
    channel: str
    feed_id: int
    kind: NoticeKind
    feed_url: str
    feed_name: str | None
    reason: str
    failing_since: datetime
    title: str
    body: str
    created_at: datetime
    delivered_at: datetime | None
    send_key: str | None
    attempts: int
    next_attempt_at: datetime | None
    failed: bool
    last_error: str | None

    @property
    def card(self) -> Card:
        fields = [
            ("Feed", self.feed_name or self.feed_url),
            ("Reason", self.reason),
            ("Failing since", _when(to_iso(self.failing_since))),
        ]
        if self.kind == "feed_recovered":
            fields.append(("Working again since", _when(to_iso(self.created_at))))
        return Card(
            title=self.title,
            url=self.feed_url,
            body=self.body,
            fields=tuple(fields),
            kind="notice",
            ref=f"notice {self.notice_id}",
        )


def _row_to_notice(r: Any) -> Notice:
    return Notice(
        notice_id=r["notice_id"],
        workspace_id=r["workspace_id"],
        channel=r["channel"],
        feed_id=r["feed_id"],
        kind=r["kind"],
        feed_url=r["feed_url"],
        feed_name=r["feed_name"],
        reason=r["reason"],
        failing_since=from_iso(r["failing_since"]) or datetime.min,
        title=r["title"],
        body=r["body"],
        created_at=from_iso(r["created_at"]) or datetime.min,
        delivered_at=from_iso(r["delivered_at"]),
        send_key=r["send_key"],
        attempts=r["attempts"],
        next_attempt_at=from_iso(r["next_attempt_at"]),
        failed=bool(r["failed"]),
        last_error=r["last_error"],
    )


async def list_notices(
    store: Store,
    *,
    workspace_id: int | None = None,
    channel: str | None = None,
    pending_only: bool = False,
    limit: int = 50,
) -> list[Notice]:
    """Feed notices, newest first."""
    pending = ("delivered_at IS NULL AND failed = 0",) if pending_only else ()
    condition, params = where({"workspace_id": workspace_id, "channel": channel}, *pending)
    rows = await store.fetch_all(
        f"SELECT * FROM feed_notices WHERE {condition} ORDER BY notice_id DESC LIMIT ?",
        [*params, limit],
    )
    return [_row_to_notice(r) for r in rows]


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
    store: Store, port: ChatPort, *, now: datetime, policy: AlertPolicy
) -> int:
    """Post the due notices of the channels `port` serves; returns how many notices were posted
    (a digest counts each notice it holds). A transient failure is retried with backoff; a
    channel that is gone is given up as for alerts (its watches paused)."""
    rows = await store.fetch_all(
        "SELECT * FROM feed_notices WHERE delivered_at IS NULL AND failed = 0 "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY notice_id",
        (to_iso(now),),
    )
    channels: dict[str, list[Notice]] = defaultdict(list)
    for r in rows:
        if port.accepts(r["channel"]):
            channels[r["channel"]].append(_row_to_notice(r))
    posted = 0
    for channel, notices in channels.items():
        try:
            posted += await _deliver_channel(store, port, channel, notices, now, policy)
        except StoreError:
            raise
        except Exception:  # one channel's trouble must not hold up the others
            log.exception("notice delivery to a channel failed", extra={"target": channel})
    return posted


async def _deliver_channel(
    store: Store,
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
        await _update(store, ids, "send_key = ?", (key,))
        digest = len(members) > 1 or key.count("n") > 1
        card = digest_card(members) if digest else members[0].card
        try:
            await port.send(channel, card, key=key, retry=key in claimed)
        except DeliveryError as exc:
            if exc.channel_gone:
                await _update(
                    store,
                    None,
                    "failed = 1, attempts = attempts + 1, last_error = ?, next_attempt_at = NULL",
                    (exc.reason,),
                    channel=channel,
                )
                await give_up_channel(store, channel, exc.reason, now=now)
                return posted
            await _failed(store, members, exc, now, policy)
            if exc.permanent:
                continue
            return posted  # the chat is down: the rest wait for the retry
        except StoreError:
            raise
        except Exception as exc:  # a chat adapter's bug or outage: retry later
            log.exception("chat failed to post a notice", extra={"target": channel})
            await _failed(store, members, DeliveryError(type(exc).__name__), now, policy)
            return posted
        await _update(
            store,
            ids,
            "delivered_at = ?, send_key = NULL, next_attempt_at = NULL, last_error = NULL",
            (to_iso(now),),
        )
        posted += len(members)
    return posted


async def _failed(
    store: Store, members: list[Notice], exc: DeliveryError, now: datetime, policy: AlertPolicy
) -> None:
    attempts = max(n.attempts for n in members) + 1
    retry = to_iso(retry_at(now, attempts, policy))
    await _update(
        store,
        [n.notice_id for n in members],
        "attempts = ?, next_attempt_at = ?, last_error = ?, failed = ?",
        (attempts, retry, exc.reason, int(exc.permanent)),
    )
    log.warning(
        "notice delivery failed%s: %s",
        "" if exc.permanent else ", will retry",
        exc.reason,
        extra={"target": members[0].channel},
    )


async def _update(
    store: Store,
    notice_ids: list[int] | None,
    assignments: str,
    values: tuple[Any, ...],
    *,
    channel: str | None = None,
) -> None:
    """SET `assignments` on these notices, or on every pending notice of `channel`."""
    async with store.transaction():
        if notice_ids is not None:
            await store.db.executemany(
                f"UPDATE feed_notices SET {assignments} WHERE notice_id = ?",
                [(*values, notice_id) for notice_id in notice_ids],
            )
        else:
            await store.db.execute(
                f"UPDATE feed_notices SET {assignments} "
                "WHERE channel = ? AND delivered_at IS NULL AND failed = 0",
                (*values, channel),
            )
