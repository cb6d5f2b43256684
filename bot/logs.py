"""Logging to stderr: one line per event, with the structured fields passed as `extra=`.

Two formats: plain (readable: `time LEVEL logger: message [key=value ...]`) and json (one JSON
object per line: `ts`, `level`, `logger`, `msg`, the `extra=` fields, and `exc` with the
traceback). Secrets registered with `configure(secrets=...)` are replaced by `***` in the
finished line, tracebacks included, whatever library wrote it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["plain", "json"]

# Fields our modules pass in `extra=`; shown after the message when present.
FIELDS = (
    "feed_id",
    "feed_url",
    "article_id",
    "story_id",
    "alert_id",
    "alert_ids",
    "watch_id",
    "target",
    "guild_id",
    "user_id",
    "command",
    "path",
)
REDACTED = "***"
_SECRET_MIN = 6  # shorter "secrets" would blank out ordinary words


class _Redactor:
    """Replaces each registered secret, wherever it appears in a formatted line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found = {s for s in secrets if s and len(s) >= _SECRET_MIN}
        self.secrets = sorted(found, key=len, reverse=True)  # a longer one first

    def __call__(self, line: str) -> str:
        for secret in self.secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        return line


class _PlainFormatter(logging.Formatter):
    def __init__(self, redact: _Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        self.converter = time.gmtime
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{k}={getattr(record, k)}" for k in FIELDS if hasattr(record, k)]
        return self.redact(f"{line} [{' '.join(extras)}]" if extras else line)


class _JsonFormatter(logging.Formatter):
    def __init__(self, redact: _Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in FIELDS:
            if hasattr(record, key):
                doc[key] = _plain(getattr(record, key))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return self.redact(json.dumps(doc, ensure_ascii=False, default=str))


def _plain(value: object) -> object:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def make_formatter(fmt: LogFormat = "plain", secrets: Iterable[str] = ()) -> logging.Formatter:
    redact = _Redactor(secrets)
    return _JsonFormatter(redact) if fmt == "json" else _PlainFormatter(redact)


def configure(level: str = "INFO", fmt: LogFormat = "plain", secrets: Iterable[str] = ()) -> None:
    """Route the root logger to stderr at `level` in `fmt`, with `secrets` redacted; quiet the
    chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(fmt, secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in (
        "httpx",
        "httpcore",
        "sentence_transformers",
        "apscheduler.executors",
        "filelock",
        "aiosqlite",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
