"""`wirewatch extract`: event metadata of texts that are not stored (one, or a JSON Lines
batch), with the same Extractor the ingest pipeline uses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.settings import Settings
from index.extract.extractor import ExtractInput, Extractor

BATCH = 64


def parse_published(value: str | None) -> datetime:
    """An ISO date or date-time (naive = UTC); now when absent."""
    if value is None or not str(value).strip():
        return datetime.now(UTC)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"published date {value!r} is not an ISO date such as "
            "2024-03-01 or 2024-03-01T09:30:00Z"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def split_title(text: str) -> tuple[str, str]:
    """The first non-empty line is the title; the rest is the body."""
    lines = text.strip().splitlines()
    if not lines:
        return "", ""
    return lines[0].strip(), "\n".join(lines[1:]).strip()


def parse_batch(lines: Sequence[str]) -> list[tuple[Any, ExtractInput]]:
    """JSON Lines of {"id", "text", "published"} -> (id, input); a bad line raises ValueError
    naming its number."""
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError('expected an object with a "text" string')
            # JSON may carry lone surrogates; they cannot be encoded, so replace them
            text = record["text"].encode("utf-8", "replace").decode("utf-8")
            title, body = split_title(text)
            published = record.get("published")
            when = parse_published(published) if published else None  # unknown: say so
            items.append((record.get("id"), ExtractInput(title, body, when)))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from exc
    return items


async def _load(settings: Settings) -> Extractor:
    from bot.app import embedder_for

    embedder = await asyncio.to_thread(embedder_for, settings)
    return await asyncio.to_thread(
        Extractor.load,
        embedder,
        settings.cache_path / "gazetteer",
        settings.actor_files,
        settings.place_files,
    )


async def extract_one(settings: Settings, text: str, published: datetime) -> dict[str, Any]:
    extractor = await _load(settings)
    title, body = split_title(text)
    record = await asyncio.to_thread(extractor.extract, title, body, published)
    return record.to_doc()


async def extract_batch(
    settings: Settings, items: list[tuple[Any, ExtractInput]]
) -> list[dict[str, Any]]:
    """Extract every item, in order, loading the model once."""
    extractor = await _load(settings)
    docs: list[dict[str, Any]] = []
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        records = await asyncio.to_thread(extractor.extract_many, [x for _, x in chunk])
        docs.extend(
            {"id": item_id, **record.to_doc()}
            for (item_id, _), record in zip(chunk, records, strict=True)
        )
    return docs
