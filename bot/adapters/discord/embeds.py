"""Cards and command results -> Discord embeds, every text cut to Discord's limits.
Side effects: none.

Discord refuses (HTTP 400) an embed with a title over 256 characters, a description over 4,096,
more than 25 fields, a field name over 256 or value over 1,024, a footer over 2,048, or more than
6,000 characters in all. Everything here is cut with an ellipsis before it gets there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.ports import Card

TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR = 256
TOTAL = 6000
CONTENT = 2000  # a plain message
URL = 2048  # Discord rejects longer link targets
ELLIPSIS = "…"

COLOURS = {
    "alert": discord.Colour.red(),
    "update": discord.Colour.orange(),
    "digest": discord.Colour.dark_red(),
    "answer": discord.Colour.blue(),
    "notice": discord.Colour.gold(),
    "list": discord.Colour.dark_grey(),
    "error": discord.Colour.dark_red(),
}


def clip(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else cut at a word and ended with "…"."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + ELLIPSIS


def link_text(text: str) -> str:
    """Text safe inside a markdown link's brackets."""
    return " ".join(text.replace("[", "(").replace("]", ")").split()) or "link"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL Discord accepts as a link target, else None."""
    if not url or len(url) > URL or not url.startswith(("http://", "https://")):
        return None
    return url.replace(" ", "%20").replace(")", "%29")


def markdown_link(title: str, url: str | None, limit: int = 300) -> str:
    target = safe_url(url)
    text = link_text(clip(title, limit))
    return f"[{text}]({target})" if target else text


def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts toward the 6,000 of one embed."""
    return len(embed)


def fit(embed: discord.Embed) -> discord.Embed:
    """Cut fields, then the description, until the embed is within 6,000 characters."""
    while len(embed) > TOTAL and len(embed.fields) > 1:
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > TOTAL and embed.description:
        over = len(embed) - TOTAL
        embed.description = clip(embed.description, max(len(embed.description) - over - 1, 10))
    if len(embed) > TOTAL and embed.fields:
        embed.remove_field(0)
    return embed


def make_embed(
    title: str,
    *,
    url: str | None = None,
    description: str = "",
    kind: str = "list",
    fields: Sequence[tuple[str, str]] = (),
    footer: str = "",
    inline: bool = False,
) -> discord.Embed:
    embed = discord.Embed(
        title=clip(title, TITLE) or ELLIPSIS,
        url=safe_url(url),
        description=clip(description, DESCRIPTION) or None,
        colour=COLOURS.get(kind, COLOURS["list"]),
    )
    for name, value in list(fields)[:FIELDS]:
        embed.add_field(
            name=clip(name, FIELD_NAME) or "-", value=clip(value, FIELD_VALUE) or "-", inline=inline
        )
    if footer:
        embed.set_footer(text=clip(footer, FOOTER))
    return fit(embed)


def card_embed(card: Card) -> discord.Embed:
    """An alert, update, digest or notice. The footer starts with the card's ref ("alert 12"),
    which is how a restarted bot recognises a message it posted before."""
    lines = [clip(card.body, 1500)] if card.body else []
    for title, url, detail in card.items:
        item = f"• {markdown_link(title, url, 200)}"
        lines.append(f"{item} ({clip(detail, 200)})" if detail else item)
    description = "\n".join(lines)
    footer = " · ".join(part for part in (card.ref, card.footer) if part)  # the ref survives clip
    inline = card.kind in ("alert", "update")
    return make_embed(
        card.title,
        url=card.url,
        description=description,
        kind=card.kind,
        fields=[(name, value) for name, value in card.fields],
        footer=footer,
        inline=inline,
    )


def ref_of(message_embeds: Sequence[discord.Embed]) -> str:
    """The ref a card_embed put in a message's footer ("alert 12"), or ""."""
    for embed in message_embeds:
        text = embed.footer.text if embed.footer else None
        if text:
            return text.split(" · ", 1)[0]
    return ""


def answer_embed(doc: dict[str, Any]) -> discord.Embed:
    """An `ask` document: the answer with its [n] marks, then the cited articles as links."""
    sources = []
    for c in doc.get("citations", []):
        when = (c.get("published_at") or "")[:10]
        detail = ", ".join(part for part in (c.get("source"), when) if part)
        sources.append(f"[{c['n']}] {markdown_link(c['title'], c.get('url'), 150)} ({detail})")
    answer = clip(doc.get("answer", ""), 3000)
    description = answer
    if sources:
        room = DESCRIPTION - len(answer) - 2
        kept: list[str] = []
        for line in sources:
            if len(line) + 1 > room:
                break
            kept.append(line)
            room -= len(line) + 1
        description = answer + "\n\n" + "\n".join(kept)
    return make_embed(
        clip(doc.get("question", "Answer"), TITLE), description=description, kind="answer"
    )


def text_embed(title: str, text: str, *, kind: str = "list") -> discord.Embed:
    return make_embed(title, description=text, kind=kind)


def pages(title: str, lines: Sequence[str], *, per_page: int = 10) -> list[discord.Embed]:
    """A long list as embeds of at most `per_page` lines, each within the limits, with
    "page i/n" in the footer."""
    if not lines:
        return [make_embed(title, description="nothing yet")]
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, 1000)
        if current and (len(current) >= per_page or size + len(line) + 1 > DESCRIPTION - 100):
            chunks.append(current)
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    chunks.append(current)
    return [
        make_embed(title, description="\n".join(chunk), footer=f"page {n}/{len(chunks)}")
        for n, chunk in enumerate(chunks, 1)
    ]
