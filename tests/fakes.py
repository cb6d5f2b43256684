"""Fakes of our own ports (not mocks): a chat that records what the core posts."""

from __future__ import annotations

from bot.core.ports import Card, DeliveryError


class FakeChat:
    """A ChatPort that keeps posts in lists. Like Discord's message nonce, a key posted once
    is never posted again. `outage` makes every call fail (temporarily, or for good with
    `permanent`); `crash_after_post` posts and then fails, as a process killed right after
    the chat took the message."""

    def __init__(self, channels: tuple[str, ...] | None = None) -> None:
        self.channels = channels
        self.posts: list[tuple[str, Card]] = []
        self.edits: list[tuple[str, str, Card]] = []
        self.refs: dict[str, str] = {}
        self.outage: str | None = None
        self.permanent = False
        self.crash_after_post = False

    def accepts(self, channel: str) -> bool:
        return self.channels is None or channel in self.channels

    async def send(self, channel: str, card: Card, *, key: str, retry: bool = False) -> str | None:
        if self.outage:
            raise DeliveryError(self.outage, permanent=self.permanent)
        if key not in self.refs:
            self.posts.append((channel, card))
            self.refs[key] = f"m{len(self.refs) + 1}"
        if self.crash_after_post:
            raise RuntimeError("killed after posting")
        return self.refs[key]

    async def edit(self, channel: str, message_ref: str, card: Card) -> None:
        if self.outage:
            raise DeliveryError(self.outage, permanent=self.permanent)
        self.edits.append((channel, message_ref, card))

    def drain(self) -> list[tuple[str, Card]]:
        posts, self.posts = self.posts, []
        return posts
