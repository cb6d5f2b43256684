"""The ChatPort of Discord: posts and edits alert embeds in `discord:<guild>:<channel>` channels.
Side effects: REST calls to Discord through discord.py (its rate limiter honours 429s; nothing
here retries on top of it: the outbox retries later, with backoff).

Every call waits for the process-wide `RateLimiter` first (WIREWATCH_DISCORD_MAX_RPS), and
none is made while the `InvalidRequestGuard` counts too many 401/403/429 answers in the last
10 minutes (WIREWATCH_DISCORD_INVALID_PAUSE): `send` and `edit` then fail at once with a
retryable DeliveryError, so the outbox keeps the alerts until the pause ends.

Exactly once, as far as Discord allows: every post carries the outbox's key as the message
`nonce` with `enforce_nonce`, so Discord itself drops a repeat of the same post within its
nonce window (a few minutes). A post the process made but could not mark before it stopped is
past that window at the next start; the outbox then says `retry=True`, and the channel's recent
messages are read for one of ours carrying the card's ref ("alert 12") before posting again.
"""

from __future__ import annotations

import logging

import discord

from bot.adapters.discord.embeds import card_embed, ref_of
from bot.adapters.discord.ratelimit import InvalidRequestGuard, RateLimiter
from bot.core.ports import Card, DeliveryError

log = logging.getLogger(__name__)

PREFIX = "discord:"
HISTORY_LIMIT = 100  # messages read back when reconciling a post that may have gone out
# Discord error codes that mean the channel is gone or closed to the bot.
CHANNEL_GONE_CODES = frozenset({10003, 50001, 50013})  # unknown channel, missing access/permissions
UNKNOWN_MESSAGE = 10008
MAX_RPS = 40  # REST calls a second for all deliveries, below Discord's global 50
INVALID_PAUSE = 1000  # invalid answers in 10 minutes that pause delivery (Discord bans at 10,000)
PAUSED = "paused: too many invalid requests to Discord"


def parse_channel(channel: str) -> tuple[int, int]:
    """ "discord:<guild>:<channel>" -> (guild_id, channel_id); ValueError otherwise."""
    prefix, guild, ident = channel.split(":")
    if prefix != "discord" or not guild.isdigit() or not ident.isdigit():
        raise ValueError(f"not a Discord channel: {channel!r}")
    return int(guild), int(ident)


def channel_name(guild_id: int, channel_id: int) -> str:
    return f"{PREFIX}{guild_id}:{channel_id}"


def workspace_name(guild_id: int) -> str:
    return f"{PREFIX}{guild_id}"


class DiscordChat:
    """Delivers cards to Discord channels through a logged-in client."""

    def __init__(
        self,
        client: discord.Client,
        *,
        limiter: RateLimiter | None = None,
        guard: InvalidRequestGuard | None = None,
    ) -> None:
        self.client = client
        self.limiter = limiter or RateLimiter(MAX_RPS)
        self.guard = guard or InvalidRequestGuard(INVALID_PAUSE)

    def accepts(self, channel: str) -> bool:
        return channel.startswith(PREFIX) and channel.count(":") == 2

    def _target(self, channel: str) -> discord.PartialMessageable:
        guild_id, channel_id = parse_channel(channel)
        return self.client.get_partial_messageable(channel_id, guild_id=guild_id)

    async def send(self, channel: str, card: Card, *, key: str, retry: bool = False) -> str | None:
        target = self._target(channel)
        try:
            embed = card_embed(card)
            if retry and card.ref and (found := await self._posted(target, card.ref)):
                log.info(
                    "%s was posted before a restart; not posting it again",
                    card.ref,
                    extra={"target": channel},
                )
                if [e.to_dict() for e in found.embeds] != [embed.to_dict()]:
                    await self._call()
                    await found.edit(embed=embed)  # the alert changed since (another source)
                return str(found.id)
            await self._call()
            message = await target.send(embed=embed, nonce=key)
        except discord.HTTPException as exc:
            raise self._failed(exc) from exc
        return str(message.id)

    async def edit(self, channel: str, message_ref: str, card: Card) -> None:
        target = self._target(channel)
        try:
            await self._call()
            await target.get_partial_message(int(message_ref)).edit(embed=card_embed(card))
        except discord.HTTPException as exc:
            raise self._failed(exc) from exc

    async def _call(self) -> None:
        """Before each REST call: refuse while paused (the outbox retries when the pause
        ends, not counting the try), else wait for the rate cap."""
        if self.guard.paused:
            raise DeliveryError(PAUSED, retry_after_s=self.guard.resume_in())
        await self.limiter.acquire()
        if self.guard.paused:  # a call that waited behind others that paused delivery
            raise DeliveryError(PAUSED, retry_after_s=self.guard.resume_in())

    def _failed(self, exc: discord.HTTPException) -> DeliveryError:
        if not self.guard.traced:  # else the client's trace has counted it
            self.guard.record(exc.status)
        return _delivery_error(exc)

    async def _posted(self, target: discord.PartialMessageable, ref: str) -> discord.Message | None:
        """Our own recent message carrying `ref`, if any."""
        me = self.client.user
        await self._call()  # one page: HISTORY_LIMIT is within what one request returns
        async for message in target.history(limit=HISTORY_LIMIT):
            if me is not None and message.author.id == me.id and ref_of(message.embeds) == ref:
                return message
        return None


def _delivery_error(exc: discord.HTTPException) -> DeliveryError:
    """A failed REST call as the outbox understands it."""
    reason = f"Discord {exc.status}: {exc.text or type(exc).__name__}"
    if exc.code in CHANNEL_GONE_CODES or (
        isinstance(exc, discord.Forbidden | discord.NotFound) and exc.code != UNKNOWN_MESSAGE
    ):
        return DeliveryError(reason, channel_gone=True)
    if exc.code == UNKNOWN_MESSAGE:
        return DeliveryError(reason, permanent=True)  # the message was deleted: stop editing it
    # 400: the message itself was refused (a bug of ours); 5xx and others: try again later
    return DeliveryError(reason, permanent=exc.status == 400)
