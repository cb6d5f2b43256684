"""Logging to stderr: one line per event, with the structured fields passed as `extra=`.

Two formats: plain (readable: `time LEVEL logger: message [key=value ...]`) and json (one JSON
object per line: `ts`, `level`, `logger`, `msg`, the `extra=` fields, and `exc` with the
traceback). Secrets registered with `configure(secrets=...)` (the Discord token, the LLM API
key, the database URL's password: `Settings.secret_values`) are replaced by `***`, tracebacks
included, whatever library wrote the line. In json the values are redacted before they are
serialised, so a secret holding `"`, `\\` or a control character cannot slip through in its
escaped form; its escaped forms are redacted too, where some text quotes it (JSON, a repr).

Every registered secret is redacted, however short: only the settings' secrets are registered,
so a short one is still a secret, not a word that happens to be common. A secret of
SUBSTRING_MIN characters or more is redacted wherever it appears, even inside a longer word; a
shorter one only as a whole token (no letter, digit or `_` just before or after it): a
4-character password `test` is blanked in `postgresql://bot:test@db/news` and in `test` alone,
never in `latest` or `testing`.
"""

from __future__ import annotations

import json
import logging
import re
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
SUBSTRING_MIN = 6  # a shorter secret is redacted only as a whole token (see the docstring)


class Redactor:
    """Replaces each registered secret, wherever it appears in a text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for s in secrets if s for form in _written_forms(s)}
        ordered = sorted(forms, key=len, reverse=True)  # a longer one first
        self.pattern = re.compile("|".join(_matcher(f) for f in ordered)) if ordered else None

    def __call__(self, text: str) -> str:
        return self.pattern.sub(REDACTED, text) if self.pattern is not None else text


def _written_forms(secret: str) -> set[str]:
    """The secret as it is, as JSON writes it inside quotes (ASCII-only or not), and as a repr
    does (an OSError's message quotes its file name so)."""
    quoted = (json.dumps(secret), json.dumps(secret, ensure_ascii=False), repr(secret))
    return {secret, *(q[1:-1] for q in quoted)}


def _matcher(form: str) -> str:
    if len(form) >= SUBSTRING_MIN:
        return re.escape(form)
    return rf"(?<!\w){re.escape(form)}(?!\w)"


class _PlainFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        self.converter = time.gmtime
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{k}={getattr(record, k)}" for k in FIELDS if hasattr(record, k)]
        return self.redact(f"{line} [{' '.join(extras)}]" if extras else line)


class _JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
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
        clean = {key: _redacted(value, self.redact) for key, value in doc.items()}
        return json.dumps(clean, ensure_ascii=False, default=str)


def _plain(value: object) -> object:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _redacted(value: object, redact: Redactor) -> object:
    """`value` (from `_plain`) with the secrets redacted; a number that shows one becomes
    the string `***`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        shown = str(value)
        return value if redact(shown) == shown else REDACTED
    return value


def make_formatter(fmt: LogFormat = "plain", secrets: Iterable[str] = ()) -> logging.Formatter:
    redact = Redactor(secrets)
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
