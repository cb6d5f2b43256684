"""Stage: the outbox of alerts -> a chat. Side effects: reads and writes `alerts` and
`deliveries` (through bot/store/alertrows.py); pauses the watches of a channel that is gone; posts
through a ChatPort.

An alert is recorded (committed, bot/core/alerts.py) before anything is posted, and marked delivered
only after the chat took it, with the same idempotency key on every retry, so a crash or an
outage neither loses nor repeats one. An alert updated since it was posted (a new source) has
its message edited, not sent again. A channel gets at most `AlertPolicy.rate_per_hour` messages
an hour, and one digest when more than `digest_after` alerts are due at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core import watches as watch_table
from bot.core.alerts import alert_rows, load_views
from bot.core.cards import AlertView, alert_card, digest_card
from bot.core.ports import ChatPort, DeliveryError
from bot.store.alertrows import AlertRows
from index.backoff import backoff
from index.errors import StoreError
from index.extract.places import Gazetteer
from index.store.interfaces import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """How alerts reach a channel without flooding it."""

    digest_after: int = 5  # more new alerts than this for a channel at once: one digest
    rate_per_hour: int = 30  # messages (posts and edits) per channel per hour
    retry_base_s: float = 30.0
    retry_max_s: float = 3600.0


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0  # messages posted (a digest counts once)
    alerts: int = 0  # alerts delivered (inside digests too)
    edited: int = 0
    digests: int = 0
    failed: int = 0  # attempts that failed (retried later, or given up when permanent)
    deferred: int = 0  # alerts held back by the rate limit


def retry_at(now: datetime, attempts: int, policy: AlertPolicy) -> datetime:
    """When a message that failed `attempts` times in a row is tried again."""
    return now + timedelta(seconds=backoff(attempts, policy.retry_base_s, policy.retry_max_s))


def next_try(
    attempts: int, exc: DeliveryError, now: datetime, policy: AlertPolicy
) -> tuple[int, datetime]:
    """(attempts, when to try again) after a message that had failed `attempts` times failed
    with `exc`. A chat holding deliveries back (`retry_after_s`) is not the message's failure:
    the try is not counted, and the retry comes when the chat said."""
    if exc.retry_after_s is not None:
        return attempts, now + timedelta(seconds=exc.retry_after_s)
    return attempts + 1, retry_at(now, attempts + 1, policy)


async def deliver(
    store: Storage,
    port: ChatPort,
    *,
    policy: AlertPolicy,
    now: datetime,
    gazetteer: Gazetteer | None = None,
) -> DeliveryReport:
    """Post what the outbox holds for the channels `port` serves. One channel's failure stays
    with that channel."""
    report = DeliveryReport()
    rows = alert_rows(store)
    # A message interrupted earlier goes again whole: its members ride with any one due.
    channels: dict[str, list[int]] = defaultdict(list)
    for alert_id, channel in await rows.due(now):
        if port.accepts(channel):
            channels[channel].append(alert_id)
    for channel, ids in channels.items():
        try:
            views = await load_views(store, ids, gazetteer)
            await _deliver_channel(store, rows, port, channel, views, policy, now, report)
        except DeliveryError as exc:
            if exc.channel_gone:
                await give_up_channel(store, channel, exc.reason, now=now)
                continue
            log.warning(
                "delivery failed%s: %s",
                "" if exc.permanent else ", will retry",
                exc.reason,
                extra={"target": channel},
            )
        except StoreError:
            raise
        except Exception:  # one channel's broken alert must not hold up the others
            log.exception("delivery to a channel failed", extra={"target": channel})
    return report


async def _deliver_channel(
    store: Storage,
    rows: AlertRows,
    port: ChatPort,
    channel: str,
    views: list[AlertView],
    policy: AlertPolicy,
    now: datetime,
    report: DeliveryReport,
) -> None:
    budget = policy.rate_per_hour - await rows.sent_since(channel, now - timedelta(hours=1))
    fresh = [v for v in views if v.delivered_version == 0]
    updates = [v for v in views if v.delivered_version > 0]
    # Messages: sends interrupted earlier go again under their key, with the same members.
    messages: list[tuple[str, list[AlertView]]] = []
    claimed: dict[str, list[AlertView]] = defaultdict(list)
    for v in fresh:
        if v.send_key:
            claimed[v.send_key].append(v)
    messages.extend(claimed.items())
    rest = [v for v in fresh if not v.send_key]
    if rest:  # keys stay short: Discord takes a nonce of 25 characters at most
        if len(rest) > min(policy.digest_after, max(budget - len(messages), 1)):
            messages.append((f"d{rest[0].alert_id}n{len(rest)}", rest))
        else:
            messages.extend((f"a{v.alert_id}", [v]) for v in rest)
    for key, members in messages:
        if budget <= 0:
            report.deferred += len(members)
            log.info("rate limit reached: %d alerts wait", len(members), extra={"target": channel})
            break
        # the key is written before posting: a crash after the post retries with the same key
        if not await rows.claim([v.alert_id for v in members], key):
            log.info(
                "%d alerts are another sender's now; not posted here",
                len(members),
                extra={"target": channel, "alert_ids": [v.alert_id for v in members]},
            )
            continue
        digest = len(members) > 1 or key.startswith("d")
        card = digest_card(members) if digest else alert_card(members[0])
        try:
            ref = await port.send(channel, card, key=key, retry=key in claimed)
        except DeliveryError as exc:
            await _failed(rows, members, exc, now, policy)
            report.failed += 1
            raise
        except Exception as exc:  # a chat adapter's bug or outage: retry later
            log.exception("chat failed to post", extra={"target": channel})
            await _failed(rows, members, DeliveryError(type(exc).__name__), now, policy)
            report.failed += 1
            return
        await _delivered(rows, channel, members, ref, digest, now)
        log.info(
            "%s delivered",
            "digest" if digest else "alert",
            extra={"alert_ids": [v.alert_id for v in members], "target": channel},
        )
        budget -= 1
        report.sent += 1
        report.alerts += len(members)
        report.digests += digest
    edits: dict[str, list[AlertView]] = defaultdict(list)  # message -> its updated alerts
    for v in updates:
        if v.message_ref:
            edits[v.message_ref].append(v)
        else:  # nothing to edit (the chat gave no id): the record is updated, no post
            await _delivered(rows, channel, [v], None, v.digest, now, count=False)
    for ref, changed in edits.items():
        if budget <= 0:
            report.deferred += len(changed)
            continue
        digest = any(v.digest for v in changed)
        if digest:  # the digest is drawn again with every alert it holds
            card = digest_card(await load_views(store, await rows.of_message(ref, channel=channel)))
        else:
            card = alert_card(changed[0], update=True)
        try:
            await port.edit(channel, ref, card)
        except DeliveryError as exc:
            if exc.channel_gone:  # the whole channel: `deliver` gives it up
                report.failed += 1
                raise
            if exc.permanent:  # the message is gone: keep the record, stop editing it
                await _delivered(rows, channel, changed, None, digest, now, count=False)
                continue
            await _failed(rows, changed, exc, now, policy)
            report.failed += 1
            raise
        except Exception as exc:
            log.exception("chat failed to edit", extra={"target": channel})
            await _failed(rows, changed, DeliveryError(type(exc).__name__), now, policy)
            report.failed += 1
            return
        await _delivered(rows, channel, changed, ref, digest, now)
        budget -= 1
        report.edited += 1


async def give_up_channel(store: Storage, channel: str, reason: str, *, now: datetime) -> int:
    """The chat says `channel` is gone or closed to the bot: pause its watches and give up its
    pending alerts (failed, with the reason), so nothing is matched or retried for it until
    someone unmutes a watch there. Returns how many watches were paused."""
    paused = await watch_table.pause_channel(store, channel, reason, now)
    given_up = await alert_rows(store).give_up_channel(channel, reason)
    log.warning(
        "channel %s refuses the bot (%s): %d watches paused, %d pending alerts given up",
        channel,
        reason,
        paused,
        given_up,
        extra={"target": channel},
    )
    return paused


async def _delivered(
    rows: AlertRows,
    channel: str,
    members: list[AlertView],
    ref: str | None,
    digest: bool,
    now: datetime,
    *,
    count: bool = True,
) -> None:
    versions = {v.alert_id: v.version for v in members}
    await rows.delivered(channel, versions, message_ref=ref, digest=digest, now=now, count=count)


async def _failed(
    rows: AlertRows,
    members: list[AlertView],
    exc: DeliveryError,
    now: datetime,
    policy: AlertPolicy,
) -> None:
    attempts, when = next_try(max(v.attempts for v in members), exc, now, policy)
    await rows.failed(
        [v.alert_id for v in members],
        attempts=attempts,
        retry_at=when,  # one time for the whole message
        error=exc.reason,
        permanent=exc.permanent,
    )
