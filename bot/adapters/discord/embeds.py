"""Cards and command results -> Discord embeds, every text cut to Discord's limits.
Side effects: none.

Discord refuses (HTTP 400) an embed with a title over 256 characters, a description over 4,096,
more than 25 fields, a field name over 256 or value over 1,024, a footer over 2,048, or more than
6,000 characters in all. Everything here is cut with an ellipsis before it gets there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import discord

from bot.core.ports import Card

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


# ---- command results ---------------------------------------------------------------------------
def when(iso: str | None) -> str:
    """An ISO time as Discord's own timestamp (shown in each reader's time zone)."""
    if not iso:
        return "never"
    try:
        return discord.utils.format_dt(datetime.fromisoformat(iso.replace("Z", "+00:00")), "f")
    except ValueError:
        return iso


def feed_line(f: dict[str, Any]) -> str:
    name = markdown_link(f["name"] or f["url"], f["url"], 120)
    if not f["enabled"]:
        health = f"disabled after {f['error_count']} failures: {f['last_error']}"
    elif f["error_count"]:
        health = f"{f['error_count']} failures: {f['last_error']}"
    else:
        health = f["last_status"] or "not polled yet"
    return (
        f"**#{f['feed_id']}** {name}: {f['articles']} articles, every {f['interval_s']} s, "
        f"{clip(str(health), 200)}"
    )


def watch_line(w: dict[str, Any]) -> str:
    means = f" = {w['canonical']}" if w["canonical"] and w["canonical"] != w["term"] else ""
    channel = w["channel"].rsplit(":", 1)[-1]
    line = f"**#{w['watch_id']}** {w['kind']} {clip(w['term'], 200)}{means} -> <#{channel}>"
    filters = [*w.get("event_types", [])]
    if w.get("min_killed") is not None:
        filters.append(f"killed >= {w['min_killed']}")
    if w.get("radius_km"):
        filters.append(f"within {w['radius_km']:g} km")
    if filters:
        line += f" ({', '.join(filters)})"
    if w.get("paused"):
        line += f"\n  **paused**: {clip(w['paused'], 300)} (`/watch unmute` resumes it)"
    elif w["muted_until"]:
        line += f", muted until {when(w['muted_until'])}"
    return line


def alert_line(a: dict[str, Any]) -> str:
    state = "failed" if a["failed"] else "waiting" if a["pending"] else "sent"
    terms = ", ".join(dict.fromkeys(m["term"] for m in a["matched"]))
    channel = a["channel"].rsplit(":", 1)[-1]
    return (
        f"**alert {a['alert_id']}** {markdown_link(a['title'], a['url'], 150)} "
        f"({', '.join(a['sources'][:3])}; matched {clip(terms, 100)}; <#{channel}>, "
        f"{state})"
    )


def why_embed(alerts: list[dict[str, Any]]) -> discord.Embed:
    fields = []
    for a in alerts[:5]:
        reasons = "\n".join(f"watch #{m['watch_id']} {m['term']}: {m['why']}" for m in a["matched"])
        fields.append((f"alert {a['alert_id']}: {a['title']}", reasons or "no watch recorded"))
    first = alerts[0]
    title = "Why this alert" if len(alerts) == 1 else f"Why these {len(alerts)} alerts"
    sources = ", ".join(first["sources"])
    return make_embed(
        title, url=first["url"], description=f"Sources: {sources}", fields=fields, kind="alert"
    )


def status_embed(doc: dict[str, Any]) -> discord.Embed:
    counts = (
        f"{doc['feeds']} feeds, {doc['articles']} articles in {doc['stories']} stories, "
        f"{doc['watches']} watches, {doc['alerts']} alerts ({doc['pending_alerts']} waiting). "
        f"Last poll: {when(doc['last_polled_at'])}."
    )
    fields = []
    if doc["failing_feeds"]:
        fields.append(
            (
                "Feeds in trouble",
                "\n".join(
                    f"#{f['feed_id']} {f['name']}: "
                    + ("disabled, " if not f["enabled"] else "")
                    + f"{f['error_count']} failures ({f['last_error']})"
                    for f in doc["failing_feeds"]
                ),
            )
        )
    if doc["paused_watches"]:
        fields.append(
            (
                "Paused watches (the channel refused a message; `/watch unmute` resumes)",
                "\n".join(
                    f"#{w['watch_id']} {w['term']}: {w['reason']}" for w in doc["paused_watches"]
                ),
            )
        )
    if doc["muted_watches"]:
        fields.append(
            (
                "Muted watches",
                "\n".join(
                    f"#{w['watch_id']} {w['term']} until {when(w['until'])}"
                    for w in doc["muted_watches"]
                ),
            )
        )
    return make_embed("Status", description=counts, fields=fields)
