"""Logging to stderr: one line per event, with the structured fields passed as `extra=`."""

from __future__ import annotations

import logging
import sys
import time

# Fields our modules pass in `extra=`; shown after the message when present.
FIELDS = ("feed_url", "article_id", "story_id", "target", "path")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{k}={getattr(record, k)}" for k in FIELDS if hasattr(record, k)]
        return f"{line} [{' '.join(extras)}]" if extras else line


def configure(level: str = "INFO") -> None:
    """Route the root logger to stderr at `level`; quiet the chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = _Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
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
