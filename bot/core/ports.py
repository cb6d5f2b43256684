"""The port to a chat: all the core may ask of Discord, the console or a test's fake chat.
Side effects: none here; an implementation posts messages.

Delivery is at-least-once from the outbox's side: an alert is marked delivered only after the
chat took it, and a message is retried whole, under the same short idempotency `key`, until it
is. A chat handed a key it already posted must not post it again; that makes delivery exactly
once as far as the chat can tell (Discord: the message nonce, honoured for a few minutes; the
console and the fake chat remember the keys posted by the running process, so a console
alert may print twice if the process dies between printing and marking it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Card:
    """A chat-neutral message: what an alert or an answer shows. Each adapter draws it its own
    way (a Discord embed, console text); `markdown` is the plain rendering."""

    title: str
    url: str | None
    body: str  # a snippet or the answer text
    fields: tuple[tuple[str, str], ...] = ()  # (name, value): sources, place, actors...
    footer: str = ""  # the reason it was sent ("matched: ...")
    kind: str = "alert"  # alert, update, digest, answer
    items: tuple[tuple[str, str | None, str], ...] = ()  # digest lines: (title, url, detail)
    ref: str = ""  # what the message is, shown with it: "alert 12", "digest of alerts 12-18"

    @property
    def markdown(self) -> str:
        head = f"**[{self.title}]({self.url})**" if self.url else f"**{self.title}**"
        lines = [head]
        if self.body:
            lines.append(self.body)
        for title, url, detail in self.items:
            link = f"[{title}]({url})" if url else title
            lines.append(f"- {link} ({detail})" if detail else f"- {link}")
        lines.extend(f"**{name}:** {value}" for name, value in self.fields)
        if self.footer:
            lines.append(f"_{self.footer}_")
        return "\n".join(lines)


class DeliveryError(Exception):
    """The chat did not take a message. `permanent`: retrying this message cannot help (the
    chat refused it for good); otherwise the outbox retries with backoff. `channel_gone`
    (implies permanent): the channel was deleted or the bot may no longer post there, so
    nothing more is sent there until someone resumes its watches. `retry_after_s`: the chat
    itself is holding deliveries back for this long, through no fault of the message, so the
    try is not counted against it and the outbox retries then."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        channel_gone: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or channel_gone
        self.channel_gone = channel_gone
        self.retry_after_s = retry_after_s


class ChatPort(Protocol):
    def accepts(self, channel: str) -> bool:
        """Whether this chat delivers to `channel` (the console: "console")."""
        ...

    async def send(self, channel: str, card: Card, *, key: str, retry: bool = False) -> str | None:
        """Post `card`; return the chat's id of the message (to edit it later), if any.
        `retry`: this key may have been posted before (by a process that stopped before it
        could mark it), so look for that message before posting again."""
        ...

    async def edit(self, channel: str, message_ref: str, card: Card) -> None:
        """Replace a posted message in place."""
        ...
