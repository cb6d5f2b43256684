"""The index's error tree. Each error is handled in one place (see STYLE.md §5).

NewsIndexError
 +- FeedError(url, reason)      one feed failed: logged, counted, backed off; the cycle goes on
 |   +- FeedUnavailable         network, timeout, HTTP >= 400, body too large
 |   |   +- FeedThrottled       HTTP 429/503 with the delay the server asked for
 |   +- FeedRefused             the URL is not allowed (scheme, private address, too many redirects)
 |   +- FeedMalformed           the body is not a feed and yields no entries
 +- StoreError                  the database failed: the cycle aborts, the next one retries
 +- DataFileError(source, entry, reason)   a YAML file of actors or places is invalid: startup
     +- CatalogueError (index/extract/actors.py), PlaceFileError (index/extract/places/files.py)
     fails naming it
"""

from __future__ import annotations


class NewsIndexError(Exception):
    """Base class of every error the news index raises on purpose."""


class FeedError(NewsIndexError):
    """One feed could not be fetched or read."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class FeedUnavailable(FeedError):
    """Network failure, timeout, an HTTP error status or a body over the size limit."""


class FeedThrottled(FeedUnavailable):
    """The server answered 429 or 503; `retry_after_s` is its requested delay, if it gave one."""

    def __init__(self, url: str, reason: str, retry_after_s: float | None) -> None:
        super().__init__(url, reason)
        self.retry_after_s = retry_after_s


class FeedRefused(FeedError):
    """The URL may not be fetched: not http(s), a private address, or too many redirects."""


class FeedMalformed(FeedError):
    """The body is not a feed that yields any entry."""


class StoreError(NewsIndexError):
    """The database could not complete an operation."""


class DataFileError(NewsIndexError):
    """A data file (actors, places) is unreadable or has an invalid entry."""

    def __init__(self, source: str, entry: str, reason: str) -> None:
        super().__init__(f"{source}: {entry}: {reason}")
        self.source = source
        self.entry = entry
        self.reason = reason
